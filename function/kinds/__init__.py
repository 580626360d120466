"""One package per composite kind: its model, settings, composer, readiness and Vault intents.

Adding a kind is one new folder here, whose __init__ builds a Kind
(function/kind.py), plus one line in function/catalogue.py; then examples under
examples/<kind>/ and `make generate`.
"""
