"""The composite kinds this function serves: one line per kind (function/kinds/<kind>/).

A kind has one name in two spellings. Lower-cased it names every path: its package
(function/kinds/redisinstance), its examples, tests and front doors. In lowerCamelCase
it is its section of the function input (redisInstance), as a field of a Kubernetes
object is spelt; lower-cased again, the section is the path name.

A kind's package is imported when the first XR of its kind arrives, not at start-up
(each costs tens of milliseconds of pydantic models), so each line names the kind's XR
type and input section too; test_catalogue.py checks them against what the package
declares. Generators and tests take every kind with kinds().
"""

import functools
import importlib
from dataclasses import dataclass

from function.kind import AnyKind


@dataclass(frozen=True)
class Entry:
    """Where a kind lives: its XR's apiVersion and kind, and its input section."""

    api_version: str
    kind: str
    input_field: str

    @property
    def package(self) -> str:
        """The kind's package under function.kinds: the kind lower-cased."""
        return self.kind.lower()


ENTRIES = (
    Entry("database.platform.example.org/v1alpha1", "PostgreSQLInstance", "postgresqlInstance"),
    Entry("cache.platform.example.org/v1alpha1", "RedisInstance", "redisInstance"),
    Entry("compute.platform.example.org/v1alpha1", "KubernetesCluster", "kubernetesCluster"),
    Entry("compute.platform.example.org/v1alpha1", "VClusterEnvironment", "vclusterEnvironment"),
    Entry("network.platform.example.org/v1alpha1", "ServiceIngress", "serviceIngress"),
    Entry("ml.platform.example.org/v1alpha1", "MLOpsPlatform", "mlopsPlatform"),
)

_BY_TYPE = {(e.api_version, e.kind): e for e in ENTRIES}


@functools.cache
def load(entry: Entry) -> AnyKind:
    """The entry's Kind, its package imported on first use."""
    kind: AnyKind = importlib.import_module(f"function.kinds.{entry.package}").KIND
    return kind


def lookup(api_version: str, kind: str) -> AnyKind | None:
    """The kind serving XRs of this apiVersion and kind."""
    entry = _BY_TYPE.get((api_version, kind))
    return None if entry is None else load(entry)


def kinds() -> tuple[AnyKind, ...]:
    """Every kind, in catalogue order (their packages imported)."""
    return tuple(load(e) for e in ENTRIES)
