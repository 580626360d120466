"""What the VClusterEnvironment examples place through provider-kubernetes Objects is valid.

`crossplane resource validate` checks an Object against the Object CRD, whose
manifest is free-form; these check each manifest against its own schema: the
Argo CD Application CRD (v3.5.1), the KnativeServing CRD (knative-operator
v1.23.0) and the strict core schemas (Secret, Namespace), unknown fields
included, and that the Objects' references line up.
"""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from function.kinds.vclusterenvironment import addons, argocd
from harness.cases import find_cases, load_yaml_docs
from harness.paths import ROOT, shared_dir
from harness.schemas import JsonSchemas, check_core, is_core

SHARED = shared_dir(ROOT)
CRDS = {
    ("argoproj.io", "Application"): SHARED / "crds/argo-cd/application-crd.yaml",
    ("operator.knative.dev", "KnativeServing"): SHARED
    / "crds/knative-operator/operator.knative.dev_knativeservings.yaml",
}
RESOURCE_NAME = "crossplane.io/composition-resource-name"
JSON = dict[str, Any]


def _objects() -> list[tuple[str, str, JSON]]:
    """(case, composition resource name, manifest) of every Object the examples compose."""
    out = []
    for case in find_cases(ROOT, ["vclusterenvironment/"]):
        if not case.expected.is_file():
            continue
        for doc in load_yaml_docs(case.expected)[1:]:
            if doc["kind"] == "Object":
                name = doc["metadata"]["annotations"][RESOURCE_NAME]
                out.append((case.id, name, doc["spec"]["forProvider"]["manifest"]))
    return out


OBJECTS = _objects()


def _crd_schema(path: Path, version: str) -> JSON:
    for doc in yaml.load_all(
        path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    ):
        for v in doc["spec"]["versions"]:
            if v["name"] == version:
                schema: JSON = v["schema"]["openAPIV3Schema"]
                return schema
    raise AssertionError(f"{path}: no version {version}")


def unknown_fields(schema: JSON, value: Any, path: str = "") -> list[str]:
    """Fields of value its structural schema does not define (the API server would prune them)."""
    if isinstance(value, list):
        items = schema.get("items") or {}
        return [f for i, v in enumerate(value) for f in unknown_fields(items, v, f"{path}[{i}]")]
    if not isinstance(value, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    out = []
    for key, sub in value.items():
        if props is not None and key in props:
            out += unknown_fields(props[key], sub, f"{path}.{key}")
        elif isinstance(extra, dict):
            out += unknown_fields(extra, sub, f"{path}.{key}")
        elif props is not None and key not in ("apiVersion", "kind", "metadata"):
            out.append(f"{path}.{key}")
    return out


def test_the_examples_place_every_kind_of_object() -> None:
    kinds = {m["kind"] for _, _, m in OBJECTS}
    assert kinds == {"Secret", "Application", "Namespace", "KnativeServing"}


@pytest.mark.parametrize(
    ("case", "name", "manifest"), OBJECTS, ids=[f"{c}:{n}" for c, n, _ in OBJECTS]
)
def test_each_manifest_is_valid_against_its_schema(case: str, name: str, manifest: JSON) -> None:
    if is_core(manifest):
        assert check_core(SHARED, JsonSchemas(), case, manifest) == []
        return
    group, _, version = manifest["apiVersion"].rpartition("/")
    schema = _crd_schema(CRDS[(group, manifest["kind"])], version)
    jsonschema.Draft7Validator(schema).validate(manifest)
    assert unknown_fields(schema, manifest) == []


def test_the_unknown_field_check_can_fail() -> None:
    schema = _crd_schema(CRDS[("argoproj.io", "Application")], "v1alpha1")
    bad = {"spec": {"destination": {"server": "x", "cluster": "y"}, "source": {"repoURL": "r"}}}
    assert unknown_fields(schema, bad) == [".spec.destination.cluster"]


def test_the_application_targets_the_registered_cluster() -> None:
    by_case: dict[str, dict[str, JSON]] = {}
    for case, name, manifest in OBJECTS:
        by_case.setdefault(case, {})[name] = manifest
    registered = [c for c in by_case.values() if argocd.APPLICATION in c]
    assert registered
    for objects in registered:
        secret, app = objects[argocd.CLUSTER_SECRET], objects[argocd.APPLICATION]
        assert app["metadata"]["namespace"] == secret["metadata"]["namespace"]
        assert app["spec"]["destination"]["server"] == secret["stringData"]["server"]
        config = json.loads(secret["stringData"]["config"])
        # Argo CD v3.5.1 declarative-setup.md: bearer token authentication, the CA to trust,
        # and project (a project-scoped cluster) the Application's own.
        assert set(config) == {"bearerToken", "tlsClientConfig"}
        assert set(config["tlsClientConfig"]) == {"caData"}
        assert secret["stringData"]["project"] == app["spec"]["project"]
    for objects in by_case.values():
        if addons.KNATIVE_SERVING in objects:
            serving = objects[addons.KNATIVE_SERVING]
            namespace = objects[addons.KNATIVE_NAMESPACE]
            assert serving["metadata"]["namespace"] == namespace["metadata"]["name"]
