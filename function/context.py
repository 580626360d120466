"""What a composer gets (Context) and what it gives back (Desired).

Composers are pure functions from Context to Desired: they never touch the
protobuf request or response, which keeps them easy to test and keeps the
request plumbing in one place (runner.py). What they cannot compose they refuse
with function.refusal.Refusal. Everything a composer asks of the runner (resources
to fetch, until when its answer holds, what Vault should hold) comes back on Desired.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from crossplane.function import resource

from function.model import CompositeStatus, Parameters
from function.platform import PlatformSettings
from function.readiness import Readiness
from function.settings import SettingsModel
from function.structs import JSON
from function.vault.intents import VaultIntent

P = TypeVar("P", bound=Parameters)
S = TypeVar("S", bound=SettingsModel)


@dataclass(frozen=True)
class Composite:
    """The observed XR's identity."""

    api_version: str
    kind: str
    name: str
    namespace: str
    uid: str
    # metadata.creationTimestamp ("" before the API server set it) and annotations.
    created: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def from_object(cls, obj: JSON) -> "Composite":
        """The identity of an XR object; a field of another shape reads as empty."""
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        annotations = meta.get("annotations")
        annotations = annotations if isinstance(annotations, dict) else {}

        def text(value: object) -> str:
            return value if isinstance(value, str) else ""

        return cls(
            api_version=text(obj.get("apiVersion")),
            kind=text(obj.get("kind")),
            name=text(meta.get("name")),
            namespace=text(meta.get("namespace")),
            uid=text(meta.get("uid")),
            created=text(meta.get("creationTimestamp")),
            annotations={str(k): str(v) for k, v in annotations.items()},
        )

    @property
    def ref(self) -> str:
        """namespace/name, or name alone for a cluster-scoped XR."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


class Observed:
    """Observed composed resources by composition resource name, each converted on first use.

    The runner gives loaders that convert from the request's protobuf lazily;
    tests give plain objects with Observed.of. Whether a resource is ready is judged
    once per request, by the kind's readiness rules, for the composer and the runner alike.

    Connection details are what Crossplane read from each observed resource's
    spec.writeConnectionSecretToRef Secret (crossplane v2.3.4,
    internal/controller/apiextensions/composite/connection.go,
    SecretConnectionDetailsFetcher): raw bytes, never logged or written to status.
    """

    def __init__(
        self,
        loaders: Mapping[str, Callable[[], JSON]],
        readiness: Readiness,
        connection_details: Mapping[str, Mapping[str, bytes]] | None = None,
    ) -> None:
        self._loaders = loaders
        self._readiness = readiness
        self._cache: dict[str, JSON] = {}
        self._ready: dict[str, bool] = {}
        self._connection_details = connection_details or {}

    @classmethod
    def of(
        cls,
        objects: Mapping[str, JSON],
        readiness: Readiness,
        connection_details: Mapping[str, Mapping[str, bytes]] | None = None,
    ) -> "Observed":
        loaders = {name: _constant(obj) for name, obj in objects.items()}
        return cls(loaders, readiness, connection_details)

    def connection_details(self, name: str) -> Mapping[str, bytes]:
        """The connection details Crossplane passed for the observed resource name ({} if none)."""
        return self._connection_details.get(name, {})

    def __contains__(self, name: str) -> bool:
        return name in self._loaders

    def names(self) -> list[str]:
        """The observed resources' composition resource names, sorted."""
        return sorted(self._loaders)

    def get(self, name: str) -> JSON | None:
        if name not in self._loaders:
            return None
        if name not in self._cache:
            self._cache[name] = self._loaders[name]()
        return self._cache[name]

    def name_of(self, name: str) -> str | None:
        """The observed resource's metadata.name (None when it is not observed). Core keeps
        an existing composed resource's name whatever the desired one says (crossplane v2.3.4
        internal/controller/apiextensions/composite/composition_functions.go), so what
        refers to it must use this one."""
        found = ((self.get(name) or {}).get("metadata") or {}).get("name")
        return found if isinstance(found, str) and found else None

    def ready(self, name: str) -> bool:
        """Whether the observed resource name is ready (False when it is not observed)."""
        if name not in self._ready:
            self._ready[name] = self._readiness.is_ready(self.get(name))
        return self._ready[name]


def _constant(obj: JSON) -> Callable[[], JSON]:
    return lambda: obj


@dataclass(frozen=True)
class Selector:
    """A resource the function asks Crossplane to fetch (a required resource): the one named;
    with labels, every one carrying them; with neither (name None), every one of the kind.
    Either list is of the namespace, or of every namespace when it is "" (crossplane v2.3.4
    internal/xfn/required_resources.go, ExistingRequiredResourcesFetcher.Fetch: listed
    when no name is given, sorted by namespace and name)."""

    api_version: str
    kind: str
    name: str | None
    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class RequiredKind:
    """A kind a composer may ask Crossplane to fetch.

    Crossplane core fetches required resources with its own service account and
    fails the whole pipeline on anything but NotFound (crossplane v2.3.4
    internal/xfn/required_resources.go), so every kind a composer may require
    is declared on its catalogue entry (function/kind.py Kind.requires) and read
    rights on it are generated into Crossplane's ClusterRole.
    """

    api_version: str
    kind: str
    plural: str

    def named(self, name: str, namespace: str) -> Selector:
        return Selector(self.api_version, self.kind, name, namespace)

    def every(self, namespace: str) -> Selector:
        """Every object of the kind in namespace ("": in every namespace)."""
        return Selector(self.api_version, self.kind, None, namespace)

    def labelled(self, labels: Mapping[str, str], namespace: str) -> Selector:
        return Selector(self.api_version, self.kind, None, namespace, dict(labels))


SECRET = RequiredKind("v1", "Secret", "secrets")
NAMESPACE = RequiredKind("v1", "Namespace", "namespaces")


@dataclass(frozen=True)
class Context(Generic[P, S]):
    """Everything a composer may read: its XR's parameters, its kind's settings, the platform's."""

    xr: Composite
    params: P
    settings: S
    platform: PlatformSettings
    observed: Observed
    credentials: Mapping[str, Mapping[str, bytes]]
    required: Mapping[str, list[JSON]]

    def found(self, key: str) -> JSON | None:
        """The resource Crossplane fetched for the requirement key, if any.

        A composer that reads it also asks for it on every call (Desired.require):
        Crossplane considers a requirement met once it is stable across calls.
        """
        items = self.required.get(key, [])
        return items[0] if items else None

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
    """What a composer wants: composed resources by name, XR status, warnings, and what it
    asks of the runner."""

    resources: dict[str, JSON] = field(default_factory=dict)
    status: CompositeStatus | None = None
    warnings: list[WarningResult] = field(default_factory=list)
    conditions: list[resource.Condition] = field(default_factory=list)
    # What Vault should hold; applied by the runner after composing (function/vault/).
    vault: list[VaultIntent] = field(default_factory=list)
    # Resources Crossplane is to fetch for the next call, by requirement key.
    requirements: dict[str, Selector] = field(default_factory=dict)
    # Until when (Unix time) this answer holds for an equal request: inf while nothing
    # but the request decides it (function/response_cache.py).
    holds_until: float = math.inf

    def require(self, key: str, selector: Selector) -> None:
        """Ask Crossplane to fetch a resource; Context.found(key) reads what it fetched."""
        self.requirements[key] = selector

    def hold_until(self, when: float) -> None:
        """Say that this answer holds until `when` (Unix time), not after."""
        self.holds_until = min(self.holds_until, when)
