"""class aws-apigateway: an HTTP API reaching the cluster through a VPC link.

Followed: provider-upjet-aws v2.6.0 package/crds/apigatewayv2.aws.m.upbound.io_{apis,
integrations,routes,stages,vpclinks}.yaml (namespaced, v1beta1) and the AWS
developer guide's HTTP API pages (http-api-develop-routes: route keys "$default"
and "METHOD /path", greedy "{proxy+}"; http-api-develop-integrations-private:
HTTP_PROXY over a VPC_LINK to a load balancer listener or Cloud Map service,
payload format 1.0; http-api-stages: the $default stage with autoDeploy).

Each route gets its own integration (its timeout is the integration's); every
integration goes through the one VPC link to the platform's listener, which
routes to the cluster's Services. References between the resources are
selectors on labels (function.blocks.managed.label_selector): Crossplane names
the resources.
"""

from function.blocks.managed import label_selector as selector
from function.blocks.managed import managed
from function.context import Desired
from function.kinds.serviceingress.model import Match, ServiceIngressStatus, duration_ms
from function.kinds.serviceingress.settings import AWSAPIGateway, IngressContext
from function.naming import dns_label, short_hash
from function.observed import text
from function.readiness import ready_condition
from function.refusal import Refusal
from function.settings import SETTINGS_WHERE
from function.structs import JSON

AWS_GROUP = "apigatewayv2.aws.m.upbound.io"
AWS_API = f"{AWS_GROUP}/v1beta1"
CRDS = tuple(
    f"crds/provider-upjet-aws/{AWS_GROUP}_{plural}.yaml"
    for plural in ("apis", "integrations", "routes", "stages", "vpclinks")
)

API = "api"
VPC_LINK = "vpc-link"
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


def _checked(aws: AWSAPIGateway) -> tuple[str, str]:
    """region and integrationUri, or a FATAL naming every input field that is missing."""
    missing = [
        f"{AWS_SETTINGS}.{field}"
        for field, value in (
            ("region", aws.region),
            ("subnetIds", aws.subnetIds),
            ("securityGroupIds", aws.securityGroupIds),
            ("integrationUri", aws.integrationUri),
        )
        if not value
    ]
    if missing or aws.region is None or aws.integrationUri is None:
        raise Refusal(
            f"class aws-apigateway needs the platform's AWS wiring: {', '.join(missing)} "
            f"must be set in {SETTINGS_WHERE}"
        )
    return aws.region, aws.integrationUri


def compose_aws(ctx: IngressContext) -> Desired:
    """API, VPC link, one integration per route, its route keys, and the $default stage."""
    aws = ctx.settings.aws
    region, integration_uri = _checked(aws)
    config = aws.providerConfigRef
    # AWS names are per account and region: namespace and name keep two XRs apart.
    name = dns_label(ctx.xr.namespace, ctx.xr.name)
    r: dict[str, JSON] = {}

    api: JSON = {"region": region, "name": name, "protocolType": "HTTP"}
    if ctx.params.cors is not None:
        api["corsConfiguration"] = ctx.params.cors.spec()
    r[API] = managed(AWS_API, "API", api, config)
    r[VPC_LINK] = managed(
        AWS_API,
        "VPCLink",
        {
            "region": region,
            "name": name,
            "subnetIds": list(aws.subnetIds),
            "securityGroupIds": list(aws.securityGroupIds),
        },
        config,
    )
    api_ref = selector(r, API)
    owner: dict[str, str] = {}
    for index, route in enumerate(ctx.params.routes):
        integration = INTEGRATION_PREFIX + short_hash(route.match.model_dump_json())
        spec: JSON = {
            "region": region,
            "apiIdSelector": api_ref,
            "integrationType": "HTTP_PROXY",
            "integrationMethod": "ANY",
            "connectionType": "VPC_LINK",
            "connectionIdSelector": selector(r, VPC_LINK),
            "integrationUri": integration_uri,
            "payloadFormatVersion": "1.0",
        }
        if route.timeouts is not None and route.timeouts.request is not None:
            spec["timeoutMilliseconds"] = duration_ms(route.timeouts.request)
        r[integration] = managed(AWS_API, "Integration", spec, config)
        for key in route_keys(route.match):
            if key in owner:
                raise Refusal(
                    f"spec.parameters.routes[{index}] and spec.parameters.routes[{owner[key]}] "
                    f"both become the HTTP API route {key!r}, which AWS refuses twice"
                )
            owner[key] = str(index)
            r[ROUTE_PREFIX + short_hash(key)] = managed(
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
    return Desired(resources=r, status=_status(ctx, r))


def _status(ctx: IngressContext, resources: dict[str, JSON]) -> ServiceIngressStatus:
    routes = [ctx.observed.get(n) for n in resources if n.startswith(ROUTE_PREFIX)]
    accepted = all(o is not None and ready_condition(o) for o in routes)
    endpoint = text(ctx.observed.get(API), "status", "atProvider", "apiEndpoint")
    stage = ctx.observed.get(STAGE)
    serving = accepted and stage is not None and ready_condition(stage)
    return ServiceIngressStatus(
        routesAccepted=accepted, urls=[endpoint] if serving and endpoint else None
    )
