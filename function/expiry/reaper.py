"""The remove-expired Operation (install/components/remove-expired): delete XRs past their lifetime.

Why not an Operation returning desired state: at Crossplane v2.3.4 the operation
reconciler only server-side-applies what its functions return; it never deletes.
So, the way the Vault garbage collector already works, a CronOperation runs this
function with every XR of an expiring kind as required resources, and the
function itself deletes the expired ones through the Kubernetes API with a
service account bound to nothing but `delete` on those kinds.

What is deleted is decided from each XR's spec, the way its composer decides it
(Kind.lifetime: the ttl parameter, the ttl annotation or the kind's default, from
creationTimestamp, function/expiry/lifetime.py), and only once status.expiresAt, what
the XR was told, has passed too: a status written for an older spec (a ttl extended
since, in a new generation or in the annotation) never decides alone. An XR without a
status.expiresAt, a production XR, one already being deleted, one whose lifetime its
composer refuses, or one whose name or namespace is no DNS-1123 name (its URL would
name another object) is kept. Only when every requirement is present does anything
happen: a missing list must never read as "nothing to keep".
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from function import catalogue
from function.context import Composite
from function.expiry import kubeapi, lifetime
from function.expiry.model import ExpiringStatus
from function.formats import DNS_1123_LABEL, DNS_1123_SUBDOMAIN
from function.kind import AnyKind
from function.observed import mapping, text
from function.refusal import Refusal
from function.structs import JSON, dig
from function.validation import cut, parse_parameters

# requirementName -> kind: every catalogue kind whose XRs can expire (the CronOperation of
# install/components/remove-expired is generated from it).
EXPIRING: dict[str, AnyKind] = {
    k.api.plural: k for k in catalogue.kinds() if issubclass(k.api.status, ExpiringStatus)
}


# Kubernetes object names (a DNS-1123 subdomain of at most 253) and namespaces (a DNS-1123
# label of at most 63): k8s.io/apimachinery pkg/util/validation/validation.go.
_NAME = re.compile(DNS_1123_SUBDOMAIN)
_NAMESPACE = re.compile(DNS_1123_LABEL)


@dataclass(frozen=True)
class Decision:
    """Whether to delete one XR, and why."""

    xr: str  # namespace/name
    delete: bool
    why: str


def decide(kind: AnyKind, xr: JSON, at: datetime, settings: Any) -> Decision:
    """Delete xr only if both its spec (the kind's lifetime from its creation) and its
    status.expiresAt say it expired before at; never production, nor one already going."""
    meta = mapping(xr, "metadata") or {}
    namespace, name = text(meta, "namespace") or "", text(meta, "name") or ""
    who = f"{cut(namespace)}/{cut(name)}"
    if not (len(name) <= 253 and _NAME.fullmatch(name)) or not (
        len(namespace) <= 63 and _NAMESPACE.fullmatch(namespace)
    ):
        return Decision(who, delete=False, why="its name or namespace is no DNS-1123 name")
    if meta.get("deletionTimestamp"):
        return Decision(who, delete=False, why="already being deleted")
    parameters = dig(xr, "spec", "parameters")
    if text(parameters, "environment") == "production":
        return Decision(who, delete=False, why="production never expires")
    recorded = dig(xr, "status", "expiresAt")
    if not recorded:
        return Decision(who, delete=False, why="no lifetime")
    told = lifetime.parse_timestamp(recorded) if isinstance(recorded, str) else None
    if told is None:
        shown = cut(repr(recorded))
        return Decision(who, delete=False, why=f"status.expiresAt is not a timestamp: {shown}")
    if at < told:
        return Decision(who, delete=False, why=f"expires at {recorded}")
    expires = _expires(kind, xr, parameters, settings)
    if isinstance(expires, str):
        return Decision(who, delete=False, why=expires)
    if at < expires:
        return Decision(
            who,
            delete=False,
            why=f"expires at {lifetime.timestamp(expires)} by its spec (status.expiresAt "
            f"{recorded} is of an older one)",
        )
    return Decision(who, delete=True, why=f"expired at {lifetime.timestamp(expires)}")


def _expires(kind: AnyKind, xr: JSON, parameters: Any, settings: Any) -> datetime | str:
    """When xr expires by its spec, as its composer computes it; else why it does not."""
    if kind.lifetime is None:
        return "its kind gives no lifetime"
    identity = Composite.from_object(xr)
    try:
        duration = kind.lifetime(
            identity, parse_parameters(kind.api.parameters, parameters), settings
        )
    except Refusal as refusal:
        return f"its lifetime is refused: {refusal.problems[0] if refusal.problems else ''}"
    if duration is None:
        return "no lifetime in its spec"
    expires = lifetime.expires_at(identity, duration)
    return expires if expires is not None else "no creation time to count its lifetime from"


def _target(kind: AnyKind, xr: JSON) -> kubeapi.Target:
    meta = mapping(xr, "metadata") or {}
    group, _, version = kind.api.api_version.partition("/")
    return kubeapi.Target(
        group=group,
        version=version,
        plural=kind.api.plural,
        namespace=text(meta, "namespace") or "",
        name=text(meta, "name") or "",
        uid=text(meta, "uid") or "",
        resource_version=text(meta, "resourceVersion") or "",
    )


def remove_expired(
    required: Mapping[str, Sequence[JSON]],
    api: "kubeapi.APIServer | None",
    at: datetime,
    log: Any = None,
    settings: Mapping[str, Any] | None = None,
) -> tuple[JSON, str | None]:
    """(output, problem): what was deleted and kept, or why not everything could be done.

    api None: the API server cannot be reached (not in a pod); nothing is deleted.
    settings: each requirement's kind's settings (default: the kind's defaults), for the
    lifetime its composer gives.
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
        kind_settings = (settings or {}).get(requirement) or kind.settings()
        for xr in required[requirement]:
            decision = decide(kind, xr, at, kind_settings)
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
