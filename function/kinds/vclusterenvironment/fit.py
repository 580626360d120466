"""The environment's quota and limit range, and the check that what runs in the namespace fits.

The quota comes from the XR, else its environment's preset, else the platform's default.
Each limit range default comes from the XR, else the platform's setting, else the quota:
what the quota leaves after the pods the environment knows of (the vCluster's own, its
add-ons', the namespace's instances'), shared evenly by the pods it still allows and by the
known containers that take that default; so quota.pods pods of default size fit, their
requests in the quota's requests and their limits in its limits (twice the requests).

The check refuses, with every number it found, a limit range the API server refuses
(a default request above the default limit), a known container the limit range makes
invalid (Kubernetes' LimitRanger sets a missing limit to the default even below the
container's request, and the pod is then refused), and a quota those pods do not fit in
beside the pods the defaults are for. Pods refused by the quota or the limit range are never
created again: a database's failover or rolling update would stop.
"""

import math
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from function.kinds.vclusterenvironment.instances import Instance
from function.kinds.vclusterenvironment.model import Quota
from function.kinds.vclusterenvironment.pods import (
    RESOURCES,
    Container,
    Defaults,
    Pod,
    refused,
    show,
    totals,
)
from function.kinds.vclusterenvironment.settings import EnvironmentContext, QuotaDefaults
from function.kinds.vclusterenvironment.vcluster import OWN_PODS, Limits
from function.quantity import parse
from function.refusal import Refusal

BASE = "spec.parameters.resources"
UNITS = {"cpu": Decimal("0.001"), "memory": Decimal(1024**2)}
# The limit range field of each (side, resource); requests are side 0, limits side 1.
FIELDS = {
    (0, "cpu"): "defaultRequestCPU",
    (0, "memory"): "defaultRequestMemory",
    (1, "cpu"): "defaultCPU",
    (1, "memory"): "defaultMemory",
}


def quota(ctx: EnvironmentContext) -> QuotaDefaults:
    """Each field from the XR, else its environment's preset, else the platform's default."""

    def merged(defaults: BaseModel, *over: BaseModel) -> dict[str, Any]:
        out: dict[str, Any] = defaults.model_dump()
        for layer in over:
            out |= layer.model_dump(exclude_none=True)
        return out

    settings = ctx.settings
    preset = settings.quotaPresets.get(ctx.params.environment, Quota())
    return QuotaDefaults(**merged(settings.quota, preset, ctx.params.resources.quota))


def hard(q: QuotaDefaults, side: int, resource: str) -> Decimal:
    """What the quota allows of a resource: its requests, or its limits (twice them)."""
    return parse(getattr(q, resource)) * (1 + side)


def _given(c: Container, side: int, resource: str) -> Decimal | None:
    return c.request(resource) if side == 0 else c.limits.get(resource)


def _slots(q: QuotaDefaults, known: list[Pod], side: int, resource: str) -> int:
    """How many containers take this default if every pod the quota allows runs."""
    defaulted = sum(1 for p in known for c in p.containers if _given(c, side, resource) is None)
    return max(q.pods - len(known), 0) + defaulted


def _share(q: QuotaDefaults, known: list[Pod], side: int, resource: str) -> Decimal:
    """An even share of what the quota leaves, rounded down to 1m or 1Mi, at least that."""
    fixed = sum(
        (_given(c, side, resource) or Decimal(0) for p in known for c in p.containers),
        Decimal(0),
    )
    slots = _slots(q, known, side, resource)
    unit = UNITS[resource]
    left = hard(q, side, resource) - fixed
    return max(math.floor(left / slots / unit), 1) * unit if slots else unit


def _quantity(amount: Decimal, resource: str) -> str:
    return f"{amount / UNITS[resource]:f}{'m' if resource == 'cpu' else 'Mi'}"


def limits(ctx: EnvironmentContext, known: list[Pod]) -> tuple[Limits, set[tuple[int, str]]]:
    """The quota and the limit range's defaults, and which defaults were derived."""
    q = quota(ctx)
    given = ctx.settings.limitRange.model_dump() | ctx.params.resources.limitRange.model_dump(
        exclude_none=True
    )
    values: dict[tuple[int, str], str] = {}
    derived: set[tuple[int, str]] = set()
    for (side, resource), name in FIELDS.items():
        if given.get(name) is not None:
            values[side, resource] = given[name]
            continue
        derived.add((side, resource))
        values[side, resource] = _quantity(_share(q, known, side, resource), resource)
    for resource in RESOURCES:
        # A derived default request is at most the default limit, as the API server requires.
        if (0, resource) in derived and parse(values[0, resource]) > parse(values[1, resource]):
            values[0, resource] = values[1, resource]
    return (
        Limits(
            quota=q,
            default_requests={r: values[0, r] for r in RESOURCES},
            default_limits={r: values[1, r] for r in RESOURCES},
        ),
        derived,
    )


def defaults_of(lim: Limits) -> Defaults:
    return Defaults(
        {r: parse(v) for r, v in lim.default_requests.items()},
        {r: parse(v) for r, v in lim.default_limits.items()},
    )


def _summary(pods: tuple[Pod, ...], defaults: Defaults, resource: str) -> str:
    """'1 pod: requests 2000m, limits 2000m' for one resource."""
    requested = sum((totals(p, defaults)[0][resource] for p in pods), Decimal(0))
    limited = sum((totals(p, defaults)[1][resource] for p in pods), Decimal(0))
    count = f"{len(pods)} pod{'s' if len(pods) != 1 else ''}"
    return f"{count}: requests {show(requested, resource)}, limits {show(limited, resource)}"


def check(
    lim: Limits,
    derived: set[tuple[int, str]],
    add_ons: list[str],
    add_on_pods: list[Pod],
    found: list[Instance],
) -> None:
    """One FATAL naming every default, quota field and instance that does not fit."""
    q, defaults = lim.quota, defaults_of(lim)
    problems = []
    for what, field in (("CPU", "cpu"), ("Memory", "memory")):
        request, limit = lim.default_requests[field], lim.default_limits[field]
        if parse(request) > parse(limit):
            problems.append(
                f"{BASE}.limitRange.defaultRequest{what}: must be at most default{what} "
                f"(got {request} > {limit})"
            )
    for instance in found:
        for pod in instance.pods[:1]:
            for c in (*pod.init_containers, *pod.containers):
                for resource, why in refused(c, defaults):
                    problems.append(
                        f"{BASE}.limitRange.{FIELDS[1, resource]}: {instance.label}'s pods "
                        f"would not be admitted: {why}"
                    )
    known = [*OWN_PODS, *add_on_pods, *(p for i in found for p in i.pods)]
    what = "the vCluster's own control plane and DNS"
    if add_ons:
        what += f", the add-ons ({', '.join(add_ons)})"
    free = max(q.pods - len(known), 1)
    for resource in RESOURCES:
        # (what the quota must hold, in requests, and how many default-sized pods that counts)
        least, extra = Decimal(0), 1
        for side in (0, 1):
            pods = free if (side, resource) in derived else 1
            default = (defaults.requests if side == 0 else defaults.limits)[resource]
            each = sum((totals(p, defaults)[side][resource] for p in known), Decimal(0))
            need = (each + pods * default) / (1 + side)
            if need > least:
                least, extra = need, pods
        given = getattr(q, resource)
        if parse(given) < least:
            listed = "".join(f", {i.label} ({_summary(i.pods, defaults, resource)})" for i in found)
            defaulted = (
                "one container" if extra == 1 else f"the {extra} more pods quota.pods allows"
            )
            problems.append(
                f"{BASE}.quota.{resource}: must leave room for {what}{listed} and {defaulted} "
                f"with the limit range's defaults: at least {show(least, resource)} (got "
                f"{given}, {show(least - parse(given), resource)} short)"
            )
    least_pods = len(known) + 1
    if q.pods < least_pods:
        listed = "".join(f", {i.label} ({len(i.pods)})" for i in found)
        problems.append(
            f"{BASE}.quota.pods: must leave room for {what}{listed} and one more pod: at least "
            f"{least_pods} (got {q.pods}, {least_pods - q.pods} short)"
        )
    if problems:
        raise Refusal("; ".join(problems))
