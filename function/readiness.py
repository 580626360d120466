"""Whether a composed resource is ready, judged from its observed state.

Crossplane cannot tell for kinds without a Ready condition (a Secret) or
whose Ready condition says less than their own status (a Helm release is
ready when deployed), so the function says so for every resource it composes.
"""

from collections.abc import Callable
from typing import Any

from function.structs import JSON

Check = Callable[[JSON], bool]


def condition(obj: JSON, kind: str) -> dict[str, Any] | None:
    """The status condition of that type, if any."""
    for c in obj.get("status", {}).get("conditions", []) or []:
        if c.get("type") == kind:
            return dict(c)
    return None


def condition_true(obj: JSON, kind: str) -> bool:
    c = condition(obj, kind)
    return c is not None and c.get("status") == "True"


def _exists(_: JSON) -> bool:
    return True


def _ready_condition(obj: JSON) -> bool:
    return condition_true(obj, "Ready")


def _available_condition(obj: JSON) -> bool:
    # Cluster API v1beta2 objects summarise readiness in an Available condition.
    return condition_true(obj, "Available")


def _status_ready(obj: JSON) -> bool:
    # Cluster API v1alpha1 infrastructure (CAPK's KubevirtCluster): status.ready.
    return obj.get("status", {}).get("ready") is True


def _helm_release(obj: JSON) -> bool:
    deployed = obj.get("status", {}).get("atProvider", {}).get("state") == "deployed"
    return deployed and condition_true(obj, "Ready")


# By API group; groups not listed use the Ready condition. Objects that have
# no status at all are ready once they exist.
_BY_GROUP: dict[str, Check] = {
    "": _exists,  # core: Secret, ConfigMap, ...
    "helm.m.crossplane.io": _helm_release,
    "helm.crossplane.io": _helm_release,
    "barmancloud.cnpg.io": _exists,
    "cluster.x-k8s.io": _available_condition,
    "controlplane.cluster.x-k8s.io": _available_condition,
    "bootstrap.cluster.x-k8s.io": _exists,  # templates: no status
}
_BY_KIND: dict[tuple[str, str], Check] = {
    ("postgresql.cnpg.io", "ScheduledBackup"): _exists,
    ("helm.m.crossplane.io", "ProviderConfig"): _exists,
    ("cluster.x-k8s.io", "MachineHealthCheck"): _exists,  # conditions say health, not readiness
    ("infrastructure.cluster.x-k8s.io", "KubevirtCluster"): _status_ready,
    ("infrastructure.cluster.x-k8s.io", "KubevirtMachineTemplate"): _exists,
}


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def is_ready(observed: JSON | None) -> bool:
    """True when the observed object is ready; False when absent or not yet ready."""
    if observed is None:
        return False
    group = _group(str(observed.get("apiVersion", "")))
    check = _BY_KIND.get((group, str(observed.get("kind", "")))) or _BY_GROUP.get(
        group, _ready_condition
    )
    return check(observed)


def is_failing(observed: JSON | None) -> bool:
    """True when a managed resource reports that it cannot sync."""
    if observed is None:
        return False
    synced = condition(observed, "Synced")
    return synced is not None and synced.get("status") == "False"
