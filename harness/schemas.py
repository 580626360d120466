"""JSON-schema checks of rendered objects: core Kubernetes kinds and Helm chart values.

Custom kinds are left to `crossplane resource validate` (harness.validate).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from function import catalogue
from function.structs import api_group
from harness.cases import JSON, group_kind, split_api_version

HELM_RELEASE_GROUPS = ("helm.m.crossplane.io", "helm.crossplane.io")
K8S_SCHEMA_DIR = "schemas/kubernetes-json-schema/v1.36.0-standalone-strict"


def chart_values_schemas() -> Mapping[str, str]:
    """Chart name -> its values-schema dir under $SHARED/schemas/charts/, as each kind declares."""
    return {
        chart: folder for k in catalogue.kinds() for chart, folder in k.chart_values_schemas.items()
    }


def describe(doc: JSON) -> str:
    """The object as "<apiVersion>, Kind=<kind> <namespace>/<name>", for messages."""
    md = doc.get("metadata") or {}
    name = md.get("name", "?")
    if md.get("namespace"):
        name = f"{md['namespace']}/{name}"
    return f"{doc.get('apiVersion')}, Kind={doc.get('kind')} {name}"


# Core kinds $SHARED has no schema for (RBAC, ...) are checked against the same
# generator's output shipped in the kubernetes-validate wheel (PyPI, Apache-2.0),
# for the same Kubernetes version; its files $ref a _definitions.json beside them.
WHEEL_SCHEMA_DIR = (
    Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.36.0-local-strict"
)


def _schema_name(doc: JSON) -> str:
    """<kind>[-<first group segment>]-<version>.json, as the schema generator names files."""
    group, version = split_api_version(str(doc.get("apiVersion", "")))
    kind = str(doc.get("kind", "")).lower()
    return f"{kind}-{group.split('.')[0]}-{version}.json" if group else f"{kind}-{version}.json"


def is_core(doc: JSON) -> bool:
    """Built-in Kubernetes kinds: no dot in the group ("" for v1, "apps", ...), or a built-in
    *.k8s.io group such as rbac.authorization.k8s.io (one the generator has a schema for)."""
    group = api_group(str(doc.get("apiVersion", "")))
    if "." not in group:
        return True
    return group.endswith(".k8s.io") and (WHEEL_SCHEMA_DIR / _schema_name(doc)).is_file()


def is_helm_release(doc: JSON) -> bool:
    group, kind = group_kind(doc)
    return kind == "Release" and group in HELM_RELEASE_GROUPS


class JsonSchemas:
    """Validators by schema file, each file read and checked once."""

    def __init__(self) -> None:
        self._cache: dict[Path, Any] = {}

    def get(self, path: Path) -> Any:
        if path not in self._cache:
            schema = json.loads(path.read_text())
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
            cls.check_schema(schema)
            self._cache[path] = cls(schema, registry=_neighbours(path))
        return self._cache[path]

    def errors(self, path: Path, instance: Any) -> list[str]:
        """Each error of instance against the schema at path, as "<json path>: <message>"."""
        found = self.get(path).iter_errors(instance)
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(found, key=lambda e: list(e.absolute_path))
        ]


def _neighbours(path: Path) -> Registry[Any]:
    """Schemas a file $refs (.../_definitions.json under its $id), read from beside it."""

    def retrieve(uri: str) -> Resource[Any]:
        return _resource(path.parent / uri.rsplit("/", 1)[-1])

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


@functools.cache
def _resource(path: Path) -> Resource[Any]:
    """A schema file, read once: a Registry does not keep what it retrieves, so every
    validation would read (and parse megabytes of) _definitions.json again."""
    return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7)


def core_schema_path(shared: Path, doc: JSON) -> Path:
    """The strict schema of a core kind: $SHARED's standalone one, else the wheel's."""
    name = _schema_name(doc)
    own, wheel = shared / K8S_SCHEMA_DIR / name, WHEEL_SCHEMA_DIR / name
    return wheel if not own.is_file() and wheel.is_file() else own


def check_core(shared: Path, schemas: JsonSchemas, source: str, doc: JSON) -> list[str]:
    """Errors of a core-kind object against its strict schema (a missing schema is one)."""
    path = core_schema_path(shared, doc)
    if not path.is_file():
        return [f"{source}: {describe(doc)}: no JSON schema {path.name} (missing schema)"]
    return [f"{source}: {describe(doc)}: {e}" for e in schemas.errors(path, doc)]


def check_helm_values(
    shared: Path, schemas: JsonSchemas, source: str, doc: JSON
) -> tuple[bool, list[str]]:
    """(checked, errors) for one Release: its values against its chart's values schema."""
    for_provider = (doc.get("spec") or {}).get("forProvider") or {}
    chart = (for_provider.get("chart") or {}).get("name")
    schema_dir = chart_values_schemas().get(str(chart))
    if schema_dir is None:
        return False, []
    path = shared / "schemas" / "charts" / schema_dir / "values.schema.json"
    if not path.is_file():
        return True, [f"{source}: {describe(doc)}: chart {chart!r}: missing values schema {path}"]
    errs = schemas.errors(path, for_provider.get("values") or {})
    return True, [f"{source}: {describe(doc)}: chart {chart!r} values: {e}" for e in errs]
