"""class aws-apigateway: an HTTP API reaching the cluster through the platform's VPC link.

Followed: provider-upjet-aws v2.6.0 package/crds/apigatewayv2.aws.m.upbound.io_{apis,
integrations,routes,stages}.yaml (namespaced, v1beta1) and the AWS developer guide's
HTTP API pages (http-api-develop-routes: route keys "$default" and "METHOD /path",
greedy "{proxy+}"; http-api-develop-integrations-private: HTTP_PROXY over a VPC_LINK
to a load balancer listener, payload format 1.0; http-api-vpc-links: a link is reused
across routes and APIs, its subnets and security groups never change; limits: 10 HTTP
API VPC links per account and region; http-api-stages: the $default stage with
autoDeploy).

Each route gets its own integration (its timeout is the integration's, and its Host the
backend's: awsbackends.py). Every integration goes through the platform's VPC link
(settings vpcLinkId): one link per XR would stop at the eleventh XR of a region.
References between the resources are selectors on labels
(function.blocks.managed.label_selector): Crossplane names the resources. Usages
delete each route before its integration and the integrations and stage before the
API (AWS refuses to delete an integration a route still targets).
"""

from function.blocks.managed import label_selector as selector
from function.blocks.managed import managed
from function.blocks.usage import deletion_order
from function.context import Desired
from function.kinds.serviceingress.awsbackends import (
    HOST_HEADER,
    backend_host,
    backend_route,
    backend_route_name,
)
from function.kinds.serviceingress.model import (
    AWSRouteBackend,
    Match,
    ServiceIngressStatus,
    duration_ms,
)
from function.kinds.serviceingress.settings import IngressContext
from function.naming import dns_label, short_hash
from function.observed import text
from function.refusal import Refusal
from function.settings import SETTINGS_WHERE
from function.structs import JSON

AWS_GROUP = "apigatewayv2.aws.m.upbound.io"
AWS_API = f"{AWS_GROUP}/v1beta1"
CRDS = tuple(
    f"crds/provider-upjet-aws/{AWS_GROUP}_{plural}.yaml"
    for plural in ("apis", "integrations", "routes", "stages")
)

API = "api"
STAGE = "stage"
INTEGRATION_PREFIX = "integration-"
ROUTE_PREFIX = "route-"
DEFAULT_STAGE = "$default"
AWS_SETTINGS = "serviceIngress.aws"


def route_keys(match: Match) -> list[str]:
    """HTTP API route keys for a match: Exact is the path; PathPrefix is the path and every
    path under it ({proxy+}); PathPrefix / with any method is $default (every request)."""
    method = match.method or "ANY"
    path = match.path.value
    if match.path.type == "Exact":
        return [f"{method} {path}"]
    base = path.rstrip("/")
    if not base:
        return [DEFAULT_STAGE] if method == "ANY" else [f"{method} /", f"{method} /{{proxy+}}"]
    return [f"{method} {base}", f"{method} {base}/{{proxy+}}"]


def _checked(ctx: IngressContext) -> tuple[str, str, str]:
    """region, vpcLinkId and integrationUri, or a FATAL naming every setting that is missing."""
    aws = ctx.settings.aws
    wiring = {
        "region": aws.region,
        "vpcLinkId": aws.vpcLinkId,
        "integrationUri": aws.integrationUri,
    }
    missing = [f"{AWS_SETTINGS}.{field}" for field, value in wiring.items() if not value]
    if missing or aws.region is None or aws.vpcLinkId is None or aws.integrationUri is None:
        raise Refusal(
            f"class aws-apigateway needs the platform's AWS wiring: {', '.join(missing)} "
            f"must be set in {SETTINGS_WHERE}"
        )
    return aws.region, aws.vpcLinkId, aws.integrationUri


def compose_aws(ctx: IngressContext) -> Desired:
    """API, one integration per route, its route keys, the $default stage, an HTTPRoute per
    backend, and the Usages ordering their deletion."""
    aws = ctx.settings.aws
    region, vpc_link, integration_uri = _checked(ctx)
    config = aws.providerConfigRef
    # AWS names are per account and region: namespace and name keep two XRs apart.
    name = dns_label(ctx.xr.namespace, ctx.xr.name)
    r: dict[str, JSON] = {}

    api: JSON = {"region": region, "name": name, "protocolType": "HTTP"}
    if ctx.params.cors is not None:
        api["corsConfiguration"] = ctx.params.cors.spec()
    r[API] = managed(AWS_API, "API", api, config)
    api_ref = selector(r, API)
    owner: dict[str, str] = {}
    uses: list[tuple[str, str]] = []
    mapping: list[tuple[str, str, str, str]] = []  # (route key, route, backend route, host)
    for index, route in enumerate(ctx.params.routes):
        # One backend per route (a rule of the parameters for this class).
        backend = route.backends[0]
        host = backend_host(backend, ctx.xr.namespace, aws)
        backend_name = backend_route_name(backend)
        r[backend_name] = backend_route(backend, host, aws)
        integration = INTEGRATION_PREFIX + short_hash(route.match.model_dump_json())
        spec: JSON = {
            "region": region,
            "apiIdSelector": api_ref,
            "integrationType": "HTTP_PROXY",
            "integrationMethod": "ANY",
            "connectionType": "VPC_LINK",
            "connectionId": vpc_link,
            "integrationUri": integration_uri,
            "payloadFormatVersion": "1.0",
            "requestParameters": {HOST_HEADER: host},
        }
        if route.timeouts is not None and route.timeouts.request is not None:
            spec["timeoutMilliseconds"] = duration_ms(route.timeouts.request)
        r[integration] = managed(AWS_API, "Integration", spec, config)
        uses.append((integration, API))
        for key in route_keys(route.match):
            if key in owner:
                raise Refusal(
                    f"spec.parameters.routes[{index}] and spec.parameters.routes[{owner[key]}] "
                    f"both become the HTTP API route {key!r}, which AWS refuses twice"
                )
            owner[key] = str(index)
            route_name = ROUTE_PREFIX + short_hash(key)
            r[route_name] = managed(
                AWS_API,
                "Route",
                {
                    "region": region,
                    "apiIdSelector": api_ref,
                    "routeKey": key,
                    "targetSelector": selector(r, integration),
                },
                config,
            )
            uses.append((route_name, integration))
            mapping.append((key, route_name, backend_name, host))
    r[STAGE] = managed(
        AWS_API,
        "Stage",
        {
            "region": region,
            "apiIdSelector": api_ref,
            "autoDeploy": True,
            "defaultRouteSettings": {
                "throttlingBurstLimit": aws.throttling.burstLimit,
                "throttlingRateLimit": aws.throttling.rateLimit,
            },
        },
        config,
        external_name=DEFAULT_STAGE,
    )
    uses.append((STAGE, API))
    deletion_order(r, uses)
    return Desired(resources=r, status=_status(ctx, mapping))


def _status(ctx: IngressContext, mapping: list[tuple[str, str, str, str]]) -> ServiceIngressStatus:
    """The URL once every route, its backend's HTTPRoute and the stage are ready; each route's
    backend."""
    backends = {backend_route_name(r.backends[0]): r.backends[0] for r in ctx.params.routes}
    routes = [
        AWSRouteBackend(
            routeKey=key,
            service=backends[backend_name].service,
            port=backends[backend_name].port,
            host=host,
            ready=ctx.observed.ready(route_name) and ctx.observed.ready(backend_name),
        )
        for key, route_name, backend_name, host in sorted(mapping)
    ]
    accepted = all(r.ready for r in routes)
    endpoint = text(ctx.observed.get(API), "status", "atProvider", "apiEndpoint")
    serving = accepted and ctx.observed.ready(STAGE)
    return ServiceIngressStatus(
        routesAccepted=accepted,
        urls=[endpoint] if serving and endpoint else None,
        awsRoutes=routes,
    )
