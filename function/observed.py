"""Reading what the function did not write: one guarded reader per shape.

Observed composed resources, required resources (another XR, a Secret) and connection
details come from controllers, users and other tools: any field may be missing or of
another shape than its CRD says. Every kind reads them through these readers, so a
value of another shape reads as absent (None, an empty list) instead of raising, and
Secret data that is not base64 or not UTF-8 text is a SecretDataError that names the
key, never the value.
"""

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, TypedDict

from function.refusal import Refusal
from function.structs import JSON, dig

# Decimal digits, ASCII only: str.isdigit() also accepts "²" and other digits int() refuses.
_DIGITS = re.compile(r"[0-9]+")
# int64, as Kubernetes holds a count (apimachinery's resource.Quantity, int64 fields).
DIGITS_MAX = 18


def mapping(obj: Any, *path: str) -> JSON | None:
    """The object at path, or None when absent or not an object."""
    found = dig(obj, *path)
    return found if isinstance(found, dict) else None


def text(obj: Any, *path: str) -> str | None:
    """The string at path, or None when absent or not a string."""
    found = dig(obj, *path)
    return found if isinstance(found, str) else None


def flag(obj: Any, *path: str) -> bool:
    """Whether the value at path is the boolean true (anything else, "true" too, is not)."""
    return dig(obj, *path) is True


def integer(
    obj: Any, *path: str, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """The integer at path (a JSON number without a fraction, not a boolean) within bounds,
    or None."""
    found = dig(obj, *path)
    if not isinstance(found, int) or isinstance(found, bool):
        return None
    if (minimum is not None and found < minimum) or (maximum is not None and found > maximum):
        return None
    return found


def objects(obj: Any, *path: str) -> list[JSON]:
    """The objects of the list at path; items of another shape are left out ([] when the
    list is absent or not a list)."""
    found = dig(obj, *path)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def strings(obj: Any, *path: str) -> list[str]:
    """The strings of the list at path; items of another shape are left out."""
    found = dig(obj, *path)
    return [item for item in found if isinstance(item, str)] if isinstance(found, list) else []


def json_text(obj: Any, *path: str) -> Any:
    """The JSON document in the string at path (an annotation's value), or None when absent,
    not a string or not JSON (nested deeper than the parser's recursion limit too)."""
    found = text(obj, *path)
    if found is None:
        return None
    try:
        return json.loads(found)
    except (ValueError, RecursionError):
        return None


def digits(value: object, max_digits: int = DIGITS_MAX) -> int | None:
    """A non-negative integer written in ASCII decimal digits ("8", "0042"), or None.

    At most max_digits of them: int() refuses more than 4300, and no count or port the
    function reads back has more than an int64's.
    """
    if not isinstance(value, str) or len(value) > max_digits or not _DIGITS.fullmatch(value):
        return None
    return int(value)


class Condition(TypedDict, total=False):
    """A status condition as metav1.Condition (and Crossplane's xpv1.Condition) shape it."""

    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str
    observedGeneration: int


def _first_condition(obj: Any, kind: str) -> JSON | None:
    """The first object of status.conditions whose type is kind (other shapes ignored)."""
    for c in objects(obj, "status", "conditions"):
        if c.get("type") == kind:
            return c
    return None


def condition(obj: Any, kind: str) -> Condition | None:
    """The status condition of that type, if any: the first object of status.conditions whose
    type is kind, with only the fields of metav1.Condition's shape (a field of another shape
    is left out). Conditions of another shape are ignored."""
    c = _first_condition(obj, kind)
    if c is None:
        return None
    out = Condition(type=kind)
    for field in ("status", "reason", "message", "lastTransitionTime"):
        value = text(c, field)
        if value is not None:
            out[field] = value
    generation = integer(c, "observedGeneration", minimum=0)
    if generation is not None:
        out["observedGeneration"] = generation
    return out


def condition_status(obj: Any, kind: str) -> str | None:
    """The status of the condition of that type, as condition(obj, kind) has it, read
    without building the condition: readiness asks it of every composed resource on every
    call."""
    c = _first_condition(obj, kind)
    return None if c is None else text(c, "status")


class SecretDataError(Refusal):
    """A Secret value or connection detail that cannot be used as text; the message names the
    key, never the value."""


def secret_bytes(secret: Any, key: str) -> bytes | None:
    """The decoded bytes of key in a Secret as the API server returns it (base64 data).

    None when the Secret or the key is absent; SecretDataError when the value is not base64.
    """
    data = mapping(secret, "data")
    encoded = data.get(key) if data is not None else None
    if not encoded:
        return None
    if not isinstance(encoded, str):
        raise SecretDataError(f"{_where(secret, key)} is not base64 data")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):  # ValueError: a character outside ASCII
        raise SecretDataError(f"{_where(secret, key)} is not base64 data") from None


def secret_value(secret: Any, key: str) -> str | None:
    """The decoded value of key in a Secret as the API server returns it (base64 data).

    None when the Secret or the key is absent; SecretDataError when the value is
    not base64 or not UTF-8 text (a binary password cannot go into a URI or stringData).
    """
    raw = secret_bytes(secret, key)
    if raw is None:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise SecretDataError(f"{_where(secret, key)} is not UTF-8 text") from None


def detail_value(details: Mapping[str, bytes], key: str, resource: str) -> str | None:
    """The connection detail key of the observed resource (raw bytes, as Crossplane passes
    them) as text; None when absent or empty, SecretDataError when not UTF-8."""
    raw = details.get(key)
    if not raw:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise SecretDataError(
            f"connection detail {key!r} of the composed resource {resource!r} is not UTF-8 text"
        ) from None


def _where(secret: Any, key: str) -> str:
    name = text(secret, "metadata", "name")
    return f"key {key!r} of Secret {name[:253] if name is not None else '?'!r}"
