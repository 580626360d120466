"""What a composer gets (Context) and what it gives back (Desired).

Composers are pure functions from Context to Desired: they never touch the
protobuf request or response, which keeps them easy to test and keeps the
request plumbing in one place (runner.py).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from crossplane.function import resource

from function.model import CompositeStatus, Parameters
from function.platform import PlatformSettings
from function.settings import SettingsModel
from function.structs import JSON
from function.vault.intents import VaultIntent

P = TypeVar("P", bound=Parameters)
S = TypeVar("S", bound=SettingsModel)


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

    @property
    def ref(self) -> str:
        """namespace/name, or name alone for a cluster-scoped XR."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


class Observed:
    """Observed composed resources by composition resource name, each converted on first use.

    The runner gives loaders that convert from the request's protobuf lazily;
    tests give plain objects with Observed.of.

    Connection details are what Crossplane read from each observed resource's
    spec.writeConnectionSecretToRef Secret (crossplane v2.3.4,
    internal/controller/apiextensions/composite/connection.go,
    SecretConnectionDetailsFetcher): raw bytes, never logged or written to status.
    """

    def __init__(
        self,
        loaders: Mapping[str, Callable[[], JSON]],
        connection_details: Mapping[str, Mapping[str, bytes]] | None = None,
    ) -> None:
        self._loaders = loaders
        self._cache: dict[str, JSON] = {}
        self._connection_details = connection_details or {}

    @classmethod
    def of(
        cls,
        objects: Mapping[str, JSON],
        connection_details: Mapping[str, Mapping[str, bytes]] | None = None,
    ) -> "Observed":
        return cls({name: _constant(obj) for name, obj in objects.items()}, connection_details)

    def connection_details(self, name: str) -> Mapping[str, bytes]:
        """The connection details Crossplane passed for the observed resource name ({} if none)."""
        return self._connection_details.get(name, {})

    def __contains__(self, name: str) -> bool:
        return name in self._loaders

    def get(self, name: str) -> JSON | None:
        if name not in self._loaders:
            return None
        if name not in self._cache:
            self._cache[name] = self._loaders[name]()
        return self._cache[name]


def _constant(obj: JSON) -> Callable[[], JSON]:
    return lambda: obj


@dataclass(frozen=True)
class Selector:
    """A resource the function asks Crossplane to fetch (a required resource)."""

    api_version: str
    kind: str
    name: str
    namespace: str


@dataclass
class Context(Generic[P, S]):
    """Everything a composer may read: its XR's parameters, its kind's settings, the platform's."""

    xr: Composite
    params: P
    settings: S
    platform: PlatformSettings
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

    def fetched(self, key: str) -> bool:
        """Whether Crossplane has answered the requirement key (found or not).

        Crossplane answers every requirement, with no items when nothing matches;
        before its first answer the key is absent, so an empty answer means the
        resource does not exist.
        """
        return key in self.required


@dataclass(frozen=True)
class WarningResult:
    """A WARNING result on the XR: something the user should know that does not stop composing."""

    message: str
    reason: str = ""


@dataclass
class Desired:
    """What a composer wants: composed resources by name, XR status, warnings."""

    resources: dict[str, JSON] = field(default_factory=dict)
    status: CompositeStatus | None = None
    warnings: list[WarningResult] = field(default_factory=list)
    conditions: list[resource.Condition] = field(default_factory=list)
    # What Vault should hold; applied by the runner after composing (function/vault/).
    vault: list[VaultIntent] = field(default_factory=list)
