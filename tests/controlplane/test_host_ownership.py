"""install/components/host-ownership in a real kube-apiserver: the API server compiles the
policy's CEL when it is applied, and refuses at admission (dry runs) an HTTPRoute of team B
on team A's host, while what Crossplane composes for a ServiceIngress passes.

Only etcd and kube-apiserver run (harness/controlplane.py ControlPlane.start_api_server),
with the upstream CRDs of EnvironmentConfig (the policy's parameter) and HTTPRoute.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as kclient
from kubernetes import dynamic
from kubernetes.client.exceptions import ApiException

from generate.hostownership import CROSSPLANE_USER
from harness.cases import load_yaml_docs
from harness.controlplane import ControlPlane
from harness.paths import ROOT, shared_dir

POLICY = ROOT / "install/components/host-ownership/host-ownership.yaml"
CRDS = (
    "crds/crossplane/apiextensions.crossplane.io_environmentconfigs.yaml",
    "crds/gateway-api/gateway.networking.k8s.io_httproutes.yaml",
)
# The platform settings' tenancy, as a platform engineer writes it (docs/settings.md).
SETTINGS = {
    "apiVersion": "apiextensions.crossplane.io/v1beta1",
    "kind": "EnvironmentConfig",
    "metadata": {"name": "function-platform"},
    "data": {
        "tenancy": {
            "default": {"hosts": ["*.{namespace}.apps.example.org"]},
            "tenants": [
                {"namespaces": ["team-a"], "hosts": ["*.team-a.example.com", "team-a.example.com"]},
                {"namespaces": ["team-b"], "hosts": ["shop-b.example.com"]},
            ],
        }
    },
}
SETTLE_SECONDS = 60.0


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("host-ownership"))
    try:
        cp.start_api_server()
        cp.apply_crds([shared_dir() / path for path in CRDS])
        for doc in load_yaml_docs(POLICY):
            cp.apply(doc)
        cp.apply(SETTINGS)
        for doc in _crossplane_may_write_routes():
            cp.apply(doc)
        for ns in ("team-a", "team-b", "team-c"):
            cp.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        yield cp
    finally:
        cp.stop()


def _crossplane_may_write_routes() -> list[dict[str, Any]]:
    """What Crossplane's RBAC gives its ServiceAccount for HTTPRoutes (install/crossplane-rbac)."""
    rbac = "rbac.authorization.k8s.io"
    name = "crossplane-httproutes"
    return [
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [
                {
                    "apiGroups": ["gateway.networking.k8s.io"],
                    "resources": ["httproutes"],
                    "verbs": ["create"],
                }
            ],
        },
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": rbac, "kind": "User", "name": CROSSPLANE_USER}],
        },
    ]


def route(namespace: str, hostnames: list[str] | None, **metadata: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "parentRefs": [{"name": "platform", "namespace": "gateway-system"}],
        "rules": [{"backendRefs": [{"name": "web", "port": 8080}]}],
    }
    if hostnames is not None:
        spec["hostnames"] = hostnames
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"generateName": "route-", "namespace": namespace, **metadata},
        "spec": spec,
    }


def _as(plane: ControlPlane, user: str | None) -> dynamic.DynamicClient:
    """The admin's client, or one impersonating user (the admin is in system:masters)."""
    if user is None:
        return plane.api
    api_client = kclient.ApiClient(plane.api.client.configuration)
    api_client.set_default_header("Impersonate-User", user)
    return dynamic.DynamicClient(api_client)  # type: ignore[no-untyped-call]


def refusal(plane: ControlPlane, doc: dict[str, Any], user: str | None = None) -> str | None:
    """The API server's refusal of creating doc (a dry run), or None when it admits it."""
    api = _as(plane, user)
    res = api.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    try:
        res.create(
            body=doc, namespace=doc["metadata"]["namespace"], query_params=[("dryRun", "All")]
        )
    except ApiException as e:
        # A policy's denial is 422 Invalid (ValidatingAdmissionPolicy validations[].reason
        # unset); anything else is not the policy's answer.
        if e.status != 422:
            raise
        return str(e.body)
    return None


def _settled(plane: ControlPlane) -> None:
    """Wait until the policy is in force (the API server loads policies asynchronously)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while refusal(plane, route("team-b", ["shop.team-a.example.com"])) is None:
        assert time.monotonic() < deadline, "the policy never refused anything"
        time.sleep(0.5)


def test_team_b_may_not_attach_a_route_to_team_a_s_host(plane: ControlPlane) -> None:
    _settled(plane)
    message = refusal(plane, route("team-b", ["shop-b.example.com", "shop.team-a.example.com"]))
    assert message is not None
    assert "spec.hostnames: each must be a host namespace team-b may use (shop-b.example.com)" in (
        message
    )


@pytest.mark.parametrize(
    ("namespace", "hostnames", "admitted"),
    [
        ("team-b", ["shop-b.example.com"], True),
        ("team-a", ["shop.team-a.example.com", "team-a.example.com"], True),
        ("team-a", ["*.shop.team-a.example.com"], True),
        ("team-a", ["example.com"], False),
        ("team-a", ["*.example.com"], False),
        ("team-b", ["www.shop-b.example.com"], False),
        ("team-c", ["web.team-c.apps.example.org"], True),
        ("team-c", ["web.team-a.apps.example.org"], False),
        ("team-b", None, False),
        ("team-b", [], False),
    ],
    ids=[
        "own host",
        "own wildcard's host and a listed host",
        "a wildcard within its own",
        "a parent domain",
        "a wildcard over others",
        "a host below a plain host",
        "the default, {namespace} filled in",
        "the default of another namespace",
        "no hostnames: every host of the Gateway",
        "empty hostnames",
    ],
)
def test_hosts_as_the_function_allows_them(
    plane: ControlPlane, namespace: str, hostnames: list[str] | None, admitted: bool
) -> None:
    _settled(plane)
    got = refusal(plane, route(namespace, hostnames))
    assert (got is None) == admitted, got


def _composed_for(kind: str) -> dict[str, Any]:
    return {
        "labels": {"crossplane.io/composite": "shop"},
        "ownerReferences": [
            {
                "apiVersion": "network.platform.example.org/v1alpha1",
                "kind": kind,
                "name": "shop",
                "uid": "5e7c2a10-3b1d-4f6e-9a8b-0c1d2e3f4a5b",
                "controller": True,
            }
        ],
    }


@pytest.mark.parametrize(
    ("user", "kind", "admitted"),
    [
        (CROSSPLANE_USER, "ServiceIngress", True),
        (CROSSPLANE_USER, "SomethingElse", False),
        (None, "ServiceIngress", False),
    ],
    ids=[
        "Crossplane, for a ServiceIngress: the function checked it",
        "Crossplane, for another kind",
        "anyone else copying Crossplane's label and owner",
    ],
)
def test_only_what_crossplane_composes_for_a_service_ingress_is_exempt(
    plane: ControlPlane, user: str | None, kind: str, admitted: bool
) -> None:
    _settled(plane)
    doc = route("team-b", ["shop.team-a.example.com"], **_composed_for(kind))
    got = refusal(plane, doc, user)
    assert (got is None) == admitted, got
