"""Pods in the environment's namespace, and what the namespace's LimitRange makes of them.

A vCluster's namespace holds pods the environment knows of before any team workload:
the vCluster's own, its add-ons' and the namespace's platform instances'. Each gets
the LimitRange's defaults where it sets no value (Kubernetes
plugin/pkg/admission/limitranger: a default limit where a container has no limit, a
default request where it has no request; the API server has already made a request
equal to the limit where only the limit is set), and the ResourceQuota counts them.
"""

import math
from dataclasses import dataclass, field
from decimal import Decimal

from function.quantity import parse
from function.structs import JSON

RESOURCES = ("cpu", "memory")


@dataclass(frozen=True)
class Container:
    """What one container sets: resource name -> amount, as its pod template writes it."""

    name: str
    requests: dict[str, Decimal] = field(default_factory=dict)
    limits: dict[str, Decimal] = field(default_factory=dict)

    def request(self, resource: str) -> Decimal | None:
        """Its request once the API server has defaulted it to the limit."""
        return self.requests.get(resource, self.limits.get(resource))


@dataclass(frozen=True)
class Pod:
    """One pod that runs in the namespace."""

    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...] = ()


@dataclass(frozen=True)
class Defaults:
    """The LimitRange's per-container default requests and limits."""

    requests: dict[str, Decimal]
    limits: dict[str, Decimal]


def container(name: str, resources: JSON) -> Container:
    """A container from a Kubernetes resources object ({requests: {...}, limits: {...}})."""

    def amounts(key: str) -> dict[str, Decimal]:
        found = resources.get(key) or {}
        return {r: parse(str(found[r])) for r in RESOURCES if r in found}

    return Container(name, amounts("requests"), amounts("limits"))


def admitted(c: Container, defaults: Defaults) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """(requests, limits) of a container after the LimitRange's defaults."""
    requests = {r: _or(c.request(r), defaults.requests[r]) for r in RESOURCES}
    limits = {r: _or(c.limits.get(r), defaults.limits[r]) for r in RESOURCES}
    return requests, limits


def _or(given: Decimal | None, default: Decimal) -> Decimal:
    return default if given is None else given


def refused(c: Container, defaults: Defaults) -> list[tuple[str, str]]:
    """(resource, why) for each request the API server would find above the container's
    default limit: LimitRanger sets a missing limit whatever the request."""
    requests, limits = admitted(c, defaults)
    return [
        (
            r,
            f"container {c.name} requests {r} {show(requests[r], r)} above the default limit "
            f"{show(limits[r], r)}",
        )
        for r in RESOURCES
        if r not in c.limits and requests[r] > limits[r]
    ]


def totals(pod: Pod, defaults: Defaults) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """What the quota counts of a pod: per resource, the larger of its containers' sum and
    its largest init container (those run one at a time, before the others)."""
    out: list[dict[str, Decimal]] = []
    for side in (0, 1):
        each = [admitted(c, defaults)[side] for c in pod.containers]
        first = [admitted(c, defaults)[side] for c in pod.init_containers]
        out.append(
            {
                r: max([sum((x[r] for x in each), Decimal(0)), *(x[r] for x in first)])
                for r in RESOURCES
            }
        )
    return out[0], out[1]


def show(amount: Decimal, resource: str) -> str:
    """An amount as a quantity, rounded up: CPU in millicores, memory in Mi."""
    if resource == "cpu":
        return f"{math.ceil(amount * 1000)}m"
    return f"{math.ceil(amount / 1024**2)}Mi"
