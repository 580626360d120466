"""The committed XRDs, input CRD, Compositions and reference docs are what the models generate."""

import subprocess
import sys
from typing import Any

import pytest
import yaml

from function import catalogue
from generate import ROOT, crossplane, docs, output


def test_committed_files_match_the_models() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, content in output.files().items()
        if not path.exists() or path.read_text() != content
    ]
    assert stale == [], "run `make generate` and commit the result"


def test_every_rule_reaches_the_xrd() -> None:
    for entry in catalogue.kinds():
        doc: dict[str, Any] = yaml.safe_load(output.dump(crossplane.xrd(entry.api), "test"))
        version = doc["spec"]["versions"][0]
        params = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
            "parameters"
        ]
        cel = [v["rule"] for v in params.get("x-kubernetes-validations", [])]
        parameters = entry.api.parameters
        assert cel == [r.cel for r in (*parameters.rules, *parameters.transitions)]
        assert doc["spec"]["scope"] == entry.api.scope
        assert doc["apiVersion"] == "apiextensions.crossplane.io/v2"


def test_the_function_never_imports_the_generators() -> None:
    """Serving needs neither generate/ nor PyYAML: the image has neither."""
    code = (
        "import importlib, pkgutil, sys, function\n"
        "for m in pkgutil.walk_packages(function.__path__, 'function.'):\n"
        "    if not m.name.endswith('.__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('generate', 'yaml')))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert run.stdout.strip() == "[]"


def test_each_kind_page_holds_its_generated_reference() -> None:
    files = output.files()
    for entry in catalogue.kinds():
        page = files[ROOT / "docs" / "kinds" / f"{entry.api.kind.lower()}.md"]
        reference = docs.kind_reference(entry)
        assert page.count(docs.BEGIN) == 1
        assert reference in page
        for name, field in entry.api.parameters.model_fields.items():
            assert f"| `{field.alias or name}` |" in reference


def test_a_stale_reference_is_replaced_and_the_prose_kept() -> None:
    entry = catalogue.kinds()[0]
    fresh = docs.kind_page(entry, "# Title\n\nProse.\n")
    assert fresh.startswith("# Title\n\nProse.\n\n" + docs.BEGIN)
    stale = fresh.replace("| `environment` |", "| `environmentName` |")
    assert stale != fresh
    assert docs.kind_page(entry, stale) == fresh
    assert docs.kind_page(entry, fresh + "\nAfter.\n") == fresh + "\nAfter.\n"
    assert docs.kind_page(entry, None).startswith(f"# {entry.api.kind}\n\n{docs.BEGIN}")
    with pytest.raises(ValueError, match="no '<!-- END"):
        docs.kind_page(entry, fresh.replace(docs.END, ""))
