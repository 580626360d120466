"""class gateway-api: an HTTPRoute on the shared Gateway, or a dedicated Gateway and Certificate.

Followed: Gateway API v1.6.1 (standard channel) config/crd/standard/
gateway.networking.k8s.io_httproutes.yaml and _gateways.yaml, and the guides
site-src/guides/http-routing.md, traffic-splitting.md (weights), http-timeouts.md,
http-cors.md, multiple-ns.md (routes attaching to a Gateway of another namespace) and
tls.md (a Gateway terminates TLS with the Secret its listener names; one in another
namespace needs a ReferenceGrant);
cert-manager v1.21.1 deploy/crds/cert-manager.io_certificates.yaml.

TLS on a shared Gateway is its listener's (the platform's certificate): the
listener names its certificate Secret, and a Gateway may only read a Secret
of another namespace through a ReferenceGrant, so a Certificate composed in
the XR's namespace would be served only after a grant and an edit of the
platform's listeners, neither of which an XR may make. A certificate of the hosts'
own comes with a dedicated Gateway, both in the XR's namespace (docs/kinds/serviceingress.md;
a ListenerSet would do it on the shared Gateway, but its CRD is not among the shared
upstream CRDs).
"""

from crossplane.function import resource

from function.context import Desired, WarningResult
from function.kinds.serviceingress.model import CORS, Route, RouteParent, ServiceIngressStatus
from function.kinds.serviceingress.routestatus import PENDING, route_parents
from function.kinds.serviceingress.settings import IngressContext
from function.naming import dns_label
from function.observed import condition
from function.readiness import ready_condition
from function.refusal import Refusal
from function.structs import JSON

GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_API = f"{GATEWAY_GROUP}/v1"
CERT_MANAGER_API = "cert-manager.io/v1"
CRDS = (
    "crds/gateway-api/gateway.networking.k8s.io_httproutes.yaml",
    "crds/gateway-api/gateway.networking.k8s.io_gateways.yaml",
    "crds/cert-manager/cert-manager.io_certificates.yaml",
)

ROUTE = "route"
GATEWAY = "gateway"
CERTIFICATE = "certificate"

HTTP_LISTENER = "http"
HTTPS_LISTENER = "https"

ROUTES_ACCEPTED = "RoutesAccepted"
SHARED_SETTINGS = "serviceIngress.gatewayAPI.sharedGateway"


def compose_gateway_api(ctx: IngressContext) -> Desired:
    """The HTTPRoute, and with a dedicated gateway its Gateway and (TLS on) its Certificate."""
    params = ctx.params
    resources: dict[str, JSON] = {}
    if params.gateway == "dedicated":
        gateway = dns_label(ctx.xr.name, "gateway")
        secret = dns_label(ctx.xr.name, "tls") if params.tls.enabled else None
        resources[GATEWAY] = _gateway(ctx, gateway, secret)
        parent: JSON = {"name": gateway}
        if secret is not None:
            resources[CERTIFICATE] = _certificate(ctx, secret)
    else:
        parent = _shared_parent(ctx)
    listener = HTTPS_LISTENER if params.tls.enabled else HTTP_LISTENER
    parent = {"group": GATEWAY_GROUP, "kind": "Gateway"} | parent
    parent.setdefault("sectionName", listener)
    resources[ROUTE] = _route(ctx, parent)
    return _state(ctx, resources)


def _shared_parent(ctx: IngressContext) -> JSON:
    shared = ctx.settings.gatewayAPI.sharedGateway
    if ctx.params.tls.enabled and shared.httpsListener is None:
        raise Refusal(
            f"spec.parameters.tls: the shared Gateway has no HTTPS listener (platform setting "
            f"{SHARED_SETTINGS}.httpsListener is unset); turn TLS off or set gateway: dedicated"
        )
    if shared.hostname is not None:
        outside = [
            f"spec.parameters.hosts[{i}] {h!r}"
            for i, h in enumerate(ctx.params.hosts)
            if not listener_covers(shared.hostname, h)
        ]
        if outside:
            raise Refusal(
                f"{', '.join(outside)}: not under the shared Gateway's hostname "
                f"{shared.hostname!r} (platform setting {SHARED_SETTINGS}.hostname), so the "
                "Gateway would not accept the route; use a host under it, or gateway: dedicated"
            )
    listener = shared.httpsListener if ctx.params.tls.enabled else shared.httpListener
    return {"name": shared.name, "namespace": shared.namespace, "sectionName": listener}


def listener_covers(listener: str, host: str) -> bool:
    """Whether a route host is accepted by a listener of that hostname (Gateway API rules:
    *.example.org takes any host ending in .example.org; otherwise they must be equal)."""
    if listener.startswith("*."):
        suffix = listener[1:]
        return host.endswith(suffix) and len(host) > len(suffix)
    return host == listener


def _gateway(ctx: IngressContext, name: str, secret: str | None) -> JSON:
    listener: JSON
    if secret is None:
        listener = {"name": HTTP_LISTENER, "port": 80, "protocol": "HTTP"}
    else:
        listener = {
            "name": HTTPS_LISTENER,
            "port": 443,
            "protocol": "HTTPS",
            "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": secret}]},
        }
    listener["allowedRoutes"] = {"namespaces": {"from": "Same"}}
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": ctx.xr.namespace},
        "spec": {
            "gatewayClassName": ctx.settings.gatewayAPI.dedicated.gatewayClassName,
            "listeners": [listener],
        },
    }


def _certificate(ctx: IngressContext, secret: str) -> JSON:
    issuer = ctx.params.tls.issuerRef or ctx.settings.gatewayAPI.issuerRef
    return {
        "apiVersion": CERT_MANAGER_API,
        "kind": "Certificate",
        "spec": {
            "secretName": secret,
            "dnsNames": list(ctx.params.hosts),
            "issuerRef": {"group": "cert-manager.io", "kind": issuer.kind, "name": issuer.name},
        },
    }


def _rule(route: Route, cors: CORS | None) -> JSON:
    match = route.match
    matched: JSON = {"path": match.path.model_dump()}
    if match.method is not None:
        matched["method"] = match.method
    for field in ("headers", "queryParams"):
        if values := getattr(match, field):
            matched[field] = [v.model_dump() for v in values]
    backends = []
    for b in route.backends:
        ref: JSON = {"name": b.service, "port": b.port}
        if b.weight is not None:
            ref["weight"] = b.weight
        backends.append(ref)
    rule: JSON = {"matches": [matched], "backendRefs": backends}
    if cors is not None:
        rule["filters"] = [{"type": "CORS", "cors": cors.spec()}]
    if route.timeouts is not None:
        rule["timeouts"] = route.timeouts.model_dump(exclude_none=True)
    return rule


def _route(ctx: IngressContext, parent: JSON) -> JSON:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "spec": {
            "parentRefs": [parent],
            "hostnames": list(ctx.params.hosts),
            "rules": [_rule(r, ctx.params.cors) for r in ctx.params.routes],
        },
    }


def _state(ctx: IngressContext, resources: dict[str, JSON]) -> Desired:
    """What the XR's status says, from the observed route and certificate."""
    params = ctx.params
    parents = route_parents(ctx.observed.get(ROUTE), ctx.xr.namespace)
    accepted = bool(parents) and all(p.accepted for p in parents)
    status = ServiceIngressStatus(routesAccepted=accepted, routeParents=parents or None)
    scheme = "https" if params.tls.enabled else "http"
    if accepted:
        status.urls = [f"{scheme}://{h}" for h in params.hosts]
    warnings = [
        WarningResult(
            f"route not accepted by Gateway {p.gateway}: {p.reason}: {p.message}",
            reason="RouteNotAccepted",
        )
        for p in parents
        if not p.accepted and p.reason not in (None, PENDING)
    ]
    conditions = [_accepted_condition(parents)] if parents else []
    if CERTIFICATE in resources:
        cert = resources[CERTIFICATE]["spec"]["secretName"]
        observed = ctx.observed.get(CERTIFICATE)
        status.certificateSecret = cert
        status.certificateReady = observed is not None and ready_condition(observed)
        if observed is not None and not status.certificateReady:
            ready = condition(observed, "Ready") or {}
            status.certificateMessage = ready.get("message") or ready.get("reason")
    return Desired(resources=resources, status=status, warnings=warnings, conditions=conditions)


def _accepted_condition(parents: list[RouteParent]) -> resource.Condition:
    """RoutesAccepted on the XR (for kubectl wait): False with the first refusal's reason."""
    refused = next((p for p in parents if not p.accepted), None)
    if refused is None:
        return resource.Condition(typ=ROUTES_ACCEPTED, status="True", reason="Accepted")
    return resource.Condition(
        typ=ROUTES_ACCEPTED,
        status="False",
        reason=refused.reason or PENDING,
        message=f"Gateway {refused.gateway}: {refused.message}",
    )
