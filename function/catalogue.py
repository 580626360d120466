"""The composite kinds this function serves, each with its API and composer."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from function.api.common import CompositeKind
from function.api.kubernetescluster import KUBERNETES_CLUSTER
from function.api.postgresql import POSTGRESQL
from function.api.redis import REDIS
from function.composers import kubernetescluster, postgresql, redis
from function.context import Context, Desired


@dataclass(frozen=True)
class Entry:
    """A kind's API and the function that composes it."""

    api: CompositeKind
    compose: Callable[[Context[Any]], Desired]


CATALOGUE: tuple[Entry, ...] = (
    Entry(POSTGRESQL, postgresql.compose),
    Entry(REDIS, redis.compose),
    Entry(KUBERNETES_CLUSTER, kubernetescluster.compose),
)

_BY_TYPE = {(e.api.api_version, e.api.kind): e for e in CATALOGUE}


def lookup(api_version: str, kind: str) -> Entry | None:
    """The entry serving XRs of this apiVersion and kind."""
    return _BY_TYPE.get((api_version, kind))
