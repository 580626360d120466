"""A kind's spec.parameters as a JSON Schema for a form, from the same model as its XRD."""

import re
from typing import Any

from function.model import CompositeAPI
from generate.schema import Schema, openapi


def title(field: str) -> str:
    """A form label from a camelCase field name: persistenceSizeGB -> Persistence size GB."""
    words = re.findall(r"[A-Z]{2,}(?=[A-Z][a-z]|$|[0-9])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", field)
    text = " ".join(w if w.isupper() else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def _for_form(node: Any) -> Any:
    """The schema without Kubernetes extensions (CEL, int-or-string), each property titled."""
    if isinstance(node, list):
        return [_for_form(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {
                name: {"title": title(name)} | _for_form(prop) for name, prop in value.items()
            }
        else:
            out[key] = _for_form(value)
    return out


def form_schema(api: CompositeAPI[Any]) -> Schema:
    """spec.parameters for a form: the XRD's schema plus the cross-field rules JSON Schema can say.

    Rules JSON Schema cannot say (one field compared with another) stay with
    the API server's CEL and the function's check; the form leaves them out.
    """
    schema: Schema = _for_form(openapi(api.parameters))
    schema.pop("description", None)
    forms = [rule.form for rule in api.parameters.rules if rule.form is not None]
    if forms:
        schema["allOf"] = forms
    return schema
