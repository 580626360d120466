"""Turn an XR's spec.parameters into a typed model, or into messages naming every bad field.

A message reads ``spec.parameters.storageGB: must be >= 1 (got 0)``: the path
as a user writes it, the rule broken, and the value given.
"""

import functools
import json
import re
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from function.formats import DNS_1123_LABEL, DNS_1123_SUBDOMAIN, PATTERN_RULES
from function.hostname import HOSTNAME_PATTERN, HOSTNAME_RULE
from function.model import Parameters, Rule
from function.refusal import Refusal

P = TypeVar("P", bound=Parameters)

PARAMETERS_PATH = "spec.parameters"

# The rule broken, by pydantic error type; {name}s come from the error's ctx.
_RULES: dict[str, str] = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "string_pattern_mismatch": "must match {pattern}",
    "literal_error": "must be one of {expected}",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be a boolean",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
    # A model's own check (a pydantic validator raising ValueError): its message is the rule.
    "value_error": "{error}",
}


# Patterns users should not have to read: the rule is named instead.
_PATTERN_NAMES: dict[str, str] = PATTERN_RULES | {HOSTNAME_PATTERN: HOSTNAME_RULE}


def named_pattern(pattern: str, rule: str) -> str:
    """pattern, registered so that a value not matching it is reported as rule."""
    _PATTERN_NAMES[pattern] = rule
    return pattern


# How much of a value or a field name a message shows: a megabyte of bad input must not
# become a megabyte of result (gRPC refuses messages over its limit), nor thousands of lines.
SHOWN_MAX = 256


def cut(text: str, limit: int = SHOWN_MAX) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _path(loc: tuple[int | str, ...], base: str) -> str:
    out = base
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{cut(str(part))}"
    return out


def shown(value: Any) -> str:
    """A value as a message shows it: JSON (models as their fields), cut to SHOWN_MAX."""

    def plain(v: Any) -> Any:
        return (
            v.model_dump(exclude_none=True, by_alias=True) if isinstance(v, BaseModel) else str(v)
        )

    return cut(json.dumps(value, sort_keys=True, default=plain))


def describe(error: ErrorDetails, base: str = PARAMETERS_PATH) -> str:
    """One line for one pydantic error."""
    template = _RULES.get(error["type"])
    rule = template.format(**error.get("ctx", {})) if template else error["msg"]
    if error["type"] == "string_pattern_mismatch":
        rule = _PATTERN_NAMES.get(str(error.get("ctx", {}).get("pattern")), rule)
    line = f"{_path(error['loc'], base)}: {rule}"
    if error["type"] not in ("missing", "extra_forbidden"):
        line += f" (got {shown(error['input'])})"
    return line


_CEL_FIELD = re.compile(r"\bself\.([A-Za-z_][A-Za-z0-9_]*)")


@functools.cache
def _reads(rule: Rule) -> frozenset[str]:
    """The fields a rule reads: its own and every self.<field> of its CEL."""
    return frozenset({*([rule.field] if rule.field else []), *_CEL_FIELD.findall(rule.cel)})


def _broken_rules(model: type[P], params: P, bad: set[str]) -> list[str]:
    """Every cross-field rule params breaks, skipping rules that read a field already bad."""
    out = []
    for rule in model.rules:
        if bad and bad & _reads(rule):
            continue
        if rule.check(params):
            continue
        path = f"{PARAMETERS_PATH}.{rule.field}" if rule.field else PARAMETERS_PATH
        found = rule.offenders(params) if rule.offenders else {}
        whole = getattr(params, rule.field) if rule.field else params
        for where, value in found.items() or {"": whole}.items():
            out.append(f"{path}{where}: {rule.message} (got {shown(value)})")
    return out


def _valid_fields(model: type[P], raw: dict[str, Any], bad: set[str]) -> dict[str, Any]:
    """The fields that did validate, as validated values (nested models, not dicts), by name.

    Raw keys are the API's names, which differ from the attribute for an alias ("class").
    """
    out = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in raw and key not in bad:
            # The field's type and constraints, without its alias (TypeAdapter takes no alias).
            annotation: Any = info.annotation
            if info.metadata:
                annotation = Annotated[annotation, *info.metadata]
            adapter: TypeAdapter[Any] = TypeAdapter(annotation)
            out[name] = adapter.validate_python(raw[key])
    return out


def parse_parameters(model: type[P], raw: Any) -> P:
    """Validate spec.parameters into the typed model; a Refusal naming every problem found.

    Field errors and cross-field rules are reported together: a rule is also
    checked when other fields are bad, as long as it reads none of them.
    """
    problems = _parameter_problems(model, raw)
    if isinstance(problems, list):
        raise Refusal(problems, "InvalidParameters")
    return problems


def _parameter_problems(model: type[P], raw: Any) -> P | list[str]:
    if raw is None:
        return [f"{PARAMETERS_PATH}: required"]
    try:
        params = model.model_validate(raw)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        problems = [describe(err) for err in errors]
        if not isinstance(raw, dict):
            return problems
        bad = {str(err["loc"][0]) for err in errors if err["loc"]}
        partial = model.model_construct(**_valid_fields(model, raw, bad))
        return problems + _broken_rules(model, partial, bad)
    return _broken_rules(model, params, set()) or params


# Kubernetes object names (a DNS subdomain) and namespaces (a DNS label):
# k8s.io/apimachinery pkg/util/validation/validation.go.
_DNS_SUBDOMAIN = re.compile(DNS_1123_SUBDOMAIN)
_DNS_LABEL = re.compile(DNS_1123_LABEL)


def _name_problem(field: str, value: Any, pattern: re.Pattern[str], limit: int) -> str | None:
    if value is None or value == "":
        return f"{field}: required"
    if not isinstance(value, str):
        return f"{field}: must be a string (got {shown(value)})"
    if len(value) > limit or not pattern.fullmatch(value):
        kind = "DNS subdomain" if pattern is _DNS_SUBDOMAIN else "DNS label"
        return f"{field}: must be a {kind} of at most {limit} characters (got {shown(value)})"
    return None


def check_composite(obj: Any, *, namespaced: bool) -> None:
    """A Refusal naming what is wrong with the shape of an XR outside spec.parameters.

    The API server guarantees metadata and spec for a real XR; a request that breaks
    them gets a FATAL naming the field instead of composing names such as "-redis".
    """
    problems = _composite_problems(obj, namespaced=namespaced)
    if problems:
        raise Refusal(problems, "InvalidComposite")


def _composite_problems(obj: Any, *, namespaced: bool) -> list[str]:
    if not isinstance(obj, dict):
        return ["the composite resource must be an object"]
    meta = obj.get("metadata")
    problems: list[str | None] = []
    if not isinstance(meta, dict):
        problems.append(f"metadata: must be an object (got {shown(meta)})")
    else:
        problems.append(_name_problem("metadata.name", meta.get("name"), _DNS_SUBDOMAIN, 253))
        if namespaced:
            problems.append(
                _name_problem("metadata.namespace", meta.get("namespace"), _DNS_LABEL, 63)
            )
        uid = meta.get("uid")
        if uid is not None and not isinstance(uid, str):
            problems.append(f"metadata.uid: must be a string (got {shown(uid)})")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        problems.append(f"spec: must be an object (got {shown(spec)})")
    return [p for p in problems if p is not None]
