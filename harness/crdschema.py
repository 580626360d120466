"""Validate composed objects in-process against the CRDs the catalogue composes, offline.

`crossplane resource validate` (harness.validate) is the reference, but it is a process
per call: too slow for thousands of fuzzed responses. This converts each CRD's
openAPIV3Schema to a JSON schema the `jsonschema` package checks the same structural
rules with: types, enums, bounds, patterns, required fields, int-or-string, int32/int64
ranges, and unknown fields as errors (the API server would prune them, silently
dropping what the function meant to set), except under x-kubernetes-preserve-unknown-fields.
CEL rules (x-kubernetes-validations) are not evaluated. Core kinds and Helm chart values
go through harness.schemas, as in harness.validate.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from function import catalogue
from harness.cases import JSON, group_kind, split_api_version
from harness.schemas import JsonSchemas, check_core, check_helm_values, is_core, is_helm_release

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def json_schema(node: Any) -> Any:
    """The JSON schema (draft 7) of a CRD's structural schema node."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {k: json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [json_schema(v) for v in value]
        elif key.startswith("x-kubernetes-") or key in ("description", "default", "format"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out = {"anyOf": [{"type": "integer"}, {"type": "string"}], **out}
    if node.get("format") in _INT_RANGES and node.get("type") == "integer":
        low, high = _INT_RANGES[node["format"]]
        out.setdefault("minimum", low)
        out.setdefault("maximum", high)
    preserve = node.get("x-kubernetes-preserve-unknown-fields") or node.get(
        "x-kubernetes-embedded-resource"
    )
    if "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    return out


@functools.cache
def crd_schemas(path: Path) -> dict[tuple[str, str, str], Any]:
    """(group, version, kind) -> its openAPIV3Schema, for each version of the CRD in path."""
    out: dict[tuple[str, str, str], Any] = {}
    with path.open() as f:
        for crd in yaml.load_all(f, Loader=yaml.CSafeLoader):
            if not crd:
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                key = (spec["group"], version["name"], spec["names"]["kind"])
                out[key] = version["schema"]["openAPIV3Schema"]
    return out


@functools.cache
def _crd_file(path: Path) -> dict[tuple[str, str, str], Any]:
    """(group, version, kind) -> a validator, for each version of the CRD in path."""
    out: dict[tuple[str, str, str], Any] = {}
    for key, node in crd_schemas(path).items():
        schema = json_schema(node)
        # metadata is the API server's (ObjectMeta), not in the CRD's schema.
        schema.get("properties", {})["metadata"] = {"type": "object"}
        out[key] = jsonschema.Draft7Validator(schema)
    return out


def crd_errors(path: Path, doc: JSON) -> list[str]:
    """Every structural error of doc against its kind's version in the CRD file at path."""
    group, kind = group_kind(doc)
    version = split_api_version(str(doc.get("apiVersion", "")))[1]
    validator = _crd_file(path).get((group, version, kind))
    if validator is None:
        return [f"{path.name} defines no {doc.get('apiVersion')} {kind}"]
    return _messages(validator, doc)


def _messages(validator: Any, doc: JSON) -> list[str]:
    """Each schema error of doc: where, and what."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:300]}"
        for e in validator.iter_errors(doc)
    ]


def _crd_files(shared: Path, group: str) -> list[Path]:
    """The catalogue's CRD files of an API group (controller-gen names: <group>_<plural>.yaml)."""
    paths = {p for k in catalogue.kinds() for p in k.crds}
    return [shared / p for p in sorted(paths) if Path(p).name.startswith(f"{group}_")]


class ComposedValidator:
    """Errors of composed objects: CRD schemas, strict core-kind schemas, chart values."""

    def __init__(self, shared: Path) -> None:
        self.shared = shared
        self.core = JsonSchemas()

    def crd(self, group: str, version: str, kind: str) -> Any:
        """The validator of that kind's CRD version, or None when the catalogue has none."""
        for path in _crd_files(self.shared, group):
            found = _crd_file(path).get((group, version, kind))
            if found is not None:
                return found
        return None

    def errors(self, source: str, doc: JSON) -> list[str]:
        """Every problem of doc; an object of a kind without a schema is one."""
        if is_core(doc):
            return check_core(self.shared, self.core, source, doc)
        group, kind = group_kind(doc)
        version = split_api_version(str(doc.get("apiVersion", "")))[1]
        validator = self.crd(group, version, kind)
        if validator is None:
            return [f"{source}: no CRD for {doc.get('apiVersion')} {kind}"]
        out = [f"{source}: {message}" for message in _messages(validator, doc)]
        if is_helm_release(doc):
            out += check_helm_values(self.shared, self.core, source, doc)[1]
        return out
