"""ServiceIngress: expose a Service through Gateway API or AWS API Gateway, with TLS and status.

Every bound is the one the composed API enforces, so the function refuses what
the API server (or AWS) would refuse, naming the field:
- Gateway API v1.6.1, standard channel,
  config/crd/standard/gateway.networking.k8s.io_httproutes.yaml (hostnames, path match
  rules, header names, weights 0-1,000,000, ports 1-65535,
  timeouts ^([0-9]{1,5}(h|m|s|ms)){1,4}$, backendRequest <= request, CORS);
- provider-upjet-aws v2.6.0 package/crds/apigatewayv2.aws.m.upbound.io_integrations.yaml
  (HTTP API integration timeout 50 ms to 30 s; HTTP APIs route on method and path only and
  have no weighted routes).
One match per route, so at most 16 routes (the CRD's 16 rules) and 16 matches.
"""

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from function.formats import DNS_1035_LABEL, GatewayAPIDuration
from function.hostname import Hostname
from function.model import (
    DOMAIN,
    ENVIRONMENT_FIELD,
    CompositeAPI,
    CompositeStatus,
    Environment,
    Parameters,
    PrinterColumn,
    Rule,
    RuledModel,
    StatusModel,
    StrictModel,
    section,
)

IngressClass = Literal["gateway-api", "aws-apigateway"]
GATEWAY_API: IngressClass = "gateway-api"
AWS: IngressClass = "aws-apigateway"

# The CRD's patterns, verbatim (the hostname's in function/hostname.py, the duration's in
# function/formats.py).
HEADER_NAME_PATTERN = r"^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$"
CORS_ORIGIN_PATTERN = (
    r"(^\*$)|(^(http(s)?):\/\/(((\*\.)?([a-zA-Z0-9\-]+\.)*[a-zA-Z0-9-]+|\*)(:([0-9]{1,5}))?)$)"
)
# Matched whole (fullmatch): the CRD's matches() is RE2, whose $ is the end of the text only,
# not also before a final newline as Python's.
_PATH_CHARS = re.compile(r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$")

Method = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
# One enum (a union of two would not be a structural schema).
CorsMethod = Literal[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*"
]
HeaderName = Annotated[str, Field(min_length=1, max_length=256, pattern=HEADER_NAME_PATTERN)]

AWS_MAX_TIMEOUT_MS = 30_000
AWS_MIN_TIMEOUT_MS = 50


def duration_ms(value: str) -> int:
    """Milliseconds of a Gateway API duration (already matching GATEWAY_API_DURATION_PATTERN)."""
    unit_ms = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
    return sum(int(n) * unit_ms[u] for n, u in re.findall(r"([0-9]+)(ms|h|m|s)", value))


def _is_regex(p: "PathMatch") -> bool:
    return p.type == "RegularExpression"


def _not_containing(bad: str) -> Rule:
    return Rule(
        cel=f"self.type == 'RegularExpression' || !self.value.contains('{bad}')",
        message=f"must not contain '{bad}'",
        check=lambda p: _is_regex(p) or bad not in p.value,
    )


def _not_ending(end: str) -> Rule:
    return Rule(
        cel=f"self.type == 'RegularExpression' || !self.value.endsWith('{end}')",
        message=f"must not end with '{end}'",
        check=lambda p: _is_regex(p) or not p.value.endswith(end),
    )


class PathMatch(RuledModel):
    """The path a route matches."""

    type: Literal["Exact", "PathPrefix", "RegularExpression"] = Field(
        default="PathPrefix",
        description="PathPrefix (whole path segments), Exact, or RegularExpression (gateway-api "
        "only; the syntax is the Gateway's).",
    )
    value: str = Field(default="/", min_length=1, max_length=1024, description="The path.")

    # The HTTPRoute CRD's rules on a path match of type Exact or PathPrefix, with its messages.
    rules = (
        Rule(
            cel="self.type == 'RegularExpression' || self.value.startsWith('/')",
            message="must be an absolute path starting with '/'",
            check=lambda p: _is_regex(p) or p.value.startswith("/"),
        ),
        *(_not_containing(bad) for bad in ("//", "/./", "/../", "%2f", "%2F", "#")),
        *(_not_ending(end) for end in ("/..", "/.")),
        Rule(
            cel="self.type == 'RegularExpression' || self.value.matches("
            + 'r"""^(?:[-A-Za-z0-9/._~!$&\'()*+,;=:@]|[%][0-9a-fA-F]{2})+$""")',
            message="must only contain the characters of a URL path (or %-escapes)",
            check=lambda p: _is_regex(p) or bool(_PATH_CHARS.fullmatch(p.value)),
        ),
    )


class HeaderMatch(StrictModel):
    """A request header a route matches."""

    name: HeaderName = Field(description="Name (case-insensitive).")
    value: str = Field(min_length=1, max_length=4096, description="Value.")
    type: Literal["Exact", "RegularExpression"] = Field(default="Exact", description="How.")


class QueryParamMatch(HeaderMatch):
    """A query parameter a route matches."""

    name: HeaderName = Field(description="Name (case-sensitive).")
    value: str = Field(min_length=1, max_length=1024, description="Value.")


class Match(StrictModel):
    """What requests a route takes: path, and optionally method, headers and query parameters."""

    path: PathMatch = section(PathMatch, "Path; default: every path.")
    method: Method | None = Field(default=None, description="HTTP method; default: any.")
    headers: list[HeaderMatch] = Field(
        default=[], max_length=16, description="Headers that must all match (gateway-api only)."
    )
    queryParams: list[QueryParamMatch] = Field(
        default=[],
        max_length=16,
        description="Query parameters that must all match (gateway-api only).",
    )


class Backend(StrictModel):
    """A Service in the XR's namespace that receives a route's requests."""

    # A Service name is a DNS-1035 label (stricter than backendRef.name, which any kind may use).
    service: str = Field(
        min_length=1, max_length=63, pattern=DNS_1035_LABEL, description="Service name."
    )
    port: int = Field(ge=1, le=65535, description="Service port.")
    weight: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="Relative share of the route's requests, for canaries (gateway-api only); "
        "unset counts as 1.",
    )


class Timeouts(RuledModel):
    """How long a request may take (Gateway API HTTPRouteTimeouts)."""

    request: GatewayAPIDuration | None = Field(
        default=None, description="Whole request, client to response; 0s: no timeout."
    )
    backendRequest: GatewayAPIDuration | None = Field(
        default=None, description="One request to the backend (gateway-api only)."
    )

    rules = (
        Rule(
            # The HTTPRoute CRD's rule, verbatim (0s means no request timeout).
            cel="!(has(self.request) && has(self.backendRequest) && duration(self.request) != "
            "duration('0s') && duration(self.backendRequest) > duration(self.request))",
            message="backendRequest timeout cannot be longer than request timeout",
            check=lambda t: (
                not (
                    t.request is not None
                    and t.backendRequest is not None
                    and duration_ms(t.request) != 0
                    and duration_ms(t.backendRequest) > duration_ms(t.request)
                )
            ),
        ),
    )


class Route(StrictModel):
    """One route: a match and the backends it sends to."""

    match: Match = section(Match, "Which requests; default: all.")
    backends: list[Backend] = Field(
        min_length=1, max_length=16, description="Where to; several with weights for a canary."
    )
    timeouts: Timeouts | None = Field(default=None, description="Timeouts; default: the API's.")


_STAR_ALONE = "'*' cannot be listed with others"


class CORS(StrictModel):
    """Cross-origin requests the browser may make (Gateway API CORS filter, AWS API CORS)."""

    allowOrigins: list[Annotated[str, Field(max_length=253, pattern=CORS_ORIGIN_PATTERN)]] = Field(
        min_length=1, max_length=64, description='Origins, e.g. "https://shop.example.org", or "*".'
    )
    allowMethods: list[CorsMethod] = Field(
        default=[], max_length=9, description="Methods; default: the simple ones."
    )
    allowHeaders: list[HeaderName] = Field(default=[], max_length=64, description="Headers.")
    exposeHeaders: list[HeaderName] = Field(
        default=[], max_length=64, description="Response headers the browser may read."
    )
    allowCredentials: bool = Field(default=False, description="Allow cookies and credentials.")
    maxAge: int = Field(default=5, ge=1, le=86400, description="Seconds a preflight is cached.")

    def spec(self) -> dict[str, Any]:
        """As both APIs spell it (Gateway API HTTPCORSFilter, AWS API corsConfiguration): the
        same field names; empty lists left out."""
        out: dict[str, Any] = {"allowOrigins": list(self.allowOrigins)}
        for field in ("allowMethods", "allowHeaders", "exposeHeaders"):
            if values := getattr(self, field):
                out[field] = list(values)
        return out | {"allowCredentials": self.allowCredentials, "maxAge": self.maxAge}

    @model_validator(mode="after")
    def _star_alone(self) -> "CORS":
        for field in ("allowOrigins", "allowMethods", "allowHeaders"):
            values = getattr(self, field)
            if "*" in values and len(values) > 1:
                raise ValueError(f"{field}: {_STAR_ALONE}")
        return self


class IssuerRef(StrictModel):
    """The cert-manager issuer of the certificate."""

    kind: Literal["ClusterIssuer", "Issuer"] = Field(default="ClusterIssuer", description="Kind.")
    name: str = Field(min_length=1, max_length=253, description="Name.")


class TLS(StrictModel):
    """HTTPS for the hosts."""

    enabled: bool = Field(default=True, description="Serve HTTPS; false: plain HTTP only.")
    issuerRef: IssuerRef | None = Field(
        default=None,
        description="cert-manager issuer of the hosts' certificate (dedicated gateway only); "
        "default: the platform's (input serviceIngress.gatewayAPI.issuerRef).",
    )


def _unique(values: list[Any]) -> bool:
    return len(values) == len(set(values))


def _repeated(values: list[Any]) -> dict[str, Any]:
    """{"[i]": value} for every value listed before index i."""
    return {f"[{i}]": v for i, v in enumerate(values) if v in values[:i]}


def _overlapping(routes: list[Route]) -> dict[str, Any]:
    """{"[i].match": match} for every route matching what an earlier route matches.

    Field by field, as CEL compares two objects (lists in order).
    """
    keys = [json.dumps(r.match.model_dump(), sort_keys=True) for r in routes]
    return {f"[{i}].match": r.match for i, r in enumerate(routes) if keys[i] in keys[:i]}


def _route_rule(*, cel: str, message: str, part: str, bad: Callable[[Any, Route], bool]) -> Rule:
    """A rule over spec.parameters.routes, naming each route that breaks it (routes[i].part)."""

    def offenders(p: Any) -> dict[str, Any]:
        return {f"[{i}].{part}": getattr(r, part) for i, r in enumerate(p.routes) if bad(p, r)}

    return Rule(
        field="routes",
        cel=cel,
        message=message,
        check=lambda p: not offenders(p),
        offenders=offenders,
    )


def _aws(p: Any) -> bool:
    return bool(p.ingress_class == AWS)


class ServiceIngressParameters(Parameters):
    """spec.parameters of a ServiceIngress."""

    environment: Environment = ENVIRONMENT_FIELD
    ingress_class: IngressClass = Field(
        default=GATEWAY_API,
        alias="class",
        description="gateway-api: an HTTPRoute on a Gateway in the cluster; aws-apigateway: "
        "an AWS API Gateway HTTP API reaching the cluster through a VPC link.",
    )
    gateway: Literal["shared", "dedicated"] = Field(
        default="shared",
        description="gateway-api: attach to the platform's shared Gateway (TLS with its "
        "certificate), or get a dedicated Gateway with a certificate of the hosts' own.",
    )
    hosts: list[Hostname] = Field(
        default=[],
        max_length=16,
        description="Hostnames (no scheme, port or path), e.g. shop.example.org; "
        "gateway-api only (aws-apigateway serves on its execute-api endpoint).",
    )
    routes: list[Route] = Field(
        min_length=1, max_length=16, description="Routes; no two may match the same requests."
    )
    cors: CORS | None = Field(default=None, description="CORS for every route; default: none.")
    tls: TLS = section(TLS, "HTTPS; on by default.")

    rules = (
        Rule(
            field="routes",
            cel="self.routes.all(r1, self.routes.exists_one(r2, r2.match == r1.match))",
            message="two routes have the same match (the requests would go to the first only)",
            check=lambda p: not _overlapping(p.routes),
            offenders=lambda p: _overlapping(p.routes),
        ),
        _route_rule(
            cel="self.routes.all(r, r.backends.exists(b, !has(b.weight) || b.weight > 0))",
            message="a route's backends must not all have weight 0 (every request would fail "
            "with 500)",
            part="backends",
            bad=lambda p, r: all(b.weight == 0 for b in r.backends),
        ),
        _route_rule(
            cel="self.class != 'aws-apigateway' || self.routes.all(r, r.backends.size() == 1 && "
            "!has(r.backends[0].weight))",
            message="aws-apigateway takes one backend per route and no weights (HTTP APIs have "
            "no weighted canaries)",
            part="backends",
            bad=lambda p, r: _aws(p) and (len(r.backends) != 1 or r.backends[0].weight is not None),
        ),
        _route_rule(
            cel="self.class != 'aws-apigateway' || self.routes.all(r, r.match.path.type != "
            "'RegularExpression' && r.match.headers.size() == 0 && "
            "r.match.queryParams.size() == 0)",
            message="aws-apigateway matches on method and an Exact or PathPrefix path only",
            part="match",
            bad=lambda p, r: (
                _aws(p)
                and (
                    r.match.path.type == "RegularExpression"
                    or bool(r.match.headers)
                    or bool(r.match.queryParams)
                )
            ),
        ),
        _route_rule(
            cel="self.class != 'aws-apigateway' || self.routes.all(r, !has(r.timeouts) || "
            "(!has(r.timeouts.backendRequest) && (!has(r.timeouts.request) || "
            f"(duration(r.timeouts.request) >= duration('{AWS_MIN_TIMEOUT_MS}ms') && "
            f"duration(r.timeouts.request) <= duration('{AWS_MAX_TIMEOUT_MS // 1000}s')))))",
            message="aws-apigateway timeouts: request between 50ms and 30s (an HTTP API "
            "integration's limit), no backendRequest",
            part="timeouts",
            bad=lambda p, r: _aws(p) and not _aws_timeouts_ok(r.timeouts),
        ),
        Rule(
            field="hosts",
            cel="self.class != 'gateway-api' || self.hosts.size() > 0",
            message="gateway-api needs at least one host (a route without hostnames would "
            "take every host of the Gateway)",
            check=lambda p: _aws(p) or len(p.hosts) > 0,
        ),
        Rule(
            field="hosts",
            cel="self.class != 'aws-apigateway' || self.hosts.size() == 0",
            message="aws-apigateway serves on its execute-api endpoint: custom domains "
            "(DomainName, ApiMapping) are not composed",
            check=lambda p: not _aws(p) or not p.hosts,
        ),
        Rule(
            field="hosts",
            cel="self.hosts.all(h, self.hosts.exists_one(x, x == h))",
            message="must not repeat a host",
            check=lambda p: _unique(p.hosts),
            offenders=lambda p: _repeated(p.hosts),
        ),
        Rule(
            field="gateway",
            cel="self.class != 'aws-apigateway' || self.gateway == 'shared'",
            message="dedicated is a Gateway API Gateway: not for aws-apigateway",
            check=lambda p: not _aws(p) or p.gateway == "shared",
        ),
        Rule(
            field="tls",
            cel="!has(self.tls.issuerRef) || (self.class == 'gateway-api' && "
            "self.gateway == 'dedicated' && self.tls.enabled)",
            message="issuerRef is for a dedicated gateway with TLS on: a shared Gateway serves "
            "the platform's certificate, aws-apigateway its own",
            check=lambda p: (
                p.tls.issuerRef is None
                or (not _aws(p) and p.gateway == "dedicated" and p.tls.enabled)
            ),
        ),
        Rule(
            field="tls",
            cel="self.class != 'aws-apigateway' || self.tls.enabled",
            message="aws-apigateway endpoints are always HTTPS: TLS cannot be off",
            check=lambda p: not _aws(p) or p.tls.enabled,
        ),
    )


def _aws_timeouts_ok(t: Timeouts | None) -> bool:
    if t is None:
        return True
    if t.backendRequest is not None:
        return False
    return t.request is None or AWS_MIN_TIMEOUT_MS <= duration_ms(t.request) <= AWS_MAX_TIMEOUT_MS


class RouteParent(StatusModel):
    """What one Gateway says of the route (HTTPRoute status.parents[])."""

    gateway: str = Field(description="namespace/name of the Gateway, /listener if one is named.")
    accepted: bool = Field(description="The Gateway's Accepted condition is True.")
    reason: str | None = Field(default=None, description="Why not accepted (its reason).")
    message: str | None = Field(default=None, description="The condition's message.")
    refsResolved: bool | None = Field(
        default=None, description="ResolvedRefs is True: every backend Service was found."
    )
    refsReason: str | None = Field(default=None, description="Why refs are not resolved.")


class AWSRouteBackend(StatusModel):
    """aws-apigateway: where one HTTP API route sends its requests."""

    routeKey: str = Field(description='The HTTP API route key, e.g. "GET /health".')
    service: str = Field(description="The backend Service, in this namespace.")
    port: int = Field(description="Its port.")
    host: str = Field(
        description="The Host its integration sends, which the backend's HTTPRoute matches."
    )
    ready: bool = Field(
        description="AWS created the route and the Gateway accepted the backend's HTTPRoute."
    )


class ServiceIngressStatus(CompositeStatus):
    """status of a ServiceIngress."""

    urls: list[str] | None = Field(
        default=None, description="Where the service is reachable, once the routes are accepted."
    )
    routesAccepted: bool | None = Field(
        default=None,
        description="Every Gateway accepted the route (gateway-api), or AWS created every "
        "route (aws-apigateway).",
    )
    routeParents: list[RouteParent] | None = Field(
        default=None, description="gateway-api: each Gateway's answer, with the reason."
    )
    awsRoutes: list[AWSRouteBackend] | None = Field(
        default=None, description="aws-apigateway: each route's backend, sorted by route key."
    )
    certificateReady: bool | None = Field(
        default=None, description="The cert-manager Certificate is Ready (dedicated, TLS on)."
    )
    certificateMessage: str | None = Field(
        default=None, description="Why the certificate is not ready yet."
    )
    certificateSecret: str | None = Field(
        default=None, description="Secret in this namespace holding the certificate."
    )


API = CompositeAPI(
    group=f"network.{DOMAIN}",
    kind="ServiceIngress",
    plural="serviceingresses",
    parameters=ServiceIngressParameters,
    status=ServiceIngressStatus,
    description="Exposes a Service through Gateway API or AWS API Gateway, with TLS, and "
    "reports its URLs, route acceptance and certificate readiness.",
    printer_columns=(
        PrinterColumn("Class", ".spec.parameters.class"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Accepted", ".status.routesAccepted", "boolean"),
        PrinterColumn("Certificate", ".status.certificateReady", "boolean"),
        PrinterColumn("URLs", ".status.urls"),
    ),
)
