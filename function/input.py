"""The function input (kind Input): the platform-wide settings plus one section per kind.

It is the ``input`` of the Composition's pipeline step. The model is
assembled from the catalogue, so a new kind's settings appear here, in the
generated input CRD and in validation without being listed anywhere else.
"""

import functools

from google.protobuf import struct_pb2
from pydantic import Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from function.catalogue import CATALOGUE
from function.platform import PlatformSettings
from function.structs import to_dict
from function.validation import describe

INPUT_GROUP = "fn.platform.example.org"
INPUT_VERSION = "v1beta1"
INPUT_KIND = "Input"


def _sections() -> dict[str, tuple[type, FieldInfo]]:
    return {
        k.input_field: (k.settings, Field(default=k.settings(), description=k.settings.__doc__))
        for k in CATALOGUE
    }


FunctionInput: type[PlatformSettings] = create_model(  # type: ignore[call-overload]
    "FunctionInput",
    __base__=PlatformSettings,
    __doc__="Spec of the Input: every platform setting, all defaulted.",
    **_sections(),
)


@functools.lru_cache(maxsize=64)
def parse_input(serialized: bytes) -> PlatformSettings | tuple[str, ...]:
    """The parsed input of a serialized Struct, or every problem with it.

    A Composition's input is the same on every call: each distinct one is
    parsed once (the model is frozen, so it is safe to share between calls).
    """
    raw = to_dict(struct_pb2.Struct.FromString(serialized)).get("spec", {})
    try:
        return FunctionInput.model_validate(raw)
    except ValidationError as e:
        return tuple(describe(err, base="input.spec") for err in e.errors(include_url=False))
