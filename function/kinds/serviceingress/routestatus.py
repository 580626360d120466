"""What the Gateways say of an HTTPRoute: status.parents[].conditions, read once for status and
readiness.

Gateway API v1.6.1 (httproutes CRD, RouteParentStatus): each Gateway's controller
writes one entry per parentRef it serves, with the condition Accepted (reasons
Accepted, NotAllowedByListeners, NoMatchingListenerHostname, NoMatchingParent,
UnsupportedValue, Pending) and ResolvedRefs (ResolvedRefs, RefNotPermitted,
InvalidKind, BackendNotFound, UnsupportedProtocol). A parentRef with no entry
has not been seen by a controller yet, and an answer whose observedGeneration is
below the route's generation is about an older spec: both are pending.

What a controller wrote is copied into the XR's status once per parentRef, so each string
taken from it is cut (CRD maxLength of a condition's message is 32768, its reason 1024;
an observed object need not obey its CRD).
"""

from typing import Any

from function.kinds.serviceingress.model import RouteParent
from function.observed import Condition, condition, integer, mapping, objects, text
from function.structs import JSON
from function.validation import cut

PENDING = "Pending"
NO_STATUS = "no Gateway controller has reported on the route yet"
# The most of a controller's condition message or reason kept in the XR's status.
MESSAGE_MAX = 1024
REASON_MAX = 128


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else cut(value, limit)


def _key(ref: JSON, namespace: str) -> tuple[str, str, str]:
    return (
        text(ref, "namespace") or namespace,
        text(ref, "name") or "",
        text(ref, "sectionName") or "",
    )


def _shown(key: tuple[str, str, str]) -> str:
    namespace, name, section = key
    return cut(f"{namespace}/{name}" + (f"/{section}" if section else ""))


def _stale(accepted: Condition, generation: int | None) -> bool:
    """The answer is about an older spec: observedGeneration below the route's generation."""
    seen = accepted.get("observedGeneration")
    return seen is not None and generation is not None and seen < generation


def _parent(
    key: tuple[str, str, str], entry: dict[str, Any] | None, generation: Any
) -> RouteParent:
    if entry is None:
        return RouteParent(gateway=_shown(key), accepted=False, reason=None, message=NO_STATUS)
    accepted = condition(entry, "Accepted") or {}
    if _stale(accepted, generation):
        return RouteParent(
            gateway=_shown(key),
            accepted=False,
            reason=PENDING,
            message=f"the Gateway has not reported on generation {generation} of the route yet "
            f"(its answer is about generation {accepted['observedGeneration']})",
        )
    refs = condition(entry, "ResolvedRefs")
    is_accepted = accepted.get("status") == "True"
    refs_ok = None if refs is None else refs.get("status") == "True"
    return RouteParent(
        gateway=_shown(key),
        accepted=is_accepted,
        reason=None if is_accepted else _cut(accepted.get("reason", PENDING), REASON_MAX),
        message=None if is_accepted else _cut(accepted.get("message"), MESSAGE_MAX) or None,
        refsResolved=refs_ok,
        refsReason=None if refs is None or refs_ok else _cut(refs.get("reason"), REASON_MAX),
    )


def route_parents(route: JSON | None, namespace: str) -> list[RouteParent]:
    """One entry per parentRef of the observed route ([] when it is not observed)."""
    if route is None:
        return []
    namespace = text(route, "metadata", "namespace") or namespace
    generation = integer(route, "metadata", "generation")
    # Each entry wrapped as {"status": entry}: the shape observed.condition reads.
    by_ref = {
        _key(mapping(p, "parentRef") or {}, namespace): {"status": p}
        for p in objects(route, "status", "parents")
    }
    return [
        _parent(key, by_ref.get(key), generation)
        for key in (_key(ref, namespace) for ref in objects(route, "spec", "parentRefs"))
    ]


def route_ready(route: JSON) -> bool:
    """Every Gateway accepted the route and resolved its backends."""
    parents = route_parents(route, "")
    return bool(parents) and all(p.accepted and p.refsResolved for p in parents)
