"""The committed XRDs, input CRD and Compositions are exactly what the models generate."""

from typing import Any

import yaml

from function import catalogue, xrdgen


def test_committed_files_match_the_models() -> None:
    stale = [
        str(path.relative_to(xrdgen.ROOT))
        for path, content in xrdgen.files().items()
        if not path.exists() or path.read_text() != content
    ]
    assert stale == [], "run `make generate` and commit the result"


def test_every_rule_reaches_the_xrd() -> None:
    for entry in catalogue.kinds():
        doc: dict[str, Any] = yaml.safe_load(xrdgen.dump(xrdgen.xrd(entry.api), "test"))
        version = doc["spec"]["versions"][0]
        params = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
            "parameters"
        ]
        cel = [v["rule"] for v in params.get("x-kubernetes-validations", [])]
        assert cel == [r.cel for r in entry.api.parameters.rules]
        assert doc["spec"]["scope"] == entry.api.scope
        assert doc["apiVersion"] == "apiextensions.crossplane.io/v2"
