"""A kind's parameters as a JSON Schema for a form, from the same model as its XRD.

Every title a person reads is derived from the model: a field's from its name, a section's
(a nested object) from its model class where the class spells the field's word (tls: TLS,
gitops: GitOps), the kind's from the kind's name.
"""

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from function.model import CompositeAPI
from generate.schema import Schema, openapi


def title(field: str) -> str:
    """A form label from a camelCase field name: persistenceSizeGB -> Persistence size GB."""
    words = re.findall(r"[A-Z]{2,}(?=[A-Z][a-z]|$|[0-9])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", field)
    text = " ".join(w if w.isupper() else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def kind_title(api: CompositeAPI[Any]) -> str:
    """The kind in words: its last word lower-cased, the rest as the kind spells it
    (PostgreSQLInstance -> PostgreSQL instance, MLOpsPlatform -> MLOps platform)."""
    match = re.fullmatch(r"(.*[A-Za-z0-9])([A-Z][a-z]+)", api.kind)
    return f"{match[1]} {match[2].lower()}" if match else api.kind


def section_title(field: str, model: type[BaseModel] | None) -> str:
    """A field's label; a one-word section takes its model's spelling (tls: TLS)."""
    if model is not None and field.islower() and model.__name__.lower() == field:
        return model.__name__
    return title(field)


def _nested(model: type[BaseModel] | None, field: str) -> type[BaseModel] | None:
    """The model of a field's object, or of its list's items (Optional and Annotated unwrapped)."""
    if model is None:
        return None
    fields = {(f.alias or name): f for name, f in model.model_fields.items()}
    if field not in fields:
        return None
    annotation: Any = fields[field].annotation
    while True:
        origin = get_origin(annotation)
        if origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return None
            annotation = options[0]
        elif origin in (list, Annotated):
            annotation = get_args(annotation)[0]
        else:
            break
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _for_form(node: Any, model: type[BaseModel] | None) -> Any:
    """The schema without Kubernetes extensions (CEL, int-or-string), each property titled.

    model: the pydantic model of node (of its items, for a list), where there is one."""
    if isinstance(node, list):
        return [_for_form(n, None) for n in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {}
            for name, prop in value.items():
                nested = _nested(model, name)
                out[key][name] = {"title": section_title(name, nested)} | _for_form(prop, nested)
        elif key == "items":
            out[key] = _for_form(value, model)
        else:
            out[key] = _for_form(value, None)
    return out


def form_schema(api: CompositeAPI[Any]) -> Schema:
    """spec.parameters for a form: the XRD's schema plus the cross-field rules JSON Schema can say.

    Rules JSON Schema cannot say (one field compared with another) stay with
    the API server's CEL and the function's check; the form leaves them out.
    """
    schema: Schema = _for_form(openapi(api.parameters), api.parameters)
    schema.pop("description", None)
    forms = [rule.form for rule in api.parameters.rules if rule.form is not None]
    if forms:
        schema["allOf"] = forms
    return schema
