"""Self-service front doors generated from the kinds' models, like the XRDs.

backstage.py writes a Software Template per kind, kubevela.py a ComponentDefinition
per kind plus a webservice component that brings its database and cache along;
`make generate` writes both (generate/output.py) and the drift test compares them.
"""
