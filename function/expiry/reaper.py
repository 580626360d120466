"""The remove-expired Operation (install/components/remove-expired): delete XRs past their lifetime.

Why not an Operation returning desired state: at Crossplane v2.3.4 the operation
reconciler only server-side-applies what its functions return; it never deletes.
So, the way the Vault garbage collector already works, a CronOperation runs this
function with every XR of an expiring kind as required resources, and the
function itself deletes the expired ones through the Kubernetes API with a
service account bound to nothing but `delete` on those kinds.

What is deleted is decided from each XR's status.expiresAt (written by the
composer from its lifetime, function/expiry/lifetime.py), never from the clock
alone: an XR without one, a production XR, or one already being deleted is kept.
Only when every requirement is present does anything happen: a missing list
must never read as "nothing to keep".
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from function import catalogue
from function.expiry import kubeapi, lifetime
from function.expiry.model import ExpiringStatus
from function.kind import AnyKind
from function.structs import JSON

# requirementName -> kind: every catalogue kind whose XRs can expire (the CronOperation of
# install/components/remove-expired is generated from it).
EXPIRING: dict[str, AnyKind] = {
    k.api.plural: k for k in catalogue.kinds() if issubclass(k.api.status, ExpiringStatus)
}


@dataclass(frozen=True)
class Decision:
    """Whether to delete one XR, and why."""

    xr: str  # namespace/name
    delete: bool
    why: str


def decide(xr: JSON, at: datetime) -> Decision:
    """Delete xr only if its status.expiresAt is past at, it is not production, nor going."""
    meta = xr.get("metadata") or {}
    who = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    if meta.get("deletionTimestamp"):
        return Decision(who, delete=False, why="already being deleted")
    parameters = (xr.get("spec") or {}).get("parameters") or {}
    if parameters.get("environment") == "production":
        return Decision(who, delete=False, why="production never expires")
    recorded = (xr.get("status") or {}).get("expiresAt")
    if not recorded:
        return Decision(who, delete=False, why="no lifetime")
    expires = lifetime.parse_timestamp(str(recorded))
    if expires is None:
        return Decision(who, delete=False, why=f"status.expiresAt is not a timestamp: {recorded!r}")
    if at < expires:
        return Decision(who, delete=False, why=f"expires at {recorded}")
    return Decision(who, delete=True, why=f"expired at {recorded}")


def _target(kind: AnyKind, xr: JSON) -> kubeapi.Target:
    meta = xr.get("metadata") or {}
    group, _, version = kind.api.api_version.partition("/")
    return kubeapi.Target(
        group=group,
        version=version,
        plural=kind.api.plural,
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
    )


def remove_expired(
    required: Mapping[str, Sequence[JSON]],
    api: "kubeapi.APIServer | None",
    at: datetime,
    log: Any = None,
) -> tuple[JSON, str | None]:
    """(output, problem): what was deleted and kept, or why not everything could be done.

    api None: the API server cannot be reached (not in a pod); nothing is deleted.
    A failed delete does not stop the others; the first failure is the problem.
    """
    missing = sorted(set(EXPIRING) - set(required))
    if missing:
        return {"deleted": []}, "required resources missing: " + ", ".join(missing)
    deleted: list[str] = []
    changed: list[str] = []
    problem: str | None = None
    for requirement in sorted(EXPIRING):
        kind = EXPIRING[requirement]
        for xr in required[requirement]:
            decision = decide(xr, at)
            if not decision.delete:
                continue
            what = f"{kind.api.kind} {decision.xr}"
            if api is None:
                problem = problem or f"cannot delete {what}: no API server"
                continue
            try:
                outcome = kubeapi.delete(api, _target(kind, xr))
            except kubeapi.KubeAPIError as e:
                problem = problem or f"{e.reason}: {e.message}"
                continue
            if outcome == kubeapi.CHANGED:
                changed.append(what)  # decided again on the next run
            else:
                deleted.append(what)
            if log is not None:
                log.info("remove expired", xr=what, outcome=outcome, why=decision.why)
    return {"deleted": deleted, "changedSinceListed": changed}, problem
