"""examples/gitops: every overlay builds with the real kustomize, and every XR it yields
renders through the real `crossplane composition render` and validates."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from function import catalogue
from function.catalogue import lookup
from harness import render
from harness.cases import JSON, Case
from harness.paths import ROOT, Tools
from harness.server import FunctionServer
from harness.validate import deep_merge
from tests.frontdoors.doors import assert_valid, run, tool

GITOPS = ROOT / "examples" / "gitops"
ENVIRONMENTS = ("dev", "staging", "production")
# The platform's tenancy for the team owning the three environments' namespaces
# (docs/tenancy.md): the hosts its overlays name, and its Argo CD project.
TENANCY: JSON = {
    "tenancy": {
        "tenants": [
            {
                "namespaces": list(ENVIRONMENTS),
                "hosts": [
                    "user-service.apps.example.org",
                    "user-service-dev.apps.example.org",
                    "user-service-staging.apps.example.org",
                ],
                "argocdProject": "user-service",
            }
        ]
    }
}


def build(environment: str) -> list[JSON]:
    p = run([str(tool("kustomize")), "build", str(GITOPS / "overlays" / environment)])
    assert p.returncode == 0, p.stderr
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def test_overlays_are_the_environments() -> None:
    assert sorted(p.name for p in (GITOPS / "overlays").iterdir()) == sorted(ENVIRONMENTS)


def test_the_overlays_request_every_kind() -> None:
    kinds = {doc["kind"] for doc in build("dev")}
    assert kinds == {k.api.kind for k in catalogue.kinds()}


def _resources(folder: str) -> int:
    return len(yaml.safe_load((GITOPS / folder / "kustomization.yaml").read_text())["resources"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_overlay_puts_every_xr_in_its_environment(environment: str) -> None:
    docs = build(environment)
    assert len(docs) == _resources("base") + _resources("workspaces")
    for doc in docs:
        kind = lookup(doc["apiVersion"], doc["kind"])
        assert kind is not None, doc["kind"]
        assert doc["spec"]["parameters"]["environment"] == environment
        if kind.api.scope == "Namespaced":
            assert doc["metadata"]["namespace"] == environment
        else:
            assert "namespace" not in doc["metadata"]
            assert doc["metadata"]["name"].endswith(f"-{environment}")


def test_every_built_xr_renders_and_validates() -> None:
    with tempfile.TemporaryDirectory(prefix="gitops-") as tmp:
        root = Path(tmp)
        (root / "compositions").symlink_to(ROOT / "compositions")
        cases, xrs = [], {}
        for environment in ENVIRONMENTS:
            for doc in build(environment):
                # The API server gives every object a uid; passwords derive from it.
                name = f"{environment}-{doc['kind'].lower()}-{doc['metadata']['name']}"
                doc["metadata"]["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
                case_dir = root / "examples" / doc["kind"].lower() / name
                case_dir.mkdir(parents=True)
                (case_dir / "xr.yaml").write_text(yaml.safe_dump(doc))
                (case_dir / "input.yaml").write_text(yaml.safe_dump(TENANCY))
                case = Case(kind=doc["kind"].lower(), name=name, dir=case_dir)
                cases.append(case)
                xrs[case.id] = doc
        python = os.environ.get("PYTHON") or sys.executable
        with (
            FunctionServer(ROOT, python=python) as server,
            render.Renderer(Tools.locate(ROOT), server.target, ROOT) as renderer,
        ):
            results = list(renderer.render_all(cases, jobs=2))
        produced = {}
        for result in results:
            assert result.ok, f"{result.case.id}: {result.stderr}"
            docs = [d for d in yaml.safe_load_all(result.stdout) if d]
            docs[0] = deep_merge(xrs[result.case.id], docs[0])
            assert len(docs) > 1, f"{result.case.id} composed nothing"
            produced[f"gitops/{result.case.id}"] = docs
    assert_valid(produced)
