"""ServiceIngress: parameters refused as the composed APIs would, what each class composes."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from function.blocks.managed import EXTERNAL_NAME, RESOURCE_LABEL
from function.context import Desired, WarningResult
from function.kinds.serviceingress import KIND
from function.kinds.serviceingress.awsapigateway import (
    API,
    AWS_API,
    INTEGRATION_PREFIX,
    ROUTE_PREFIX,
    STAGE,
    route_keys,
)
from function.kinds.serviceingress.gatewayapi import (
    CERTIFICATE,
    GATEWAY,
    ROUTE,
    listener_covers,
)
from function.kinds.serviceingress.model import Match, duration_ms
from function.kinds.serviceingress.settings import IngressContext
from function.refusal import Refusal
from function.structs import JSON
from tests.composing import context, refused, status

HOST = "shop.apps.example.org"
ROUTES = [{"backends": [{"service": "web", "port": 8080}]}]
AWS_INPUT: JSON = {
    "serviceIngress": {
        "aws": {
            "region": "eu-west-1",
            "vpcLinkId": "a1b2c3",
            "integrationUri": "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/x/1/2",
        }
    }
}


def params(**kw: Any) -> JSON:
    return {"environment": "dev", "hosts": [HOST], "routes": ROUTES} | kw


def aws_params(**kw: Any) -> JSON:
    return {"environment": "dev", "class": "aws-apigateway", "routes": ROUTES} | kw


# Namespace shop may use the hosts and issuer these tests name (tests/unit/
# test_two_teams_routing.py has what a namespace may not).
SHOP_TENANCY: JSON = {
    "tenancy": {
        "tenants": [
            {
                "namespaces": ["shop"],
                "hosts": ["*.apps.example.org", "*.apps.x.org", "*.example.com"],
                "issuers": [{"name": "le"}],
            }
        ]
    }
}


def compose(p: JSON, settings: JSON | None = None, **kw: Any) -> tuple[IngressContext, Desired]:
    with_tenancy = SHOP_TENANCY | (settings or {})
    ctx = context(
        KIND, p, name="shop", namespace="shop", credentials={}, settings=with_tenancy, **kw
    )
    return ctx, KIND.compose(ctx)


def problems(p: JSON) -> list[str]:
    got = refused(KIND.api.parameters, p)
    assert got is not None, "expected the parameters to be refused"
    return got


# --- refused parameters: what the API server (or AWS) would refuse, each field named ---------


@dataclass(frozen=True)
class RefusedCase:
    reason: str
    params: JSON
    want: list[str]


REFUSED = {
    "HostWithScheme": RefusedCase(
        reason="A host is a hostname: the HTTPRoute CRD's pattern refuses a scheme.",
        params=params(hosts=["https://shop.example.org"]),
        want=["spec.parameters.hosts[0]: must be a hostname such as shop.example.org"],
    ),
    "Port70000": RefusedCase(
        reason="A Service port is 1-65535, as the CRD's backendRef.port.",
        params=params(routes=[{"backends": [{"service": "web", "port": 70000}]}]),
        want=["spec.parameters.routes[0].backends[0].port: must be <= 65535 (got 70000)"],
    ),
    "WeightOverAMillion": RefusedCase(
        reason="Weights are 0-1,000,000 in the CRD.",
        params=params(routes=[{"backends": [{"service": "web", "port": 80, "weight": 1000001}]}]),
        want=["spec.parameters.routes[0].backends[0].weight: must be <= 1000000"],
    ),
    "TimeoutPattern": RefusedCase(
        reason="Timeouts follow the CRD's ^([0-9]{1,5}(h|m|s|ms)){1,4}$: no spaces, no words.",
        params=params(routes=[ROUTES[0] | {"timeouts": {"request": "10 seconds"}}]),
        want=["spec.parameters.routes[0].timeouts.request: must match"],
    ),
    "TimeoutSixDigits": RefusedCase(
        reason="At most five digits per unit in the CRD's pattern.",
        params=params(routes=[ROUTES[0] | {"timeouts": {"request": "100000s"}}]),
        want=["spec.parameters.routes[0].timeouts.request: must match"],
    ),
    "BackendTimeoutOverRequest": RefusedCase(
        reason="The CRD's CEL rule: backendRequest may not exceed request.",
        params=params(routes=[ROUTES[0] | {"timeouts": {"request": "5s", "backendRequest": "1m"}}]),
        want=[
            "spec.parameters.routes[0].timeouts: backendRequest timeout cannot be longer than "
            "request timeout"
        ],
    ),
    "RelativePath": RefusedCase(
        reason="Exact and PathPrefix values are absolute paths (the CRD's CEL rules).",
        params=params(routes=[ROUTES[0] | {"match": {"path": {"type": "Exact", "value": "a"}}}]),
        want=["spec.parameters.routes[0].match.path: must be an absolute path starting with '/'"],
    ),
    "DotSegment": RefusedCase(
        reason="The CRD refuses /./ and /../ in a path.",
        params=params(routes=[ROUTES[0] | {"match": {"path": {"value": "/a/../b"}}}]),
        want=["spec.parameters.routes[0].match.path: must not contain '/../'"],
    ),
    "PathEndingInNewline": RefusedCase(
        reason="The CRD's matches() is RE2, whose $ is the end of the text only: a newline "
        "after the path is not a URL path character.",
        params=params(routes=[ROUTES[0] | {"match": {"path": {"value": "/cart\n"}}}]),
        want=[
            "spec.parameters.routes[0].match.path: must only contain the characters of a URL "
            "path (or %-escapes)"
        ],
    ),
    "UnknownPathType": RefusedCase(
        reason="Path types are Exact, PathPrefix, RegularExpression.",
        params=params(routes=[ROUTES[0] | {"match": {"path": {"type": "Prefix", "value": "/"}}}]),
        want=["spec.parameters.routes[0].match.path.type: must be one of"],
    ),
    "OverlappingRoutes": RefusedCase(
        reason="Two routes with one match (the default type is PathPrefix): the second is dead.",
        params=params(
            routes=[
                {"match": {"path": {"value": "/cart"}}, "backends": [{"service": "a", "port": 1}]},
                {
                    "match": {"path": {"type": "PathPrefix", "value": "/cart"}},
                    "backends": [{"service": "b", "port": 1}],
                },
            ]
        ),
        want=["spec.parameters.routes[1].match: two routes have the same match"],
    ),
    "AllWeightsZero": RefusedCase(
        reason="A route whose backends all weigh 0 answers every request with 500.",
        params=params(routes=[{"backends": [{"service": "a", "port": 1, "weight": 0}]}]),
        want=["spec.parameters.routes[0].backends: a route's backends must not all have weight 0"],
    ),
    "AwsCanaryWeights": RefusedCase(
        reason="HTTP APIs have no weighted routes.",
        params=aws_params(
            routes=[
                {
                    "backends": [
                        {"service": "a", "port": 1, "weight": 9},
                        {"service": "b", "port": 1, "weight": 1},
                    ]
                }
            ]
        ),
        want=["spec.parameters.routes[0].backends: aws-apigateway takes one backend per route"],
    ),
    "AwsHeaderMatch": RefusedCase(
        reason="HTTP API routes are a method and a path.",
        params=aws_params(
            routes=[ROUTES[0] | {"match": {"headers": [{"name": "x-v", "value": "2"}]}}]
        ),
        want=["spec.parameters.routes[0].match: aws-apigateway matches on method and an Exact"],
    ),
    "AwsTimeoutOver30s": RefusedCase(
        reason="An HTTP API integration times out after at most 30 s.",
        params=aws_params(routes=[ROUTES[0] | {"timeouts": {"request": "31s"}}]),
        want=["spec.parameters.routes[0].timeouts: aws-apigateway timeouts: request between 50ms"],
    ),
    "AwsHosts": RefusedCase(
        reason="Custom domains on AWS need kinds this function does not compose.",
        params=aws_params(hosts=[HOST]),
        want=["spec.parameters.hosts: aws-apigateway serves on its execute-api endpoint"],
    ),
    "AwsTlsOff": RefusedCase(
        reason="An execute-api endpoint is HTTPS only.",
        params=aws_params(tls={"enabled": False}),
        want=["spec.parameters.tls: aws-apigateway endpoints are always HTTPS"],
    ),
    "NoHosts": RefusedCase(
        reason="An HTTPRoute without hostnames takes every host of the Gateway.",
        params=params(hosts=[]),
        want=["spec.parameters.hosts: gateway-api needs at least one host"],
    ),
    "RepeatedHost": RefusedCase(
        reason="A host listed twice.",
        params=params(hosts=[HOST, HOST]),
        want=[f'spec.parameters.hosts[1]: must not repeat a host (got "{HOST}")'],
    ),
    "IssuerOnSharedGateway": RefusedCase(
        reason="The shared Gateway serves the platform's certificate, not the XR's.",
        params=params(tls={"issuerRef": {"name": "letsencrypt"}}),
        want=["spec.parameters.tls: issuerRef is for a dedicated gateway with TLS on"],
    ),
    "CorsStarWithOthers": RefusedCase(
        reason="The CRD refuses '*' next to other origins.",
        params=params(cors={"allowOrigins": ["*", "https://a.example.org"]}),
        want=["spec.parameters.cors: allowOrigins: '*' cannot be listed with others"],
    ),
    "ManyAtOnce": RefusedCase(
        reason="Every bad field in one answer, and the rules that read only good fields.",
        params=aws_params(
            hosts=["https://x"],
            routes=[
                {"backends": [{"service": "a", "port": 70000}]},
                {"backends": [{"service": "b", "port": 1, "weight": 1}]},
            ],
        ),
        want=[
            "spec.parameters.hosts[0]: must be a hostname such as shop.example.org",
            "spec.parameters.routes[0].backends[0].port: must be <= 65535 (got 70000)",
        ],
    ),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_refused_parameters_name_each_field(case: RefusedCase) -> None:
    got = problems(case.params)
    for want in case.want:
        assert any(line.startswith(want) for line in got), (case.reason, got)
    assert len(got) == len(case.want), (case.reason, got)


def test_a_rule_on_good_fields_is_reported_beside_bad_fields() -> None:
    got = problems(
        aws_params(
            hosts=["https://x"],
            routes=[{"backends": [{"service": "a", "port": 1, "weight": 5}]}],
        )
    )
    assert got[0].startswith(
        "spec.parameters.hosts[0]: must be a hostname such as shop.example.org"
    )
    assert got[1].startswith("spec.parameters.routes[0].backends: aws-apigateway takes one backend")
    assert len(got) == 2, got


# --- gateway-api ------------------------------------------------------------------------------


def parent(d: Desired) -> JSON:
    return dict(d.resources[ROUTE]["spec"]["parentRefs"][0])


@dataclass(frozen=True)
class GatewayCase:
    reason: str
    params: JSON
    resources: list[str]
    parent: JSON
    settings: JSON | None = None


GATEWAY_CASES = {
    "SharedTLS": GatewayCase(
        reason="By default the route attaches to the shared Gateway's HTTPS listener.",
        params=params(),
        resources=[ROUTE],
        parent={
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "platform",
            "namespace": "gateway-system",
            "sectionName": "https",
        },
    ),
    "SharedHTTP": GatewayCase(
        reason="TLS off: the shared Gateway's HTTP listener.",
        params=params(tls={"enabled": False}),
        resources=[ROUTE],
        parent={
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "platform",
            "namespace": "gateway-system",
            "sectionName": "http",
        },
    ),
    "SharedFromInput": GatewayCase(
        reason="The shared Gateway and its listeners come from the input.",
        params=params(),
        settings={
            "serviceIngress": {
                "gatewayAPI": {
                    "sharedGateway": {
                        "name": "edge",
                        "namespace": "ingress",
                        "httpsListener": "tls",
                    }
                }
            }
        },
        resources=[ROUTE],
        parent={
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "edge",
            "namespace": "ingress",
            "sectionName": "tls",
        },
    ),
    "DedicatedTLS": GatewayCase(
        reason="Dedicated with TLS: a Gateway and a Certificate in the XR's namespace.",
        params=params(gateway="dedicated"),
        resources=[CERTIFICATE, GATEWAY, ROUTE],
        parent={
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "shop-gateway",
            "sectionName": "https",
        },
    ),
    "DedicatedHTTP": GatewayCase(
        reason="Dedicated with TLS off: a Gateway with an HTTP listener, no Certificate.",
        params=params(gateway="dedicated", tls={"enabled": False}),
        resources=[GATEWAY, ROUTE],
        parent={
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "shop-gateway",
            "sectionName": "http",
        },
    ),
}


@pytest.mark.parametrize("case", GATEWAY_CASES.values(), ids=GATEWAY_CASES.keys())
def test_what_gateway_api_composes(case: GatewayCase) -> None:
    _, d = compose(case.params, settings=case.settings)
    assert sorted(d.resources) == case.resources, case.reason
    assert parent(d) == case.parent, case.reason
    assert d.resources[ROUTE]["spec"]["hostnames"] == [HOST]


def test_dedicated_gateway_listener_serves_the_certificates_secret() -> None:
    _, d = compose(params(gateway="dedicated", tls={"issuerRef": {"name": "le"}}))
    gateway, cert = d.resources[GATEWAY], d.resources[CERTIFICATE]
    assert gateway["metadata"] == {"name": "shop-gateway", "namespace": "shop"}
    assert gateway["spec"]["gatewayClassName"] == "platform"
    (listener,) = gateway["spec"]["listeners"]
    assert (listener["protocol"], listener["port"]) == ("HTTPS", 443)
    assert listener["tls"]["certificateRefs"] == [{"kind": "Secret", "name": "shop-tls"}]
    assert listener["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    assert cert["spec"] == {
        "secretName": "shop-tls",
        "dnsNames": [HOST],
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "le"},
    }
    assert parent(d)["name"] == gateway["metadata"]["name"]
    assert "namespace" not in parent(d), "the route's parent is in its own namespace"


def test_dedicated_certificate_issuer_defaults_to_the_inputs() -> None:
    settings = {"serviceIngress": {"gatewayAPI": {"issuerRef": {"kind": "Issuer", "name": "ca"}}}}
    _, d = compose(params(gateway="dedicated"), settings=settings)
    issuer = d.resources[CERTIFICATE]["spec"]["issuerRef"]
    assert issuer == {"group": "cert-manager.io", "kind": "Issuer", "name": "ca"}


def test_rules_carry_matches_weights_timeouts_and_cors() -> None:
    routes = [
        {
            "match": {
                "path": {"type": "Exact", "value": "/api"},
                "method": "POST",
                "headers": [{"name": "x-canary", "value": "1"}],
            },
            "backends": [
                {"service": "stable", "port": 80, "weight": 90},
                {"service": "canary", "port": 80, "weight": 10},
            ],
            "timeouts": {"request": "10s", "backendRequest": "2s"},
        }
    ]
    cors = {"allowOrigins": ["https://shop.example.org"], "allowMethods": ["GET"]}
    _, d = compose(params(routes=routes, cors=cors))
    (rule,) = d.resources[ROUTE]["spec"]["rules"]
    assert rule == {
        "matches": [
            {
                "path": {"type": "Exact", "value": "/api"},
                "method": "POST",
                "headers": [{"name": "x-canary", "value": "1", "type": "Exact"}],
            }
        ],
        "backendRefs": [
            {"name": "stable", "port": 80, "weight": 90},
            {"name": "canary", "port": 80, "weight": 10},
        ],
        "filters": [
            {
                "type": "CORS",
                "cors": {
                    "allowOrigins": ["https://shop.example.org"],
                    "allowMethods": ["GET"],
                    "allowCredentials": False,
                    "maxAge": 5,
                },
            }
        ],
        "timeouts": {"request": "10s", "backendRequest": "2s"},
    }


@pytest.mark.parametrize(
    ("listener", "host", "covered"),
    [
        pytest.param("*.apps.example.org", "shop.apps.example.org", True, id="wildcard: one label"),
        pytest.param("*.apps.example.org", "a.b.apps.example.org", True, id="wildcard: deeper"),
        pytest.param("*.apps.example.org", "apps.example.org", False, id="wildcard: not itself"),
        pytest.param("*.apps.example.org", "shop.example.com", False, id="another domain"),
        pytest.param("shop.example.org", "shop.example.org", True, id="exact: equal"),
        pytest.param("shop.example.org", "www.shop.example.org", False, id="exact: not under"),
    ],
)
def test_listener_hostname_takes_hosts_as_gateway_api_does(
    listener: str, host: str, covered: bool
) -> None:
    assert listener_covers(listener, host) is covered


def test_host_outside_the_shared_gateway_is_a_fatal_naming_it() -> None:
    settings = {"serviceIngress": {"gatewayAPI": {"sharedGateway": {"hostname": "*.apps.x.org"}}}}
    with pytest.raises(Refusal, match=r"spec.parameters.hosts\[1\] 'brand.example.com'"):
        compose(params(hosts=["a.apps.x.org", "brand.example.com"]), settings=settings)


def test_tls_on_a_shared_gateway_without_https_listener_is_a_fatal() -> None:
    settings = {"serviceIngress": {"gatewayAPI": {"sharedGateway": {"httpsListener": None}}}}
    with pytest.raises(Refusal, match="the shared Gateway has no HTTPS listener"):
        compose(params(), settings=settings)
    _, d = compose(params(tls={"enabled": False}), settings=settings)
    assert parent(d)["sectionName"] == "http"


# --- gateway-api status -----------------------------------------------------------------------


def observed_route(*parents: JSON, section: str = "https") -> JSON:
    ref = {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": "platform",
        "namespace": "gateway-system",
        "sectionName": section,
    }
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "shop-x1", "namespace": "shop"},
        "spec": {"parentRefs": [ref]},
        "status": {
            "parents": [{"parentRef": ref, "controllerName": "x.io/gw"} | p for p in parents]
        },
    }


def _at_generation(obj: JSON, *, route: int, seen: int) -> JSON:
    """The route at metadata.generation route, its Gateway's conditions about generation seen."""
    obj["metadata"]["generation"] = route
    for parent in obj["status"]["parents"]:
        for c in parent["conditions"]:
            c["observedGeneration"] = seen
    return obj


def conditions(accepted: tuple[str, str], refs: tuple[str, str] = ("True", "ResolvedRefs")) -> JSON:
    return {
        "conditions": [
            {"type": "Accepted", "status": accepted[0], "reason": accepted[1], "message": "m"},
            {"type": "ResolvedRefs", "status": refs[0], "reason": refs[1], "message": ""},
        ]
    }


@dataclass(frozen=True)
class StatusCase:
    reason: str
    observed: dict[str, JSON]
    want: JSON
    ready: bool = False
    warnings: list[WarningResult] = field(default_factory=list)


SHARED_PARENT = "gateway-system/platform/https"
STATUS_CASES = {
    "NotObservedYet": StatusCase(
        reason="Before the route exists nothing is accepted and no URL is shown.",
        observed={},
        want={"routesAccepted": False},
    ),
    "NoControllerYet": StatusCase(
        reason="A route no controller has written about is pending, and says so.",
        observed={ROUTE: observed_route() | {"status": {}}},
        want={
            "routesAccepted": False,
            "routeParents": [
                {
                    "gateway": SHARED_PARENT,
                    "accepted": False,
                    "message": "no Gateway controller has reported on the route yet",
                }
            ],
        },
    ),
    "Accepted": StatusCase(
        reason="Accepted with resolved refs: ready, with the URLs.",
        observed={ROUTE: observed_route(conditions(("True", "Accepted")))},
        want={
            "routesAccepted": True,
            "routeParents": [{"gateway": SHARED_PARENT, "accepted": True, "refsResolved": True}],
            "urls": [f"https://{HOST}"],
        },
        ready=True,
    ),
    "NotAccepted": StatusCase(
        reason="A Gateway refusing the route: its reason and message reach status and a warning.",
        observed={ROUTE: observed_route(conditions(("False", "NotAllowedByListeners")))},
        want={
            "routesAccepted": False,
            "routeParents": [
                {
                    "gateway": SHARED_PARENT,
                    "accepted": False,
                    "reason": "NotAllowedByListeners",
                    "message": "m",
                    "refsResolved": True,
                }
            ],
        },
        warnings=[
            WarningResult(
                f"route not accepted by Gateway {SHARED_PARENT}: NotAllowedByListeners: m",
                reason="RouteNotAccepted",
            )
        ],
    ),
    "AnswerAboutAnOlderSpec": StatusCase(
        reason="Accepted at generation 1, but the route is at generation 2: pending, not accepted.",
        observed={
            ROUTE: _at_generation(observed_route(conditions(("True", "Accepted"))), route=2, seen=1)
        },
        want={
            "routesAccepted": False,
            "routeParents": [
                {
                    "gateway": SHARED_PARENT,
                    "accepted": False,
                    "reason": "Pending",
                    "message": "the Gateway has not reported on generation 2 of the route yet "
                    "(its answer is about generation 1)",
                }
            ],
        },
    ),
    "BackendNotFound": StatusCase(
        reason="Accepted but a backend Service is missing: URLs shown, not ready, reason given.",
        observed={
            ROUTE: observed_route(
                conditions(("True", "Accepted"), refs=("False", "BackendNotFound"))
            )
        },
        want={
            "routesAccepted": True,
            "routeParents": [
                {
                    "gateway": SHARED_PARENT,
                    "accepted": True,
                    "refsResolved": False,
                    "refsReason": "BackendNotFound",
                }
            ],
            "urls": [f"https://{HOST}"],
        },
    ),
}


@pytest.mark.parametrize("case", STATUS_CASES.values(), ids=STATUS_CASES.keys())
def test_route_status_from_the_gateways_conditions(case: StatusCase) -> None:
    _, d = compose(params(), observed=case.observed)
    assert status(d) == case.want, case.reason
    assert d.warnings == case.warnings, case.reason
    assert KIND.readiness.is_ready(case.observed.get(ROUTE)) is case.ready, case.reason
    conditions = [(c.typ, c.status, c.reason) for c in d.conditions]
    if ROUTE not in case.observed:
        assert conditions == [], case.reason
    elif case.want["routesAccepted"]:
        assert conditions == [("RoutesAccepted", "True", "Accepted")], case.reason
    else:
        reason = case.want["routeParents"][0].get("reason", "Pending")
        assert conditions == [("RoutesAccepted", "False", reason)], case.reason


def _certificate(ready: str, message: str = "") -> JSON:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "status": {
            "conditions": [
                {"type": "Ready", "status": ready, "reason": "Issuing", "message": message}
            ]
        },
    }


@pytest.mark.parametrize(
    ("observed", "ready", "message"),
    [
        pytest.param({}, False, None, id="not observed: not ready, no message"),
        pytest.param(
            {CERTIFICATE: _certificate("False", "Issuing certificate as Secret does not exist")},
            False,
            "Issuing certificate as Secret does not exist",
            id="issuing: not ready, cert-manager's message",
        ),
        pytest.param({CERTIFICATE: _certificate("True")}, True, None, id="ready"),
    ],
)
def test_certificate_readiness_in_status(
    observed: dict[str, JSON], ready: bool, message: str | None
) -> None:
    _, d = compose(params(gateway="dedicated"), observed=observed)
    got = status(d)
    assert got["certificateReady"] is ready
    assert got["certificateSecret"] == "shop-tls"
    assert got.get("certificateMessage") == message
    assert KIND.readiness.is_ready(observed.get(CERTIFICATE)) is ready


@pytest.mark.parametrize(
    ("programmed", "ready"),
    [pytest.param("True", True, id="programmed"), pytest.param("False", False, id="not yet")],
)
def test_gateway_is_ready_when_programmed(programmed: str, ready: bool) -> None:
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "status": {
            "conditions": [
                {"type": "Accepted", "status": "True"},
                {"type": "Programmed", "status": programmed},
            ]
        },
    }
    assert KIND.readiness.is_ready(gateway) is ready


# --- aws-apigateway ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "keys"),
    [
        pytest.param({}, ["$default"], id="everything: the $default route"),
        pytest.param({"method": "GET"}, ["GET /", "GET /{proxy+}"], id="every path, one method"),
        pytest.param(
            {"path": {"value": "/orders/"}},
            ["ANY /orders", "ANY /orders/{proxy+}"],
            id="prefix: the path and under it",
        ),
        pytest.param(
            {"path": {"type": "Exact", "value": "/health"}, "method": "GET"},
            ["GET /health"],
            id="exact",
        ),
    ],
)
def test_route_keys(match: JSON, keys: list[str]) -> None:
    assert route_keys(Match.model_validate(match)) == keys


def test_aws_composes_api_integrations_routes_and_stage() -> None:
    routes = [
        {"match": {"path": {"value": "/orders"}}, "backends": [{"service": "o", "port": 80}]},
        {
            "match": {"path": {"type": "Exact", "value": "/health"}},
            "backends": [{"service": "o", "port": 81}],
            "timeouts": {"request": "15s"},
        },
    ]
    cors = {"allowOrigins": ["https://shop.example.org"]}
    _, d = compose(aws_params(routes=routes, cors=cors), settings=AWS_INPUT)
    r = d.resources
    integrations = sorted(n for n in r if n.startswith(INTEGRATION_PREFIX))
    aws_routes = sorted(n for n in r if n.startswith(ROUTE_PREFIX))
    assert (len(integrations), len(aws_routes)) == (2, 3)
    backend_routes = sorted(n for n in r if r[n]["kind"] == "HTTPRoute")
    usages = sorted(n for n in r if r[n]["kind"] == "Usage")
    assert len(backend_routes) == 2
    assert set(r) == {API, STAGE, *integrations, *aws_routes, *backend_routes, *usages}
    for obj in (r[n] for n in (API, STAGE, *integrations, *aws_routes)):
        assert obj["apiVersion"] == AWS_API
        assert obj["spec"]["forProvider"]["region"] == "eu-west-1"
        assert obj["spec"]["providerConfigRef"] == {
            "kind": "ClusterProviderConfig",
            "name": "default",
        }
    api = r[API]["spec"]["forProvider"]
    assert (api["protocolType"], api["name"]) == ("HTTP", "shop-shop")
    assert api["corsConfiguration"]["allowOrigins"] == ["https://shop.example.org"]
    stage = r[STAGE]
    assert stage["metadata"]["annotations"] == {EXTERNAL_NAME: "$default"}
    assert stage["spec"]["forProvider"]["autoDeploy"] is True
    assert stage["spec"]["forProvider"]["defaultRouteSettings"] == {
        "throttlingBurstLimit": 100,
        "throttlingRateLimit": 50,
    }
    timeouts = sorted(
        r[n]["spec"]["forProvider"].get("timeoutMilliseconds", 0) for n in integrations
    )
    assert timeouts == [0, 15000]
    keys = sorted(r[n]["spec"]["forProvider"]["routeKey"] for n in aws_routes)
    assert keys == ["ANY /health", "ANY /orders", "ANY /orders/{proxy+}"]


def _selected(resources: dict[str, JSON], selector: JSON) -> list[str]:
    """The composition names a matchControllerRef/matchLabels selector picks."""
    assert selector["matchControllerRef"] is True
    labels = selector["matchLabels"]
    return [
        n
        for n, o in resources.items()
        if labels.items() <= (o.get("metadata", {}).get("labels") or {}).items()
    ]


def test_aws_references_select_the_resources_they_name() -> None:
    _, d = compose(aws_params(), settings=AWS_INPUT)
    r = d.resources
    for name, obj in r.items():
        if obj["apiVersion"] != AWS_API:
            continue
        spec = obj["spec"]["forProvider"]
        if name != API:
            assert _selected(r, spec["apiIdSelector"]) == [API], name
        if name.startswith(INTEGRATION_PREFIX):
            assert spec["integrationType"] == "HTTP_PROXY"
            assert spec["connectionType"] == "VPC_LINK"
            assert spec["connectionId"] == "a1b2c3"
            assert spec["integrationUri"].startswith("arn:aws:elasticloadbalancing:")
        if name.startswith(ROUTE_PREFIX):
            (target,) = _selected(r, spec["targetSelector"])
            assert target.startswith(INTEGRATION_PREFIX)
    labelled = {
        n for n, o in r.items() if RESOURCE_LABEL in o.get("metadata", {}).get("labels", {})
    }
    # Selected by references, and by the Usages ordering their deletion.
    assert labelled == {
        API,
        STAGE,
        *(n for n in r if n.startswith((INTEGRATION_PREFIX, ROUTE_PREFIX))),
    }


def test_aws_without_its_input_is_a_fatal_naming_every_missing_field() -> None:
    with pytest.raises(Refusal) as e:
        compose(aws_params())
    for f in ("region", "vpcLinkId", "integrationUri"):
        assert f"serviceIngress.aws.{f}" in str(e.value)


def test_aws_routes_becoming_one_route_key_are_a_fatal_naming_both() -> None:
    routes = [
        {"match": {"path": {"type": "Exact", "value": "/a"}}, "backends": ROUTES[0]["backends"]},
        {"match": {"path": {"value": "/a"}}, "backends": ROUTES[0]["backends"]},
    ]
    with pytest.raises(Refusal, match=r"routes\[1\] and spec.parameters.routes\[0\].*ANY /a"):
        compose(aws_params(routes=routes), settings=AWS_INPUT)


def _ready(extra: JSON | None = None) -> JSON:
    return {"status": {"conditions": [{"type": "Ready", "status": "True"}]} | (extra or {})}


def _accepted_route(route: JSON, accepted: str = "True") -> JSON:
    """An HTTPRoute as a Gateway controller answers it (status.parents, Gateway API v1)."""
    (parent,) = route["spec"]["parentRefs"]
    conditions = [
        {"type": "Accepted", "status": accepted, "reason": "Accepted"},
        {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs"},
    ]
    return route | {"status": {"parents": [{"parentRef": parent, "conditions": conditions}]}}


def test_aws_status_url_once_routes_backends_and_stage_are_ready() -> None:
    _, first = compose(aws_params(), settings=AWS_INPUT)
    assert status(first)["routesAccepted"] is False
    endpoint = "https://abc123.execute-api.eu-west-1.amazonaws.com"
    observed = {n: _ready() for n in first.resources}
    observed[API] = _ready({"atProvider": {"apiEndpoint": endpoint}})
    (backend,) = _of_kind(first.resources, "HTTPRoute")
    for accepted, urls in (("False", None), ("True", [endpoint])):
        observed[backend] = _accepted_route(first.resources[backend], accepted)
        _, d = compose(aws_params(), settings=AWS_INPUT, observed=observed)
        got = status(d)
        assert (got["routesAccepted"], got.get("urls")) == (accepted == "True", urls)
        assert [r["ready"] for r in got["awsRoutes"]] == [accepted == "True"]


def test_durations() -> None:
    assert duration_ms("1h2m3s4ms") == 3_723_004
    assert duration_ms("0s") == 0


def test_composing_is_deterministic() -> None:
    for p, settings in ((params(gateway="dedicated"), None), (aws_params(), AWS_INPUT)):
        assert compose(p, settings=settings)[1] == compose(p, settings=settings)[1]


# --- aws-apigateway: backends, the platform's VPC link, deletion order -------------------------

AWS_WIRING: JSON = {
    "serviceIngress": {
        "aws": {
            "region": "eu-west-1",
            "vpcLinkId": "a1b2c3",
            "integrationUri": "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/x/1/2",
        }
    }
}
TWO_BACKENDS = [
    {"match": {"path": {"value": "/api"}}, "backends": [{"service": "orders", "port": 8080}]},
    {
        "match": {"path": {"type": "Exact", "value": "/health"}, "method": "GET"},
        "backends": [{"service": "orders", "port": 8081}],
    },
]


def _of_kind(resources: dict[str, JSON], kind: str) -> dict[str, JSON]:
    return {n: o for n, o in resources.items() if o["kind"] == kind}


def _host_by_route_key(resources: dict[str, JSON]) -> dict[str, str]:
    """Route key -> the Host header its integration sends (read through the selectors)."""
    out = {}
    for route in _of_kind(resources, "Route").values():
        spec = route["spec"]["forProvider"]
        (target,) = _selected(resources, spec["targetSelector"])
        params = resources[target]["spec"]["forProvider"]["requestParameters"]
        out[spec["routeKey"]] = params["overwrite:header.host"]
    return out


def _backend_by_host(resources: dict[str, JSON]) -> dict[str, tuple[str, str, int]]:
    """Host -> (Gateway, Service, port) of the HTTPRoutes composed."""
    out = {}
    for route in _of_kind(resources, "HTTPRoute").values():
        spec = route["spec"]
        (parent,) = spec["parentRefs"]
        (rule,) = spec["rules"]
        (ref,) = rule["backendRefs"]
        gateway = f"{parent['namespace']}/{parent['name']}/{parent['sectionName']}"
        for host in spec["hostnames"]:
            out[host] = (gateway, ref["name"], ref["port"])
    return out


def test_aws_each_route_reaches_its_own_backend() -> None:
    _, d = compose(aws_params(routes=TWO_BACKENDS), settings=AWS_WIRING)
    hosts = _host_by_route_key(d.resources)
    assert hosts == {
        "ANY /api": "orders-8080.shop.apigateway.internal",
        "ANY /api/{proxy+}": "orders-8080.shop.apigateway.internal",
        "GET /health": "orders-8081.shop.apigateway.internal",
    }
    gateway = "gateway-system/platform/http"
    assert _backend_by_host(d.resources) == {
        "orders-8080.shop.apigateway.internal": (gateway, "orders", 8080),
        "orders-8081.shop.apigateway.internal": (gateway, "orders", 8081),
    }


def test_aws_two_namespaces_with_the_same_path_never_meet() -> None:
    hosts = []
    for namespace in ("team-a", "team-b"):
        ctx = context(
            KIND, aws_params(routes=TWO_BACKENDS[:1]), namespace=namespace, settings=AWS_WIRING
        )
        hosts.append(set(_host_by_route_key(KIND.compose(ctx).resources).values()))
    assert hosts == [
        {"orders-8080.team-a.apigateway.internal"},
        {"orders-8080.team-b.apigateway.internal"},
    ]


def test_aws_backend_hosts_follow_the_settings() -> None:
    settings = {
        "serviceIngress": {
            "aws": AWS_WIRING["serviceIngress"]["aws"]
            | {
                "backendDomain": "edge.example.internal",
                "clusterGateway": {"name": "edge", "namespace": "edge-system", "listener": "lb"},
            }
        }
    }
    _, d = compose(aws_params(routes=TWO_BACKENDS[1:]), settings=settings)
    assert _backend_by_host(d.resources) == {
        "orders-8081.shop.edge.example.internal": ("edge-system/edge/lb", "orders", 8081)
    }


def test_aws_status_maps_each_route_to_its_backend() -> None:
    _, first = compose(aws_params(routes=TWO_BACKENDS), settings=AWS_WIRING)
    assert status(first)["awsRoutes"] == [
        {
            "routeKey": "ANY /api",
            "service": "orders",
            "port": 8080,
            "host": "orders-8080.shop.apigateway.internal",
            "ready": False,
        },
        {
            "routeKey": "ANY /api/{proxy+}",
            "service": "orders",
            "port": 8080,
            "host": "orders-8080.shop.apigateway.internal",
            "ready": False,
        },
        {
            "routeKey": "GET /health",
            "service": "orders",
            "port": 8081,
            "host": "orders-8081.shop.apigateway.internal",
            "ready": False,
        },
    ]


def test_aws_integrations_use_the_platforms_vpc_link() -> None:
    _, d = compose(aws_params(routes=TWO_BACKENDS), settings=AWS_WIRING)
    assert not _of_kind(d.resources, "VPCLink")
    integrations = _of_kind(d.resources, "Integration").values()
    assert [i["spec"]["forProvider"]["connectionId"] for i in integrations] == ["a1b2c3"] * 2
    assert all("connectionIdSelector" not in i["spec"]["forProvider"] for i in integrations)


def test_aws_without_the_vpc_link_is_a_fatal_naming_the_setting() -> None:
    aws = dict(AWS_WIRING["serviceIngress"]["aws"])
    del aws["vpcLinkId"]
    with pytest.raises(Refusal) as e:
        compose(aws_params(), settings={"serviceIngress": {"aws": aws}})
    assert "serviceIngress.aws.vpcLinkId must be set in the platform settings" in str(e.value)


def test_aws_usages_delete_what_depends_first() -> None:
    """Each route before the integration it targets; integrations and stage before the API."""
    _, d = compose(aws_params(routes=TWO_BACKENDS), settings=AWS_WIRING)
    r = d.resources
    (api,) = _of_kind(r, "API")
    want = set()
    for name, obj in r.items():
        spec = obj["spec"].get("forProvider", {})
        if obj["kind"] == "Route":
            want.add((name, *_selected(r, spec["targetSelector"])))
        if obj["kind"] in ("Integration", "Stage"):
            want.add((name, api))
    got = set()
    for usage in _of_kind(r, "Usage").values():
        assert usage["apiVersion"] == "protection.crossplane.io/v1beta1"
        spec = usage["spec"]
        (by,) = _selected(r, spec["by"]["resourceSelector"])
        (of,) = _selected(r, spec["of"]["resourceSelector"])
        assert (spec["by"]["kind"], spec["of"]["kind"]) == (r[by]["kind"], r[of]["kind"])
        assert spec["replayDeletion"] is True
        got.add((by, of))
    assert got == want
    assert len(want) == 3 + 2 + 1  # three route keys, two integrations, the stage
