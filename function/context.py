"""What a composer gets (Context) and what it gives back (Desired).

Composers are pure functions from Context to Desired: they never touch the
protobuf request or response, which keeps them easy to test and keeps the
request plumbing in one place (runner.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from pydantic import BaseModel

from function.api.common import Parameters
from function.settings import FunctionSettings
from function.structs import JSON, to_dict
from function.vault.intents import VaultIntent

P = TypeVar("P", bound=Parameters)


class ComposeError(Exception):
    """A problem the user or platform engineer must fix; becomes a FATAL result."""


@dataclass(frozen=True)
class Composite:
    """The observed XR's identity."""

    api_version: str
    kind: str
    name: str
    namespace: str
    uid: str

    @classmethod
    def from_object(cls, obj: JSON) -> "Composite":
        meta = obj.get("metadata", {})
        return cls(
            api_version=str(obj.get("apiVersion", "")),
            kind=str(obj.get("kind", "")),
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "")),
            uid=str(meta.get("uid", "")),
        )


class Observed:
    """Observed composed resources by composition resource name, converted on first use."""

    def __init__(self, resources: Mapping[str, fnv1.Resource]) -> None:
        self._raw = resources
        self._cache: dict[str, JSON] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._raw

    def names(self) -> list[str]:
        return sorted(self._raw)

    def get(self, name: str) -> JSON | None:
        if name not in self._raw:
            return None
        if name not in self._cache:
            self._cache[name] = to_dict(self._raw[name].resource)
        return self._cache[name]


@dataclass(frozen=True)
class Selector:
    """A resource the function asks Crossplane to fetch (a required resource)."""

    api_version: str
    kind: str
    name: str
    namespace: str


@dataclass
class Context(Generic[P]):
    """Everything a composer may read."""

    xr: Composite
    params: P
    settings: FunctionSettings
    observed: Observed
    credentials: Mapping[str, Mapping[str, bytes]]
    required: Mapping[str, list[JSON]]
    requirements: dict[str, Selector] = field(default_factory=dict)

    def require(self, key: str, selector: Selector) -> JSON | None:
        """Ask for a resource; return it if Crossplane has fetched it, else None.

        The requirement is declared on every call (Crossplane considers it met
        once it is stable across calls), so nothing has to remember it.
        """
        self.requirements[key] = selector
        found = self.required.get(key, [])
        return found[0] if found else None


@dataclass
class Desired:
    """What a composer wants: composed resources by name, XR status, warnings."""

    resources: dict[str, JSON] = field(default_factory=dict)
    status: BaseModel | None = None
    warnings: list[str] = field(default_factory=list)
    conditions: list[resource.Condition] = field(default_factory=list)
    # What Vault should hold; applied by the runner after composing (function/vault/).
    vault: list[VaultIntent] = field(default_factory=list)
