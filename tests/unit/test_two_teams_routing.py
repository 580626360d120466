"""Two teams on one cluster: team A (namespace team-a) and team B (team-b) ask for colliding
hosts, issuers and Argo CD projects. B is refused or kept to its own, and nothing of A's
appears in what B's XR composes.

Each request goes through the real runner (function/runner.py), as Crossplane sends it.
"""

import base64
import json
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.runner import run
from function.structs import JSON
from harness.requests import desired, request, status, xr

INGRESS_API = "network.platform.example.org/v1alpha1"
ENVIRONMENT_API = "compute.platform.example.org/v1alpha1"
# The requirement under which the function asks for every ServiceIngress.
INGRESSES = "serviceingresses"
# Each team routes the hosts below its own domain; only team A may name Let's Encrypt.
TENANCY: JSON = {
    "tenancy": {
        "tenants": [
            {
                "namespaces": ["team-a"],
                "hosts": ["*.team-a.apps.example.org"],
                "issuers": [{"kind": "ClusterIssuer", "name": "letsencrypt-production"}],
                "argocdProject": "team-a",
            },
            {
                "namespaces": ["team-b"],
                "hosts": ["*.team-b.apps.example.org"],
                "argocdProject": "team-b",
            },
        ]
    }
}
# Rules that overlap: every namespace may route any host under apps.example.org.
OVERLAPPING: JSON = {"tenancy": {"default": {"hosts": ["*.apps.example.org"]}}}
SETTINGS_WHERE = (
    "the platform settings (EnvironmentConfig function-platform data, or the Composition's "
    "input.spec)"
)


def ingress(
    namespace: str,
    hosts: list[str],
    *,
    name: str = "web",
    path: str = "/",
    created: str = "",
    **params: Any,
) -> JSON:
    composite = xr(
        INGRESS_API,
        "ServiceIngress",
        {
            "environment": "production",
            "hosts": hosts,
            "routes": [
                {
                    "match": {"path": {"type": "PathPrefix", "value": path}},
                    "backends": [{"service": "web", "port": 8080}],
                }
            ],
        }
        | params,
        name=name,
        namespace=namespace,
    )
    if created:
        composite["metadata"]["creationTimestamp"] = created
    return composite


def fatal(rsp: fnv1.RunFunctionResponse) -> list[str]:
    return [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]


def compose(
    composite: JSON, settings: JSON, others: list[JSON] | None = None
) -> fnv1.RunFunctionResponse:
    """The function's answer, with every ServiceIngress of the cluster answered (when others
    is given) as Crossplane lists them."""
    required = {INGRESSES: [composite, *others]} if others is not None else None
    return run(request(composite, required=required, settings=settings))


def hosts_of(rsp: fnv1.RunFunctionResponse) -> list[str]:
    route = desired(rsp)["route"]
    return list(route["spec"]["hostnames"])


# ---------------------------------------------------------------- hosts and issuers


def test_b_may_not_route_a_host_under_a_s_domain() -> None:
    a = compose(ingress("team-a", ["shop.team-a.apps.example.org"]), TENANCY)
    assert fatal(a) == []
    assert hosts_of(a) == ["shop.team-a.apps.example.org"]

    b = compose(ingress("team-b", ["shop.team-a.apps.example.org"], path="/api/admin"), TENANCY)
    assert fatal(b) == [
        "cannot compose ServiceIngress team-b/web: spec.parameters.hosts[0] "
        "'shop.team-a.apps.example.org': not a host namespace team-b may use (it may use: "
        "*.team-b.apps.example.org); a platform engineer allows more in "
        f"tenancy.tenants[1].hosts of {SETTINGS_WHERE}"
    ]
    assert desired(b) == {}


def test_a_wildcard_over_a_s_domain_is_refused_too() -> None:
    """*.apps.example.org would take every host below it, team A's included."""
    (message,) = fatal(compose(ingress("team-b", ["*.apps.example.org"]), TENANCY))
    assert "spec.parameters.hosts[0] '*.apps.example.org': not a host namespace team-b" in message


def test_a_namespace_no_tenant_lists_may_route_no_host() -> None:
    (message,) = fatal(compose(ingress("team-c", ["web.team-c.apps.example.org"]), TENANCY))
    assert "(it may use: none)" in message
    assert "tenancy.default.hosts" in message


def test_b_may_not_have_its_certificate_issued_by_a_s_issuer() -> None:
    issuer = {"issuerRef": {"kind": "ClusterIssuer", "name": "letsencrypt-production"}}
    a = compose(
        ingress("team-a", ["shop.team-a.apps.example.org"], gateway="dedicated", tls=issuer),
        TENANCY,
    )
    assert fatal(a) == []
    assert desired(a)["certificate"]["spec"]["issuerRef"]["name"] == "letsencrypt-production"

    b = compose(
        ingress("team-b", ["shop.team-b.apps.example.org"], gateway="dedicated", tls=issuer),
        TENANCY,
    )
    assert fatal(b) == [
        "cannot compose ServiceIngress team-b/web: spec.parameters.tls.issuerRef ClusterIssuer "
        "'letsencrypt-production': not an issuer namespace team-b may name (it may name: "
        "ClusterIssuer platform (the platform's)); a platform engineer allows more in "
        f"tenancy.tenants[1].issuers of {SETTINGS_WHERE}"
    ]


def test_b_gets_the_platform_s_issuer_for_its_own_hosts() -> None:
    b = compose(ingress("team-b", ["shop.team-b.apps.example.org"], gateway="dedicated"), TENANCY)
    assert fatal(b) == []
    assert desired(b)["certificate"]["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "platform",
    }


def test_one_fatal_names_the_host_and_the_issuer() -> None:
    issuer = {"issuerRef": {"kind": "ClusterIssuer", "name": "letsencrypt-production"}}
    b = ingress(
        "team-b",
        ["web.team-b.apps.example.org", "shop.team-a.apps.example.org"],
        gateway="dedicated",
        tls=issuer,
    )
    (message,) = fatal(compose(b, TENANCY))
    assert "spec.parameters.hosts[1] 'shop.team-a.apps.example.org'" in message
    assert "hosts[0]" not in message
    assert "spec.parameters.tls.issuerRef" in message


# ---------------------------------------------------------------- a host another XR holds

A_FIRST = "2026-01-15T10:00:00Z"
B_LATER = "2026-03-02T09:00:00Z"


def test_the_function_asks_for_every_service_ingress() -> None:
    rsp = compose(ingress("team-a", ["shop.apps.example.org"]), OVERLAPPING)
    selector = rsp.requirements.resources[INGRESSES]
    # No name and no labels: Crossplane lists every object of the kind in every namespace
    # (crossplane v2.3.4 internal/xfn/required_resources.go).
    assert (selector.api_version, selector.kind) == (INGRESS_API, "ServiceIngress")
    assert selector.WhichOneof("match") is None
    assert selector.namespace == ""


def test_until_crossplane_answers_nothing_is_refused() -> None:
    b = ingress("team-b", ["shop.apps.example.org"], created=B_LATER)
    rsp = compose(b, OVERLAPPING)  # the requirement not answered yet
    assert fatal(rsp) == []
    assert hosts_of(rsp) == ["shop.apps.example.org"]


def test_a_host_an_older_xr_of_another_namespace_holds_is_refused() -> None:
    a = ingress("team-a", ["shop.apps.example.org"], name="shop", created=A_FIRST)
    b = ingress("team-b", ["shop.apps.example.org"], path="/api/admin", created=B_LATER)

    assert fatal(compose(b, OVERLAPPING, [a])) == [
        "cannot compose ServiceIngress team-b/web: spec.parameters.hosts[0] "
        "'shop.apps.example.org': held by a ServiceIngress of namespace team-a, which asked "
        "for it first; use another host"
    ]
    # Team A keeps its host, whatever team B asks for.
    held = compose(a, OVERLAPPING, [b])
    assert fatal(held) == []
    assert hosts_of(held) == ["shop.apps.example.org"]


def test_a_host_under_a_wildcard_an_older_xr_holds_is_refused() -> None:
    """Gateway API gives a request for admin.shop.apps.example.org to the route naming it
    rather than to *.shop.apps.example.org's: it would take team A's traffic."""
    a = ingress("team-a", ["*.shop.apps.example.org"], created=A_FIRST)
    b = ingress("team-b", ["own.apps.example.org", "admin.shop.apps.example.org"], created=B_LATER)
    (message,) = fatal(compose(b, OVERLAPPING, [a]))
    assert "spec.parameters.hosts[1] 'admin.shop.apps.example.org': held by" in message
    assert "hosts[0]" not in message


def test_an_xr_whose_namespace_may_not_use_the_host_holds_nothing() -> None:
    """Team B's older XR on team A's host is refused itself: it does not keep team A out."""
    b = ingress("team-b", ["shop.team-a.apps.example.org"], created=A_FIRST)
    a = ingress("team-a", ["shop.team-a.apps.example.org"], created=B_LATER)
    assert fatal(compose(a, TENANCY, [b])) == []


def test_an_xr_being_deleted_holds_nothing() -> None:
    a = ingress("team-a", ["shop.apps.example.org"], created=A_FIRST)
    a["metadata"]["deletionTimestamp"] = "2026-03-01T00:00:00Z"
    b = ingress("team-b", ["shop.apps.example.org"], created=B_LATER)
    assert fatal(compose(b, OVERLAPPING, [a])) == []


def test_nothing_of_a_s_appears_in_what_b_composes() -> None:
    a = ingress("team-a", ["shop.apps.example.org"], name="shop", created=A_FIRST)
    b = ingress("team-b", ["tools.apps.example.org"], name="tools", created=B_LATER)
    rsp = compose(b, OVERLAPPING, [a])
    assert fatal(rsp) == []
    composed = json.dumps(desired(rsp)) + json.dumps(status(rsp))
    for of_a in ("shop.apps.example.org", "team-a", "uid-team-a"):
        assert of_a not in composed, of_a
    assert hosts_of(rsp) == ["tools.apps.example.org"]


@pytest.mark.parametrize(
    ("path", "refused"),
    [("/api", False), ("/", True)],
    ids=["disjoint paths share the host", "the same match on the same host"],
)
def test_within_one_namespace_only_the_same_match_on_a_host_is_refused(
    path: str, refused: bool
) -> None:
    first = ingress("team-a", ["shop.apps.example.org"], name="site", created=A_FIRST)
    second = ingress("team-a", ["shop.apps.example.org"], name="api", path=path, created=B_LATER)
    got = fatal(compose(second, OVERLAPPING, [first]))
    if not refused:
        assert got == []
        return
    assert got == [
        "cannot compose ServiceIngress team-a/api: spec.parameters.routes[0].match: "
        "ServiceIngress site of this namespace already routes the same requests on a host of "
        "this one (the Gateway would send them to one of the two); change the match or the host"
    ]
    # The older one keeps composing.
    assert fatal(compose(first, OVERLAPPING, [second])) == []


# ---------------------------------------------------------------- Argo CD projects

TOKEN = "eyJhbGciOiJSUzI1NiJ9.team-token.signature"


def environment(namespace: str, **gitops: Any) -> JSON:
    return xr(
        ENVIRONMENT_API,
        "VClusterEnvironment",
        {
            "environment": "dev",
            "gitops": {"repoURL": f"https://git.example.org/{namespace}.git"} | gitops,
        },
        name="preview",
        namespace=namespace,
    )


def vc_secret(namespace: str) -> JSON:
    """vc-<name> as vCluster v0.36.1 writes it with exportKubeConfig.serviceAccount."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "vc-preview", "namespace": namespace},
        "data": {
            "config": base64.b64encode(b"apiVersion: v1\nkind: Config\n").decode(),
            "certificate-authority": base64.b64encode(b"ca of " + namespace.encode()).decode(),
            "client-certificate": "",
            "client-key": "",
            "token": base64.b64encode(f"{TOKEN}.{namespace}".encode()).decode(),
        },
    }


def register(composite: JSON, settings: JSON) -> fnv1.RunFunctionResponse:
    namespace = composite["metadata"]["namespace"]
    return run(
        request(composite, required={"kubeconfig": [vc_secret(namespace)]}, settings=settings)
    )


def manifest(rsp: fnv1.RunFunctionResponse, name: str) -> JSON:
    found: JSON = desired(rsp)[name]["spec"]["forProvider"]["manifest"]
    return found


def test_each_team_s_environment_is_registered_in_its_own_project() -> None:
    for team in ("team-a", "team-b"):
        rsp = register(environment(team), TENANCY)
        assert fatal(rsp) == []
        secret = manifest(rsp, "argocd-cluster")
        # Argo CD v3.5.1 declarative-setup.md: project makes the cluster project-scoped.
        assert secret["stringData"]["project"] == team
        assert manifest(rsp, "argocd-application")["spec"]["project"] == team
        config = json.loads(secret["stringData"]["config"])
        assert config["bearerToken"] == f"{TOKEN}.{team}"


def test_b_may_not_name_a_s_project_or_argo_cd_s_default() -> None:
    for asked in ("team-a", "default"):
        rsp = register(environment("team-b", project=asked), TENANCY)
        assert fatal(rsp) == [
            f"cannot compose VClusterEnvironment team-b/preview: spec.parameters.gitops.project "
            f"'{asked}': the platform decides the Argo CD project (namespace team-b's is "
            f"'team-b', set in tenancy.tenants[1].argocdProject of {SETTINGS_WHERE}); "
            "remove the field"
        ]
        assert desired(rsp) == {}


def test_naming_the_platform_s_own_project_is_accepted() -> None:
    rsp = register(environment("team-b", project="team-b"), TENANCY)
    assert fatal(rsp) == []
    assert manifest(rsp, "argocd-application")["spec"]["project"] == "team-b"


def test_gitops_in_a_namespace_without_a_project_is_refused_naming_the_setting() -> None:
    rsp = register(environment("team-c"), TENANCY)
    assert fatal(rsp) == [
        "cannot compose VClusterEnvironment team-c/preview: spec.parameters.gitops: namespace "
        "team-c has no Argo CD project, so its environments cannot be registered with Argo CD; "
        f"a platform engineer sets one in tenancy.default.argocdProject of {SETTINGS_WHERE}"
    ]


def test_nothing_of_a_s_registration_appears_in_b_s() -> None:
    rsp = register(environment("team-b"), TENANCY)
    composed = json.dumps(desired(rsp))
    assert "team-a" not in composed
    assert f"{TOKEN}.team-a" not in composed
