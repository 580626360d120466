"""Whether a composed resource is ready, judged from its observed state: the one mechanism.

Crossplane cannot tell for kinds without a Ready condition (a Secret) or
whose Ready condition says less than their own status (a Helm release is
ready when deployed), so the function says so for every resource it composes.
Each kind declares rules for what it composes (function/kinds/<kind>/), shared
blocks declare theirs next to the objects they build (function/blocks/); any
other object is ready when its Ready condition is True.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from function.observed import condition_status, flag
from function.structs import JSON, api_group

Check = Callable[[JSON], bool]
ANY_KIND = "*"
# (API group, kind) -> check; kind ANY_KIND covers every kind of the group.
Rules = Mapping[tuple[str, str], Check]


def condition_true(obj: JSON, kind: str) -> bool:
    return condition_status(obj, kind) == "True"


def exists(_: JSON) -> bool:
    """For objects without status: ready once they exist."""
    return True


def ready_condition(obj: JSON) -> bool:
    return condition_true(obj, "Ready")


def available_condition(obj: JSON) -> bool:
    """Cluster API v1beta2 objects summarise readiness in an Available condition."""
    return condition_true(obj, "Available")


def status_ready(obj: JSON) -> bool:
    """Cluster API v1alpha1 infrastructure (CAPK's KubevirtCluster): status.ready."""
    return flag(obj, "status", "ready")


# Built-in Kubernetes objects, whichever kind composes them: core objects (Secret,
# ConfigMap, ...) and RBAC have no status; a Deployment reports Available.
CORE: Rules = {
    ("", ANY_KIND): exists,
    ("rbac.authorization.k8s.io", ANY_KIND): exists,
    ("apps", "Deployment"): available_condition,
}


@dataclass(frozen=True)
class Readiness:
    """A kind's readiness rules, looked up by (group, kind), then (group, any kind)."""

    rules: Rules

    @classmethod
    def of(cls, *rules: Rules) -> "Readiness":
        """Rules merged in order (later ones win), on top of the core rules."""
        merged: dict[tuple[str, str], Check] = dict(CORE)
        for r in rules:
            merged.update(r)
        return cls(merged)

    def is_ready(self, observed: JSON | None) -> bool:
        """True when the observed object is ready; False when absent or not yet ready."""
        if observed is None:
            return False
        group = api_group(str(observed.get("apiVersion", "")))
        kind = str(observed.get("kind", ""))
        check = self.rules.get((group, kind)) or self.rules.get((group, ANY_KIND))
        return (check or ready_condition)(observed)


def is_failing(observed: JSON | None) -> bool:
    """True when a managed resource reports that it cannot sync."""
    return observed is not None and condition_status(observed, "Synced") == "False"
