"""Who holds a host: the ServiceIngress that asked for it first.

Tenancy rules may let two namespaces use one host (overlapping wildcards, or rules
changed under live XRs), and Gateway API merges the rules of every HTTPRoute naming a
hostname, the most specific hostname first (gateway-api v1.6.1 apis/v1/httproute_types.go,
HTTPRouteSpec.Hostnames). So the function reads every ServiceIngress of the cluster (a
required resource) and refuses a host another XR holds:
- of another namespace: any host matching one of its hosts (wildcards included), when
  that namespace may use it and the other XR is older (creationTimestamp, then
  namespace/name: both sides agree on who came first);
- of the same namespace: the team's own hosts may be shared between its XRs, but not a
  route matching the same requests on the same host, the overlap already refused
  within one XR (spec.parameters.routes).
Until Crossplane has answered the requirement, nothing is refused (not yet known).
"""

import json

from pydantic import ValidationError

from function.context import Desired, RequiredKind
from function.kinds.serviceingress.model import API, Match
from function.kinds.serviceingress.settings import IngressContext
from function.observed import mapping, objects, strings, text
from function.structs import JSON
from function.tenancy import host_allowed, hosts_overlap, rules_for

INGRESSES = "serviceingresses"  # required resource key: every ServiceIngress
INGRESS_KIND = RequiredKind(API.api_version, API.kind, API.plural)
EVERY_INGRESS = INGRESS_KIND.every("")


def require_ingresses(desired: Desired) -> Desired:
    """Ask for every ServiceIngress, on every call (Context.found reads what was fetched)."""
    desired.require(INGRESSES, EVERY_INGRESS)
    return desired


def _order(namespace: str, name: str, created: str) -> tuple[str, str, str]:
    # RFC 3339 in UTC, as the API server writes it: ordered as text.
    return created, namespace, name


def _matches(other: JSON) -> set[str]:
    """The other XR's route matches, as this XR's model writes them (defaults filled in)."""
    out = set()
    for route in objects(other, "spec", "parameters", "routes"):
        try:
            match = Match.model_validate(mapping(route, "match") or {})
        except ValidationError:
            continue
        out.add(_key(match))
    return out


def _key(match: Match) -> str:
    return json.dumps(match.model_dump(), sort_keys=True)


def held_problems(ctx: IngressContext) -> list[str]:
    """Each host (or route on a host) of this XR that an older ServiceIngress holds."""
    if not ctx.fetched(INGRESSES):
        return []
    me = _order(ctx.xr.namespace, ctx.xr.name, ctx.xr.created)
    hosts = ctx.params.hosts
    mine = [_key(r.match) for r in ctx.params.routes]
    taken: dict[int, set[str]] = {}
    overlapping: dict[int, set[str]] = {}
    for other in ctx.required.get(INGRESSES, []):
        if (other.get("apiVersion"), other.get("kind")) != (API.api_version, API.kind):
            continue
        namespace = text(other, "metadata", "namespace") or ""
        name = text(other, "metadata", "name") or ""
        created = text(other, "metadata", "creationTimestamp") or ""
        if (namespace, name) == (ctx.xr.namespace, ctx.xr.name) or not namespace:
            continue
        if text(other, "metadata", "deletionTimestamp") or _order(namespace, name, created) > me:
            continue
        theirs = strings(other, "spec", "parameters", "hosts")
        if namespace != ctx.xr.namespace:
            allowed = rules_for(ctx.platform.tenancy, namespace).hosts
            for i, host in enumerate(hosts):
                if any(hosts_overlap(host, h) and host_allowed(allowed, h) for h in theirs):
                    taken.setdefault(i, set()).add(namespace)
        elif set(hosts) & set(theirs):
            same = _matches(other)
            for j, key in enumerate(mine):
                if key in same:
                    overlapping.setdefault(j, set()).add(name)
    problems = [
        f"spec.parameters.hosts[{i}] {hosts[i]!r}: held by a ServiceIngress of namespace "
        f"{', '.join(sorted(taken[i]))}, which asked for it first; use another host"
        for i in sorted(taken)
    ]
    problems += [
        f"spec.parameters.routes[{j}].match: ServiceIngress {', '.join(sorted(overlapping[j]))} "
        "of this namespace already routes the same requests on a host of this one (the "
        "Gateway would send them to one of the two); change the match or the host"
        for j in sorted(overlapping)
    ]
    return problems
