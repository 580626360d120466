"""OpenAPI v3 structural schemas from pydantic models, for XRDs and the input CRD.

Pydantic's JSON Schema is close to what Kubernetes wants; this inlines
$refs, collapses Optional (anyOf with null) to the plain type, turns const
into enum, drops what structural schemas reject (titles, additionalProperties
false), and adds each model's cross-field Rules and Transitions as x-kubernetes-validations.
"""

import json
from typing import Any

from pydantic import BaseModel

from function.model import Parameters

Schema = dict[str, Any]

_DROP = {"title", "$defs", "discriminator"}


def _collapse_optional(node: Schema) -> Schema:
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    if "anyOf" not in node or len(options) != 1:
        return node
    merged: Schema = {k: v for k, v in node.items() if k != "anyOf"} | options[0]
    if merged.get("default", 0) is None:
        del merged["default"]
    return merged


def _without_nulls(value: Any) -> Any:
    """A default as the API server may hold it: unset fields left out, not null."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _convert(node: Any, defs: dict[str, Schema]) -> Any:
    if isinstance(node, list):
        return [_convert(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    node = _collapse_optional(node)
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        # The field's own description wins over the referenced model's docstring.
        node = target | {k: v for k, v in node.items() if k != "$ref"}
    out: Schema = {}
    for key, value in node.items():
        if key in _DROP or (key == "additionalProperties" and value is False):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out[key] = {k: _convert(v, defs) for k, v in value.items()}
        elif key == "default":
            out[key] = _without_nulls(value)
        elif key == "enum":
            out[key] = value
        elif key == "propertyNames":
            # Structural schemas have no propertyNames (a CRD drops it): the allowed map
            # keys as a CEL rule instead.
            keys = value.get("enum") or []
            out.setdefault("x-kubernetes-validations", []).append(
                {
                    "rule": f"self.all(k, k in {json.dumps(keys)})",
                    "message": f"keys must be one of: {', '.join(keys)}",
                }
            )
        else:
            out[key] = _convert(value, defs)
    if "properties" in out:
        out["type"] = "object"
    return out


def openapi(model: type[BaseModel]) -> Schema:
    """The structural schema of a model, with its rules as CEL validations."""
    raw = model.model_json_schema(mode="validation")
    schema: Schema = _convert(raw, raw.get("$defs", {}))
    if issubclass(model, Parameters) and (model.rules or model.transitions):
        schema["x-kubernetes-validations"] = [
            *(r.validation() for r in model.rules),
            *(t.validation() for t in model.transitions),
        ]
    return schema
