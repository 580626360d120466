"""What the front-door tests share: sample requests, the real tools, offline validation."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from function import catalogue
from function.kind import AnyKind
from harness import validate
from harness.cases import JSON, Case, find_cases, load_yaml_docs
from harness.paths import ROOT, ToolMissingError, go_tool

NODE_DIR = Path(__file__).resolve().parent


def kind_of(case: Case) -> AnyKind:
    """The catalogue entry whose examples folder the case is in."""
    for kind in catalogue.kinds():
        if kind.api.kind.lower() == case.kind:
            return kind
    raise LookupError(f"{case.id}: no kind in the catalogue")


def valid_samples() -> list[tuple[AnyKind, Case, JSON]]:
    """Every example XR a request should produce: (kind, case, xr.yaml without uid)."""
    out = []
    for case in find_cases(ROOT):
        if case.expects_error:
            continue
        xr = load_yaml_docs(case.xr)[0]
        xr["metadata"] = {k: v for k, v in xr["metadata"].items() if k in ("name", "namespace")}
        out.append((kind_of(case), case, xr))
    return out


def tool(name: str) -> Path:
    try:
        return go_tool(name)
    except ToolMissingError as e:
        pytest.fail(f"{e} (the front-door tests need `make tools`)", pytrace=False)


def run(cmd: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, input=stdin, capture_output=True, text=True, check=False, timeout=120
    )


def backstage(requests: list[tuple[JSON, Path, JSON]], hosts: list[str]) -> list[JSON]:
    """Backstage's checks of templates and their run for forms (tests/frontdoors/backstage.mjs).

    requests: (template, the template's file, form data); one node process runs them all.
    hosts: the GitHub hosts Backstage's integrations config names.
    """
    if not (NODE_DIR / "node_modules").is_dir():
        pytest.fail("tests/frontdoors/node_modules is missing: run `make node-deps`", pytrace=False)
    batch = {
        "hosts": hosts,
        "runs": [
            {"template": t, "baseUrl": path.resolve().as_uri(), "form": f}
            for t, path, f in requests
        ],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(batch, f)
        f.flush()
        p = run(["node", str(NODE_DIR / "backstage.mjs"), f.name])
    assert p.returncode == 0, p.stderr
    results: list[JSON] = json.loads(p.stdout)
    return results


def cue_export(template: str, values: str, expression: str) -> subprocess.CompletedProcess[str]:
    """`cue export -e expression` of a definition's template with values appended, as KubeVela
    compiles it (template text, then context and parameter, in one instance)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "definition.cue"
        path.write_text(template + "\n" + values + "\n")
        return run([str(tool("cue")), "export", str(path), "-e", expression, "--out", "json"])


def cue_values(context: JSON, parameter: JSON) -> str:
    """CUE for KubeVela's context and parameter (JSON is CUE)."""
    return f"context: {json.dumps(context)}\nparameter: {json.dumps(parameter)}"


def assert_valid(documents: dict[str, list[JSON]]) -> validate.Report:
    """Every document valid against the upstream CRDs and the project's XRDs, none unknown."""
    outputs = {
        source: yaml.safe_dump_all(docs, sort_keys=False) for source, docs in documents.items()
    }
    report = validate.validate_outputs(outputs, ROOT, include_project_files=False)
    assert report.ok, (
        report.summary() + "\n" + "\n".join(report.failures) + report.crossplane_output
    )
    return report


def requested(xr: JSON, produced: JSON) -> None:
    """produced is the XR asked for: same object, every requested parameter as given.

    A door may write a default the XRD would fill in anyway; it may not drop or
    change what was asked.
    """
    assert (produced["apiVersion"], produced["kind"]) == (xr["apiVersion"], xr["kind"])
    assert produced["metadata"] == xr["metadata"]
    asked, got = xr["spec"]["parameters"], produced["spec"]["parameters"]
    assert _kept(asked, got), (asked, got)


def _kept(asked: object, got: object) -> bool:
    """got holds asked: every field of an object as asked, at any depth (an object inside a
    list too, e.g. a route's match), with the defaults a door may add beside them."""
    if isinstance(asked, dict):
        return isinstance(got, dict) and all(
            k in got and _kept(v, got[k]) for k, v in asked.items()
        )
    if isinstance(asked, list):
        return (
            isinstance(got, list)
            and len(got) == len(asked)
            and all(_kept(a, g) for a, g in zip(asked, got, strict=True))
        )
    return asked == got
