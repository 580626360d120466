"""The function input (kind Input): the platform-wide settings plus one section per kind.

It is the ``input`` of the Composition's pipeline step. The whole model
(function_input) is assembled from the catalogue, so a new kind's settings appear
here, in the generated input CRD and in validation without being listed anywhere
else. A request is parsed against the platform-wide settings and its own kind's
section only: the other sections are known by name (an unknown one is refused) but
left to the XRs of their kinds, so serving a request imports no other kind's settings.
"""

import functools
from typing import Any

from google.protobuf import struct_pb2
from pydantic import Field, ValidationError, create_model

from function.catalogue import ENTRIES, kinds
from function.context import P, S
from function.kind import AnyKind, Kind
from function.model import section
from function.platform import PlatformSettings
from function.refusal import Refusal
from function.settings import SettingsModel
from function.structs import to_dict
from function.validation import describe


def _section(settings: type[SettingsModel]) -> tuple[Any, Any]:
    return settings, section(settings)


def _model(name: str, sections: dict[str, tuple[Any, Any]]) -> type[PlatformSettings]:
    model: type[PlatformSettings] = create_model(  # type: ignore[call-overload]
        name,
        __base__=PlatformSettings,
        __doc__="Spec of the Input: every platform setting, all defaulted.",
        **sections,
    )
    return model


@functools.cache
def function_input() -> type[PlatformSettings]:
    """The whole Input spec: every kind's section typed (the input CRD, tests)."""
    return _model("FunctionInput", {k.input_field: _section(k.settings) for k in kinds()})


@functools.cache
def _for(input_field: str | None, settings: type[SettingsModel] | None) -> type[PlatformSettings]:
    # The other kinds' sections are accepted as they are; None (an Operation): all of them.
    sections: dict[str, tuple[Any, Any]] = {
        e.input_field: (Any, Field(default=None)) for e in ENTRIES if e.input_field != input_field
    }
    if input_field is not None and settings is not None:
        sections[input_field] = _section(settings)
    return _model("FunctionInput", sections)


@functools.lru_cache(maxsize=64)
def _parse(
    serialized: bytes, input_field: str | None, settings: type[SettingsModel] | None
) -> PlatformSettings | tuple[str, ...]:
    # Problems are kept as data, not as the Refusal: an exception instance carries the
    # traceback of wherever it was last raised, and this result is shared between calls.
    raw = to_dict(struct_pb2.Struct.FromString(serialized)).get("spec", {})
    try:
        return _for(input_field, settings).model_validate(raw)
    except ValidationError as e:
        return tuple(describe(err, base="input.spec") for err in e.errors(include_url=False))


def parse_input(serialized: bytes, kind: AnyKind | None = None) -> PlatformSettings:
    """The parsed input of a serialized Struct for an XR of kind (None: an Operation); a
    Refusal naming every problem with the platform-wide settings and that kind's section.

    A Composition's input is the same on every call: each distinct one is parsed once
    per kind (the model is frozen, so it is safe to share between calls).
    """
    if kind is None:
        parsed = _parse(serialized, None, None)
    else:
        settings: type[SettingsModel] = kind.settings
        parsed = _parse(serialized, kind.input_field, settings)
    if isinstance(parsed, tuple):
        raise Refusal(parsed, "InvalidInput")
    return parsed


def settings_of(platform: PlatformSettings, kind: Kind[P, S]) -> S:
    """Kind's own section of the parsed input."""
    found = getattr(platform, kind.input_field)
    if not isinstance(found, kind.settings):
        raise TypeError(f"input section {kind.input_field} is not {kind.settings.__name__}")
    return found
