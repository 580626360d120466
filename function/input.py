"""The platform settings: the platform-wide part plus one section per kind.

They come from two places, merged over the defaults:
- the cluster's EnvironmentConfig (Crossplane core's own kind; its ``data`` holds the
  settings), which the Compositions and Operations this project generates ask Crossplane
  for before their step runs (the step's requirements, requirement SETTINGS_REQUIREMENT,
  the EnvironmentConfig named SETTINGS_NAME unless a Composition names another; a step
  that does not ask gets a warning, an Operation a FATAL): one object a platform engineer
  edits, no Composition to fork;
- the step's ``input`` (kind Input), which overrides it per Composition.

The whole model (function_input) is assembled from the catalogue, so a new kind's
settings appear here, in the generated input CRD and in validation without being listed
anywhere else. A request is parsed against the platform-wide settings and its own kind's
section only: the other sections are known by name (an unknown one is refused) but left
to the XRs of their kinds, so serving a request imports no other kind's settings. A
problem is named where it was set: ``input.spec.<path>`` or
``EnvironmentConfig <name>: data.<path>``.
"""

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError, create_model

from function import wire
from function.catalogue import ENTRIES, kinds
from function.context import P, S, Selector
from function.kind import AnyKind, Kind
from function.lru import LRU, deep_size
from function.model import section
from function.platform import PlatformSettings
from function.refusal import Refusal
from function.settings import SETTINGS_NAME, SettingsModel
from function.structs import JSON, to_dict
from function.validation import describe

# The requirement under which Crossplane passes the EnvironmentConfig holding the settings.
SETTINGS_REQUIREMENT = "platform-settings"
ENVIRONMENT_CONFIG_API = "apiextensions.crossplane.io/v1beta1"
# What a step asks for up front (its requirements.requiredResources), generated into every
# Composition and Operation (generate/crossplane.py, install/). The function never asks for
# it itself, so a Composition may name another EnvironmentConfig under the same requirement.
SETTINGS_SELECTOR = Selector(ENVIRONMENT_CONFIG_API, "EnvironmentConfig", SETTINGS_NAME, "")
SETTINGS_NOT_REQUESTED = (
    f"the pipeline step does not ask for the platform settings: add to its "
    f"requirements.requiredResources {{requirementName: {SETTINGS_REQUIREMENT}, apiVersion: "
    f"{ENVIRONMENT_CONFIG_API}, kind: EnvironmentConfig, name: {SETTINGS_NAME}}}; until then "
    "the settings are the step's input alone"
)


@dataclass(frozen=True)
class EnvironmentConfig:
    """The EnvironmentConfig a request's settings come from: its name and its data."""

    name: str
    data: Any


def environment_config(required: Mapping[str, Sequence[JSON]]) -> EnvironmentConfig | None:
    """The EnvironmentConfig Crossplane fetched for SETTINGS_REQUIREMENT; None when there is
    none (not asked for yet, or no such object: the defaults and the input apply)."""
    found = required.get(SETTINGS_REQUIREMENT) or []
    if not found:
        return None
    meta = found[0].get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return EnvironmentConfig(str(name or SETTINGS_NAME), found[0].get("data", {}))


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


def _merged(base: Any, over: Any) -> Any:
    """over on top of base: objects merged key by key, anything else replaced."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return over
    return {**base, **{k: _merged(base.get(k), v) if k in base else v for k, v in over.items()}}


def _holds(data: Any, loc: tuple[int | str, ...]) -> bool:
    """Whether data has a value at loc (a pydantic error's location)."""
    for part in loc:
        if isinstance(data, list):
            if not isinstance(part, int) or not 0 <= part < len(data):
                return False
        elif not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


# Parsed settings, by the kind's section and a digest of the input and the EnvironmentConfig:
# a Composition's input and the EnvironmentConfig are the same on most calls. Each entry
# costs the parsed model as it sits in memory (function/lru.py); an input larger than
# _PARSED_MAX_SOURCE is parsed on every call and never kept, so no mix of requests can
# grow the cache past its budget.
_PARSED_BUDGET = 4 * 1024 * 1024
_PARSED_MAX_ENTRY = 512 * 1024
_PARSED_MAX_SOURCE = 64 * 1024
Parsed = PlatformSettings | tuple[str, ...]
_PARSED: LRU[tuple[str | None, bytes], Parsed] = LRU(_PARSED_BUDGET, _PARSED_MAX_ENTRY)


def _parse(
    serialized: bytes,
    config: EnvironmentConfig | None,
    input_field: str | None,
    settings: type[SettingsModel] | None,
) -> Parsed:
    # Problems are kept as data, not as the Refusal: an exception instance carries the
    # traceback of wherever it was last raised, and this result is shared between calls.
    spec = to_dict(wire.struct_from(serialized)).get("spec", {})
    from_config = f"EnvironmentConfig {config.name}: data" if config else "input.spec"
    if config is not None and not isinstance(config.data, dict):
        return (f"{from_config}: must be an object",)
    try:
        return _for(input_field, settings).model_validate(
            _merged(config.data, spec) if config else spec
        )
    except ValidationError as e:
        errors = e.errors(include_url=False)
    return tuple(
        describe(err, base="input.spec" if _holds(spec, err["loc"]) else from_config)
        for err in errors
    )


def parse_input(
    serialized: bytes, kind: AnyKind | None = None, config: EnvironmentConfig | None = None
) -> PlatformSettings:
    """The settings of a request for an XR of kind (None: an Operation): the step's input
    (a serialized Struct) over the EnvironmentConfig's data over the defaults; a Refusal
    naming every problem with the platform-wide settings and that kind's section.

    Each distinct input and EnvironmentConfig is parsed once per kind while it stays in the
    cache (the model is frozen, so it is safe to share between calls).
    """
    environment = (
        json.dumps({"name": config.name, "data": config.data}, sort_keys=True).encode()
        if config
        else b""
    )
    input_field = None if kind is None else kind.input_field
    settings: type[SettingsModel] | None = None if kind is None else kind.settings
    parsed: Parsed | None = None
    key: tuple[str | None, bytes] | None = None
    if len(serialized) + len(environment) <= _PARSED_MAX_SOURCE:
        digest = hashlib.sha256(len(serialized).to_bytes(8, "big") + serialized + environment)
        key = (input_field, digest.digest())
        parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _parse(serialized, config, input_field, settings)
        if key is not None:
            _PARSED.put(key, parsed, deep_size(key) + deep_size(parsed))
    if isinstance(parsed, tuple):
        raise Refusal(parsed, "InvalidInput")
    return parsed


def settings_of(platform: PlatformSettings, kind: Kind[P, S]) -> S:
    """Kind's own section of the parsed input."""
    found = getattr(platform, kind.input_field)
    if not isinstance(found, kind.settings):
        raise TypeError(f"input section {kind.input_field} is not {kind.settings.__name__}")
    return found
