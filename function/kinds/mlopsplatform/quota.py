"""What the workspace's pods and volumes ask of its quota together.

The Profile's quota is a ResourceQuota: the API server admits a pod or a claim only
while the namespace's requests stay within it, one object at a time, and refuses the
rest (Kubernetes docs, concepts/policy/resource-quotas). The training operator creates
a TFJob's pods one by one and nothing schedules them as a gang, so a job whose
replicas do not all fit is partly admitted: its pods hold their GPUs and wait for the
others forever. So what must run at once is summed: the notebook, each model's
minReplicas, every replica of every training job; and every claim: the notebook's
workspace volume and each Qdrant server's volume.

The rules run on partly valid input too (function/validation.py): a part that did not
validate counts as nothing, and a quota that did not validate is not judged.
"""

import re
from decimal import Decimal
from typing import Any

from function.quantity import QUANTITY_PATTERN, parse
from function.refusal import Refusal
from function.validation import shown

GIB = 1024**3
# GiB or GPUs by the fields that ask for them: (count,) or (replicas, each).
Demand = dict[str, tuple[int, ...]]
_QUANTITY = re.compile(QUANTITY_PATTERN)


def part(obj: Any, name: str) -> Any:
    """A field of a parsed part, or of a raw object (rules also run on partly valid input)."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _count(obj: Any, *path: str) -> int:
    for name in path:
        obj = part(obj, name)
    return obj if isinstance(obj, int) and not isinstance(obj, bool) else 0


def gpu_demand(p: Any) -> Demand:
    """GPUs of what runs at once, by the fields that ask for them: (count,) or
    (replicas, GPUs per pod). Only the parts asking for some."""
    out: Demand = {}
    if part(p.notebooks, "enabled") is True and _count(p.notebooks, "gpu"):
        out["notebooks.gpu"] = (_count(p.notebooks, "gpu"),)
    for i, m in enumerate(p.serving or ()):
        low, each = _count(m, "minReplicas"), _count(m, "resources", "gpu")
        if low * each:
            out[f"serving[{i}].minReplicas x resources.gpu"] = (low, each)
    for i, j in enumerate(p.training or ()):
        workers, each = _count(j, "workers"), _count(j, "resources", "gpu")
        servers, per_server = (
            _count(j, "parameterServers"),
            _count(j, "parameterServerResources", "gpu"),
        )
        if workers * each:
            out[f"training[{i}].workers x resources.gpu"] = (workers, each)
        if servers * per_server:
            out[f"training[{i}].parameterServers x parameterServerResources.gpu"] = (
                servers,
                per_server,
            )
    return out


def _total(demand: Demand) -> int:
    total = 0
    for factors in demand.values():
        product = 1
        for f in factors:
            product *= f
        total += product
    return total


def _itemized(demand: Demand) -> str:
    return " + ".join(f"{field} {' x '.join(map(str, n))}" for field, n in demand.items())


def gpus_fit(p: Any) -> bool:
    """The GPUs of what runs at once are within the quota's."""
    quota = part(p.resources, "gpu")
    return not isinstance(quota, int) or _total(gpu_demand(p)) <= quota


def gpu_shortfall(p: Any) -> dict[str, str]:
    """The quota, and what asks for more, itemized: the FATAL names each field and number."""
    demand = gpu_demand(p)
    quota = part(p.resources, "gpu")
    return {".gpu": f"{quota}, but {_total(demand)} are requested: {_itemized(demand)}"}


def storage_demand(p: Any) -> Demand:
    """GiB of the claims composed, by the fields that size them."""
    out: Demand = {}
    if part(p.notebooks, "enabled") is True:
        out["notebooks.workspaceGB"] = (_count(p.notebooks, "workspaceGB"),)
    db = p.vectorDatabase
    if part(db, "enabled") is True:
        out["vectorDatabase.replicas x storageGB"] = (
            _count(db, "replicas"),
            _count(db, "storageGB"),
        )
    return out


def _quota_bytes(p: Any) -> Decimal | None:
    quota = part(p.resources, "storage")
    return parse(quota) if isinstance(quota, str) and _QUANTITY.fullmatch(quota) else None


STORAGE_MESSAGE = (
    "storage must hold every volume claimed (the notebook's workspace, each Qdrant server's "
    "volume): the quota refuses a claim past it"
)


def storage_fits(p: Any, kept: Demand | None = None) -> bool:
    """The claims composed (and those kept from before) are within requests.storage."""
    quota = _quota_bytes(p)
    return quota is None or _total(storage_demand(p) | (kept or {})) * GIB <= quota


def storage_shortfall(p: Any, kept: Demand | None = None) -> dict[str, str]:
    """The quota, and the claims that ask for more, itemized in GiB."""
    demand = storage_demand(p) | (kept or {})
    quota = part(p.resources, "storage")
    return {".storage": f"{quota}, but {_total(demand)}Gi are claimed: {_itemized(demand)}"}


def refuse_storage_past_quota(p: Any, kept: Demand) -> None:
    """Refusal when the claims composed and those kept from before exceed the quota (the
    XRD's rule sees only the parameters)."""
    if not storage_fits(p, kept):
        ((where, got),) = storage_shortfall(p, kept).items()
        raise Refusal(f"spec.parameters.resources{where}: {STORAGE_MESSAGE} (got {shown(got)})")
