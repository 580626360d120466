"""VClusterEnvironment composer, tested from a built context (no protobuf).

What the chart renders from the composed values is in tests/e2e/test_vcluster_chart.py.
"""

import base64
import dataclasses
import json
from typing import Any

import pytest

from function.blocks.helm import HELM_API
from function.blocks.kubernetes import KUBERNETES_API
from function.blocks.usage import usage_name
from function.context import Desired
from function.kinds.vclusterenvironment import KIND, addons, argocd, compose, services, vcluster
from function.refusal import Refusal
from function.structs import JSON
from generate import crossplane
from tests.composing import context, refused, status

NAME, NAMESPACE = "payments", "team-payments"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-token.signature"
# vc-<name> as vCluster writes it with exportKubeConfig.serviceAccount (vcluster v0.36.1
# pkg/util/kubeconfig/kubeconfig.go: the token, the CA, empty client certificate and key).
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": f"vc-{NAME}", "namespace": NAMESPACE},
    "data": {
        "config": base64.b64encode(b"apiVersion: v1\nkind: Config\n").decode(),
        "certificate-authority": base64.b64encode(b"ca").decode(),
        "client-certificate": "",
        "client-key": "",
        "token": base64.b64encode(TOKEN.encode()).decode(),
    },
}
# Every namespace's environments are registered in the Argo CD project named after it.
TENANCY = {"tenancy": {"default": {"argocdProject": "{namespace}"}}}
GITOPS = {"repoURL": "https://git.example.org/payments/deploy.git"}
DEPLOYED = {
    "apiVersion": HELM_API,
    "kind": "Release",
    "status": {
        "atProvider": {"state": "deployed"},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}


def composed(
    params: dict[str, Any] | None = None,
    *,
    observed: dict[str, JSON] | None = None,
    required: dict[str, list[JSON]] | None = None,
    kubeconfig: bool = False,
    name: str = NAME,
    namespace: str = NAMESPACE,
    settings: JSON | None = None,
) -> Desired:
    found = dict(required or {})
    if kubeconfig:
        found[compose.KUBECONFIG] = [KUBECONFIG]
    ctx = context(
        KIND,
        # production: its preset quota holds both add-ons (staging's default does not)
        {"environment": "production"} | (params or {}),
        name=name,
        namespace=namespace,
        observed=observed,
        required=found,
        settings=TENANCY if settings is None else settings,
    )
    return KIND.compose(ctx)


# ---------------------------------------------------------------- add-ons


INSIDE = {addons.HELM_PROVIDER_CONFIG, addons.ISTIO_BASE, addons.ISTIOD}


@pytest.mark.parametrize(
    ("observed", "secret", "want"),
    [
        pytest.param({}, False, set(), id="nothing inside the vCluster before vc-<name> exists"),
        pytest.param({}, True, INSIDE, id="the add-ons once vc-<name> exists"),
        pytest.param(
            {addons.ISTIOD: {"apiVersion": HELM_API, "kind": "Release"}},
            False,
            INSIDE,
            id="composed add-ons stay while vc-<name> is briefly missing",
        ),
    ],
)
def test_add_ons_wait_for_the_kubeconfig_and_stay(
    observed: dict[str, JSON], secret: bool, want: set[str]
) -> None:
    got = composed({"addons": ["istio"]}, observed=observed, kubeconfig=secret).resources
    assert {k for k in got if k in INSIDE} == want
    assert compose.VCLUSTER in got, "the vCluster never waits"


def test_an_installed_add_on_stays_when_it_leaves_the_list() -> None:
    observed = {addons.KNATIVE_OPERATOR: DEPLOYED}
    got = composed({"addons": []}, observed=observed, kubeconfig=True).resources
    assert {addons.KNATIVE_OPERATOR, addons.KNATIVE_SERVING} <= set(got)


def test_add_ons_reach_the_vcluster_through_its_kubeconfig() -> None:
    got = composed({"addons": ["istio", "knative"]}, kubeconfig=True).resources
    ref = {"namespace": NAMESPACE, "name": f"vc-{NAME}", "key": "config"}
    helm_pc, kube_pc = got[addons.HELM_PROVIDER_CONFIG], got[addons.KUBERNETES_PROVIDER_CONFIG]
    assert (helm_pc["apiVersion"], kube_pc["apiVersion"]) == (HELM_API, KUBERNETES_API)
    assert helm_pc["spec"]["credentials"]["secretRef"] == ref
    assert kube_pc["spec"]["credentials"]["secretRef"] == ref
    for release in (addons.ISTIO_BASE, addons.ISTIOD, addons.KNATIVE_OPERATOR):
        assert got[release]["spec"]["providerConfigRef"] == {
            "kind": "ProviderConfig",
            "name": helm_pc["metadata"]["name"],
        }


@pytest.mark.parametrize(
    ("operator", "want"),
    [
        pytest.param(None, False, id="not before the operator release exists"),
        pytest.param(
            {"apiVersion": HELM_API, "kind": "Release"}, False, id="nor while it installs"
        ),
        pytest.param(DEPLOYED, True, id="once it is deployed (its CRD exists)"),
    ],
)
def test_knative_serving_waits_for_its_operator(operator: JSON | None, want: bool) -> None:
    observed = {addons.KNATIVE_OPERATOR: operator} if operator else {}
    got = composed({"addons": ["knative"]}, observed=observed, kubeconfig=True).resources
    assert (addons.KNATIVE_SERVING in got) == want
    if want:
        serving = got[addons.KNATIVE_SERVING]
        assert serving["spec"]["readiness"] == {"policy": "DeriveFromObject"}
        manifest = serving["spec"]["forProvider"]["manifest"]
        assert (
            manifest["metadata"]["namespace"]
            == (
                got[addons.KNATIVE_NAMESPACE]["spec"]["forProvider"]["manifest"]["metadata"]["name"]
            )
        )


# ---------------------------------------------------------------- Argo CD


def _manifest(got: dict[str, JSON], name: str) -> JSON:
    manifest: JSON = got[name]["spec"]["forProvider"]["manifest"]
    return manifest


def test_the_cluster_secret_is_assembled_from_the_vclusters_kubeconfig() -> None:
    got = composed({"gitops": GITOPS}, kubeconfig=True).resources
    secret = _manifest(got, argocd.CLUSTER_SECRET)
    assert secret["metadata"]["namespace"] == "argocd"
    assert secret["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "cluster"}
    data = secret["stringData"]
    assert data["server"] == f"https://{NAME}.{NAMESPACE}:443"
    # Argo CD v3.5.1 declarative-setup.md, "Clusters": bearer authentication, the CA as
    # base64 PEM; project makes it a project-scoped cluster.
    assert json.loads(data["config"]) == {
        "bearerToken": TOKEN,
        "tlsClientConfig": {"caData": KUBECONFIG["data"]["certificate-authority"]},
    }
    assert data["project"] == NAMESPACE
    app = _manifest(got, argocd.APPLICATION)
    assert app["spec"]["project"] == NAMESPACE
    assert app["spec"]["destination"]["server"] == data["server"], "the app targets the vCluster"
    assert app["spec"]["source"]["repoURL"] == GITOPS["repoURL"]
    assert "finalizers" not in app["metadata"]


def test_registration_waits_for_the_kubeconfig_and_is_then_kept() -> None:
    assert argocd.CLUSTER_SECRET not in composed({"gitops": GITOPS}).resources
    first = composed({"gitops": GITOPS}, kubeconfig=True).resources
    kept = composed({"gitops": GITOPS}, observed=first).resources
    assert kept[argocd.CLUSTER_SECRET]["spec"] == first[argocd.CLUSTER_SECRET]["spec"]
    assert argocd.APPLICATION in kept


def test_registration_waits_for_every_key_and_says_which() -> None:
    partial = {**KUBECONFIG, "data": {"config": KUBECONFIG["data"]["config"]}}
    desired = composed({"gitops": GITOPS}, required={compose.KUBECONFIG: [partial]})
    assert argocd.CLUSTER_SECRET not in desired.resources
    (warning,) = desired.warnings
    assert "token" in warning.message


def test_environments_of_two_namespaces_do_not_collide_in_argo_cds() -> None:
    one = _manifest(composed({"gitops": GITOPS}, kubeconfig=True).resources, argocd.APPLICATION)
    other = _manifest(
        composed({"gitops": GITOPS}, kubeconfig=True, namespace="team-other").resources,
        argocd.APPLICATION,
    )
    assert one["metadata"]["name"] != other["metadata"]["name"]


def test_environments_of_two_namespaces_get_provider_configs_apart() -> None:
    """Namespaced ProviderConfigs of one name in two namespaces block each other's deletion:
    crossplane-runtime v2.0.0-rc.1 (provider-kubernetes v1.2.1), pkg/reconciler/providerconfig/
    reconciler.go, counts a ProviderConfig's usages by its name in every namespace, and its
    watch requeues only the usage's own namespace's ProviderConfig."""
    params = {"addons": ["istio", "knative"]}
    observed = {addons.KNATIVE_OPERATOR: DEPLOYED}
    one = composed(params, observed=observed, kubeconfig=True).resources
    other = composed(params, observed=observed, kubeconfig=True, namespace="team-other").resources
    for pc in (addons.HELM_PROVIDER_CONFIG, addons.KUBERNETES_PROVIDER_CONFIG):
        assert one[pc]["metadata"]["name"] != other[pc]["metadata"]["name"]
    for got in (one, other):
        helm_pc = got[addons.HELM_PROVIDER_CONFIG]["metadata"]["name"]
        kube_pc = got[addons.KUBERNETES_PROVIDER_CONFIG]["metadata"]["name"]
        assert got[addons.ISTIOD]["spec"]["providerConfigRef"]["name"] == helm_pc
        assert got[addons.KNATIVE_SERVING]["spec"]["providerConfigRef"]["name"] == kube_pc


def test_an_existing_provider_config_keeps_its_name() -> None:
    """Core keeps an observed composed resource's name (crossplane v2.3.4
    composition_functions.go), so the add-ons must refer to the name it has."""
    observed = {
        addons.HELM_PROVIDER_CONFIG: {"apiVersion": HELM_API, "metadata": {"name": "old-helm"}}
    }
    got = composed({"addons": ["istio"]}, observed=observed, kubeconfig=True).resources
    assert got[addons.HELM_PROVIDER_CONFIG]["metadata"]["name"] == "old-helm"
    assert got[addons.ISTIOD]["spec"]["providerConfigRef"]["name"] == "old-helm"


def test_the_token_never_reaches_status_or_results() -> None:
    desired = composed({"gitops": GITOPS, "addons": ["istio"]}, kubeconfig=True)
    shown = json.dumps(status(desired)) + "".join(w.message for w in desired.warnings)
    assert TOKEN not in shown
    assert KUBECONFIG["data"]["token"] not in shown
    assert status(desired)["kubeconfigSecret"] == f"vc-{NAME}"


def test_status_reports_sync_and_health_from_argo_cd() -> None:
    first = composed({"gitops": GITOPS}, kubeconfig=True).resources
    observed = dict(first)
    observed[argocd.CLUSTER_SECRET] = first[argocd.CLUSTER_SECRET] | {
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}
    }
    observed[argocd.APPLICATION] = first[argocd.APPLICATION] | {
        "status": {
            "atProvider": {
                "manifest": {
                    "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}
                }
            }
        }
    }
    got = status(composed({"gitops": GITOPS}, observed=observed, kubeconfig=True))["argocd"]
    assert (got["registered"], got["sync"], got["health"]) == (True, "Synced", "Healthy")


# ---------------------------------------------------------------- deletion order


def test_everything_inside_and_argo_cd_go_before_the_vcluster() -> None:
    observed = {addons.KNATIVE_OPERATOR: DEPLOYED}
    got = composed(
        {"gitops": GITOPS, "addons": ["istio", "knative"]}, observed=observed, kubeconfig=True
    ).resources
    for by, of in [
        (addons.ISTIOD, addons.HELM_PROVIDER_CONFIG),
        (addons.KNATIVE_SERVING, addons.KNATIVE_OPERATOR),
        (addons.KNATIVE_SERVING, addons.KUBERNETES_PROVIDER_CONFIG),
        (addons.HELM_PROVIDER_CONFIG, compose.VCLUSTER),
        (addons.KUBERNETES_PROVIDER_CONFIG, compose.VCLUSTER),
        (argocd.CLUSTER_SECRET, compose.VCLUSTER),
        (argocd.APPLICATION, argocd.CLUSTER_SECRET),
    ]:
        usage = got[usage_name(by, of)]["spec"]
        assert usage["by"]["resourceSelector"]["matchLabels"] == {
            "platform.example.org/composition-resource": by
        }
        assert usage["replayDeletion"] is True


# ---------------------------------------------------------------- services


def _instance(kind: str, name: str, endpoint: str | None) -> JSON:
    api = services.API_VERSIONS[kind]
    obj: JSON = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
    }
    if endpoint:
        obj["status"] = {"endpoint": endpoint}
    return obj


def test_services_are_replicated_under_their_connection_host_names() -> None:
    refs = [
        {"kind": "PostgreSQLInstance", "name": "orders"},
        {"kind": "RedisInstance", "name": "cache"},
    ]
    required = {
        "service-postgresqlinstance-orders": [
            _instance("PostgreSQLInstance", "orders", f"orders-pg-rw.{NAMESPACE}.svc:5432")
        ],
        "service-redisinstance-cache": [
            _instance("RedisInstance", "cache", f"cache-redis.{NAMESPACE}.svc:6379")
        ],
    }
    desired = composed({"services": refs}, required=required)
    values = desired.resources[compose.VCLUSTER]["spec"]["forProvider"]["values"]
    assert values["networking"]["replicateServices"]["fromHost"] == [
        {"from": f"{NAMESPACE}/orders-pg-rw", "to": f"{NAMESPACE}/orders-pg-rw"},
        {"from": f"{NAMESPACE}/cache-redis", "to": f"{NAMESPACE}/cache-redis"},
    ]
    (egress,) = values["policies"]["networkPolicy"]["workload"]["egress"]
    assert egress["ports"] == [{"port": 5432, "protocol": "TCP"}, {"port": 6379, "protocol": "TCP"}]
    assert [s["host"] for s in status(desired)["services"]] == [
        f"orders-pg-rw.{NAMESPACE}.svc",
        f"cache-redis.{NAMESPACE}.svc",
    ]


@pytest.mark.parametrize(
    ("required", "error"),
    [
        pytest.param({}, None, id="not yet fetched: no error, nothing replicated yet"),
        pytest.param(
            {"service-redisinstance-cache": []},
            "spec.parameters.services[0]: RedisInstance 'cache' does not exist",
            id="fetched and not found: FATAL naming the field",
        ),
    ],
)
def test_a_service_that_does_not_exist_is_refused(
    required: dict[str, list[JSON]], error: str | None
) -> None:
    params = {"services": [{"kind": "RedisInstance", "name": "cache"}]}
    if error is None:
        desired = composed(params, required=required)
        assert "services" not in status(desired)
        return
    with pytest.raises(Refusal, match=error.replace("[", r"\[").replace("]", r"\]")):
        composed(params, required=required)


def test_a_replicated_service_stays_while_its_endpoint_is_gone() -> None:
    params = {"services": [{"kind": "RedisInstance", "name": "cache"}]}
    up = {
        "service-redisinstance-cache": [
            _instance("RedisInstance", "cache", f"cache-redis.{NAMESPACE}.svc:6379")
        ]
    }
    down = {"service-redisinstance-cache": [_instance("RedisInstance", "cache", None)]}
    first = composed(params, required=up).resources
    again = composed(params, required=down, observed={compose.VCLUSTER: first[compose.VCLUSTER]})
    assert again.resources[compose.VCLUSTER] == first[compose.VCLUSTER]
    never = composed(params, required=down)
    assert [w.reason for w in never.warnings] == ["WaitingForService"]


@pytest.mark.parametrize("end", ["", "\n"], ids=["as written", "a final newline"])
def test_a_service_host_is_matched_whole(end: str) -> None:
    """A host or Secret name is read only if the whole of it matches, as Kubernetes' RE2
    patterns do: Python's $ also matches before a final newline."""
    instance = _instance("RedisInstance", "cache", f"cache-redis.{NAMESPACE}.svc{end}:6379")
    instance["status"]["connectionSecret"] = f"cache-conn{end}"
    params = {"services": [{"kind": "RedisInstance", "name": "cache"}]}
    desired = composed(params, required={"service-redisinstance-cache": [instance]})
    values = desired.resources[compose.VCLUSTER]["spec"]["forProvider"]["values"]
    replicated = values["networking"]["replicateServices"]["fromHost"]
    if end:
        assert replicated == []
        assert [w.reason for w in desired.warnings] == ["WaitingForService"]
    else:
        assert replicated == [
            {"from": f"{NAMESPACE}/cache-redis", "to": f"{NAMESPACE}/cache-redis"}
        ]
        assert (
            f"{NAMESPACE}/cache-conn" in values["sync"]["fromHost"]["secrets"]["mappings"]["byName"]
        )


def test_a_release_name_is_matched_whole() -> None:
    with pytest.raises(Refusal, match="must be a DNS-1035 label"):
        vcluster.names("dev\n", NAMESPACE)


# ---------------------------------------------------------------- bad input


def test_bad_input_names_every_field() -> None:
    problems = refused(
        KIND.api.parameters,
        {
            "environment": "dev",
            "resources": {"quota": {"cpu": "10 cores"}},
            "addons": ["istio", "linkerd"],
            "gitops": {"repoURL": "not a url"},
        },
    )
    assert problems is not None
    text = "\n".join(problems)
    assert (
        "spec.parameters.resources.quota.cpu: must be a Kubernetes quantity such as 4, 500m "
        'or 8Gi (got "10 cores")' in text
    )
    addon = """spec.parameters.addons[1]: must be one of 'istio' or 'knative' (got "linkerd")"""
    assert addon in text
    assert "spec.parameters.gitops.repoURL: must be a Git repository URL" in text


@pytest.mark.parametrize(
    ("resources", "messages"),
    [
        pytest.param(
            {"limitRange": {"defaultCPU": "500m", "defaultRequestCPU": "1"}},
            ["limitRange.defaultRequestCPU: must be at most defaultCPU (got 1 > 500m)"],
            id="a default request above the default limit (the API server refuses it)",
        ),
        pytest.param(
            {"quota": {"memory": "2Gi", "cpu": "1"}},
            [
                # production's 100 pods: the defaults derived at their least (1m, 1Mi);
                # limits: own 2 CPU, 4266Mi + 98 pods x 1m, 1Mi, twice the quota at most.
                "quota.cpu: must leave room for the vCluster's own control plane and DNS and the "
                "98 more pods quota.pods allows with the limit range's defaults: at least 1049m "
                "(got 1, 49m short)",
                "quota.memory: must leave room for the vCluster's own control plane and DNS and "
                "the 98 more pods quota.pods allows with the limit range's defaults: at least "
                "2182Mi (got 2Gi, 134Mi short)",
            ],
            id="a quota the vCluster itself and its other pods do not fit in",
        ),
    ],
)
def test_limits_that_cannot_work_are_refused(resources: JSON, messages: list[str]) -> None:
    with pytest.raises(Refusal) as e:
        composed({"resources": resources})
    for m in messages:
        assert f"spec.parameters.resources.{m}" in str(e.value)


@pytest.mark.parametrize("name", ["1st", "a" * 53, "with.dot"])
def test_names_the_chart_cannot_use_are_refused(name: str) -> None:
    with pytest.raises(Refusal, match="DNS-1035 label"):
        composed(name=name)


def test_same_request_same_desired_state() -> None:
    params = {"gitops": GITOPS, "addons": ["istio", "knative"]}
    first = composed(params, kubeconfig=True, observed={addons.KNATIVE_OPERATOR: DEPLOYED})
    second = composed(params, kubeconfig=True, observed={addons.KNATIVE_OPERATOR: DEPLOYED})
    assert json.dumps(first.resources, sort_keys=False) == json.dumps(
        second.resources, sort_keys=False
    )


def test_the_xrd_refuses_removing_an_add_on() -> None:
    xrd = crossplane.xrd(KIND.api)
    schema = xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    addons_schema = schema["properties"]["spec"]["properties"]["parameters"]["properties"]["addons"]
    assert addons_schema["x-kubernetes-list-type"] == "set"
    (rule,) = addons_schema["x-kubernetes-validations"]
    assert rule["rule"] == "oldSelf.all(a, a in self)"


@pytest.mark.parametrize(
    ("cpu", "memory", "cpu_limit", "memory_limit"),
    [
        ("4", "8Gi", "8", "16Gi"),
        ("1500m", "2500Mi", "3000m", "5000Mi"),
        ("1.5", "2.5Gi", "3", "5Gi"),
        ("2", "3e9", "4", "6e9"),
    ],
)
def test_limits_may_add_up_to_twice_the_requests(
    cpu: str, memory: str, cpu_limit: str, memory_limit: str
) -> None:
    params = {"resources": {"quota": {"cpu": cpu, "memory": memory}}}
    values = composed(params).resources[compose.VCLUSTER]["spec"]["forProvider"]["values"]
    quota = values["policies"]["resourceQuota"]["quota"]
    assert (quota["requests.cpu"], quota["limits.cpu"]) == (cpu, cpu_limit)
    assert (quota["requests.memory"], quota["limits.memory"]) == (memory, memory_limit)


@pytest.mark.parametrize(
    ("environment", "resources", "settings", "want"),
    [
        pytest.param("staging", {}, None, ("4", "8Gi", 30), id="no preset: the platform's quota"),
        pytest.param("dev", {}, None, ("2", "4Gi", 20), id="dev: its preset"),
        pytest.param(
            "production",
            {"quota": {"cpu": "24"}},
            None,
            ("24", "32Gi", 100),
            id="the XR's field wins, the preset fills the rest",
        ),
        pytest.param(
            "dev",
            {},
            {"vclusterEnvironment": {"quotaPresets": {"dev": {"memory": "6Gi"}}}},
            ("4", "6Gi", 30),
            id="a preset of the platform's own, defaults for what it leaves out",
        ),
    ],
)
def test_quota_comes_from_the_xr_then_its_environment_then_the_platform(
    environment: str, resources: JSON, settings: JSON | None, want: tuple[str, str, int]
) -> None:
    ctx = context(KIND, {"environment": environment, "resources": resources}, settings=settings)
    values = KIND.compose(ctx).resources[compose.VCLUSTER]["spec"]["forProvider"]["values"]
    quota = values["policies"]["resourceQuota"]["quota"]
    assert (quota["requests.cpu"], quota["requests.memory"], quota["count/pods"]) == want


# ---------------------------------------------------------------- readiness


def _application_object(observed_status: JSON | None) -> JSON:
    """The Application Object as composed, with the Application Argo CD reports read back."""
    composed_object = composed({"gitops": GITOPS}, kubeconfig=True).resources[argocd.APPLICATION]
    out = composed_object | {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    if observed_status is not None:
        manifest = composed_object["spec"]["forProvider"]["manifest"] | {"status": observed_status}
        out["status"]["atProvider"] = {"manifest": manifest}
    return out


@pytest.mark.parametrize(
    ("observed_status", "want"),
    [
        pytest.param(None, False, id="applied, not yet read back"),
        pytest.param(
            {"sync": {"status": "Unknown"}, "health": {"status": "Healthy"}},
            False,
            id="Argo CD cannot compare (the cluster is not reached)",
        ),
        pytest.param(
            {"sync": {"status": "OutOfSync"}, "health": {"status": "Missing"}},
            False,
            id="connected, not yet synced",
        ),
        pytest.param(
            {"sync": {"status": "Synced"}, "health": {"status": "Progressing"}},
            False,
            id="synced, still progressing",
        ),
        pytest.param(
            {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}},
            True,
            id="synced and healthy",
        ),
    ],
)
def test_the_application_is_ready_when_argo_cd_reports_it_synced_and_healthy(
    observed_status: JSON | None, want: bool
) -> None:
    assert KIND.readiness.is_ready(_application_object(observed_status)) is want


def test_other_objects_are_ready_by_their_ready_condition() -> None:
    secret = composed({"gitops": GITOPS}, kubeconfig=True).resources[argocd.CLUSTER_SECRET]
    assert not KIND.readiness.is_ready(secret)
    applied = secret | {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert KIND.readiness.is_ready(applied)


# ---------------------------------------------------------------- version and namespace


def _running(version: str) -> dict[str, JSON]:
    """The observed vCluster release, running version."""
    values = {"controlPlane": {"distro": {"k8s": {"version": version}}}}
    return {compose.VCLUSTER: DEPLOYED | {"spec": {"forProvider": {"values": values}}}}


# (running, wanted, refused): what the composer and the XRD both refuse.
VERSION_CHANGES = [
    pytest.param("v1.36.0", "v1.35.4", True, id="a minor down"),
    pytest.param("v1.36.2", "v1.36.1", True, id="a patch down"),
    pytest.param("v1.35.9", "v1.36.0", False, id="a minor up (9 > 0 as text)"),
    pytest.param("v1.36.1", "v1.36.10", False, id="a patch up (10 > 1 as numbers)"),
    pytest.param("v1.36.0", "v1.36.0", False, id="the same"),
]


@pytest.mark.parametrize(("running", "wanted", "refused"), VERSION_CHANGES)
def test_a_kubernetes_downgrade_is_refused(running: str, wanted: str, refused: bool) -> None:
    params = {"kubernetesVersion": wanted}
    if not refused:
        composed(params, observed=_running(running))
        return
    with pytest.raises(Refusal) as e:
        composed(params, observed=_running(running))
    assert f"spec.parameters.kubernetesVersion cannot go from {running} down to {wanted}" in str(
        e.value
    )


def _cel_versions(rule: str, old: str, new: str) -> bool:
    """The rule's CEL (int(), split(), [i], >, >=, ==, &&, ||) in Python."""
    python = rule.replace("||", " or ").replace("&&", " and ")
    python = python.replace("oldSelf", "old").replace("self", "new")
    return bool(eval(python, {}, {"new": new, "old": old}))


@pytest.mark.parametrize(("old", "new", "refused"), VERSION_CHANGES)
def test_the_xrd_refuses_the_same_downgrades(old: str, new: str, refused: bool) -> None:
    xrd = crossplane.xrd(KIND.api)
    schema = xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    field = schema["properties"]["spec"]["properties"]["parameters"]["properties"][
        "kubernetesVersion"
    ]
    (rule,) = field["x-kubernetes-validations"]
    assert _cel_versions(rule["rule"], old, new) is not refused


def _environment(name: str, created: str, refs: bool = False) -> JSON:
    env: JSON = {
        "apiVersion": KIND.api.api_version,
        "kind": "VClusterEnvironment",
        "metadata": {"name": name, "namespace": NAMESPACE, "creationTimestamp": created},
        "spec": {"parameters": {"environment": "dev"}},
    }
    if refs:
        env["spec"]["crossplane"] = {"resourceRefs": [{"kind": "Release", "name": name}]}
    return env


def _compose_created(
    created: str, others: list[JSON], observed: dict[str, JSON] | None = None
) -> Desired:
    ctx = context(
        KIND,
        {"environment": "staging"},
        name=NAME,
        namespace=NAMESPACE,
        observed=observed,
        required={"environments": [_environment(NAME, created), *others]},
    )
    return KIND.compose(dataclasses.replace(ctx, xr=dataclasses.replace(ctx.xr, created=created)))


@pytest.mark.parametrize(
    ("others", "observed", "refused_for"),
    [
        pytest.param([], None, None, id="alone"),
        pytest.param(
            [_environment("older", "2026-01-01T00:00:00Z")], None, "older", id="an older one"
        ),
        pytest.param(
            [_environment("zzz", "2026-09-01T00:00:00Z", refs=True)],
            None,
            "zzz",
            id="a newer one that has composed",
        ),
        pytest.param(
            [_environment("newer", "2026-09-01T00:00:00Z")], None, None, id="only a newer one"
        ),
        pytest.param(
            [_environment("older", "2026-01-01T00:00:00Z")],
            {compose.VCLUSTER: DEPLOYED},
            None,
            id="this one has composed its vCluster already: never frozen",
        ),
    ],
)
def test_a_second_environment_in_a_namespace_is_refused(
    others: list[JSON], observed: dict[str, JSON] | None, refused_for: str | None
) -> None:
    created = "2026-06-01T00:00:00Z"
    if refused_for is None:
        desired = _compose_created(created, others, observed)
        assert desired.requirements["environments"].name is None, "every one in the namespace"
        return
    with pytest.raises(Refusal, match=f"already has VClusterEnvironment '{refused_for}'"):
        _compose_created(created, others, observed)


def _with_secret(instance: JSON, secret: str) -> JSON:
    return instance | {"status": instance["status"] | {"connectionSecret": secret}}


def test_connection_secrets_are_copied_in_from_the_xrs_namespace_only() -> None:
    refs = [
        {"kind": "PostgreSQLInstance", "name": "orders"},
        {"kind": "RedisInstance", "name": "cache"},
    ]
    orders = _instance("PostgreSQLInstance", "orders", f"orders-pg-rw.{NAMESPACE}.svc:5432")
    cache = _instance("RedisInstance", "cache", f"cache-redis.{NAMESPACE}.svc:6379")
    required = {
        "service-postgresqlinstance-orders": [_with_secret(orders, "orders-pg")],
        # A status naming another namespace's Secret is not a Secret name: nothing copied.
        "service-redisinstance-cache": [_with_secret(cache, "team-other/cache-redis")],
    }
    desired = composed({"services": refs}, required=required)
    values = desired.resources[compose.VCLUSTER]["spec"]["forProvider"]["values"]
    assert values["sync"]["fromHost"]["secrets"] == {
        "enabled": True,
        "mappings": {"byName": {f"{NAMESPACE}/orders-pg": f"{NAMESPACE}/orders-pg"}},
    }
    got = {s["name"]: s.get("secret") for s in status(desired)["services"]}
    assert got == {"orders": f"{NAMESPACE}/orders-pg", "cache": None}


def test_a_copied_secret_stays_while_the_instance_is_briefly_not_ready() -> None:
    params = {"services": [{"kind": "PostgreSQLInstance", "name": "orders"}]}
    orders = _instance("PostgreSQLInstance", "orders", f"orders-pg-rw.{NAMESPACE}.svc:5432")
    up = {"service-postgresqlinstance-orders": [_with_secret(orders, "orders-pg")]}
    down = {"service-postgresqlinstance-orders": [_instance("PostgreSQLInstance", "orders", None)]}
    first = composed(params, required=up).resources
    again = composed(params, required=down, observed={compose.VCLUSTER: first[compose.VCLUSTER]})
    assert again.resources[compose.VCLUSTER] == first[compose.VCLUSTER]


def test_no_services_no_secret_sync() -> None:
    values = composed().resources[compose.VCLUSTER]["spec"]["forProvider"]["values"]
    assert "sync" not in values


# ---------------------------------------------------------------- what runs in the namespace


def _values(got: dict[str, JSON], name: str) -> JSON:
    values: JSON = got[name]["spec"]["forProvider"]["values"]
    return values


def test_the_add_ons_pods_set_requests_and_limits() -> None:
    """istio-discovery 1.30.3 asks 500m and 2048Mi with no limit, so the limit range's 512Mi
    default memory limit would make istiod's pod invalid; the knative-operator chart's
    values (v1.23.0) already set both. Explicit, each limit at least its request."""
    observed = {addons.KNATIVE_OPERATOR: DEPLOYED}
    got = composed({"addons": ["istio", "knative"]}, observed=observed, kubeconfig=True).resources
    istiod = _values(got, addons.ISTIOD)
    assert istiod["resources"] == {
        "requests": {"cpu": "500m", "memory": "2048Mi"},
        "limits": {"cpu": "1", "memory": "2048Mi"},
    }
    assert (istiod["autoscaleEnabled"], istiod["replicaCount"]) == (False, 1)
    operator = _values(got, addons.KNATIVE_OPERATOR)["knative_operator"]
    assert operator["knative_operator"]["resources"] == {
        "requests": {"cpu": "100m", "memory": "100Mi"},
        "limits": {"cpu": "1000m", "memory": "1000Mi"},
    }
    assert operator["operator_webhook"]["resources"] == {
        "requests": {"cpu": "100m", "memory": "100Mi"},
        "limits": {"cpu": "500m", "memory": "500Mi"},
    }


@pytest.mark.parametrize(
    ("add_ons", "node_ports"),
    [([], 0), (["istio"], 0), (["knative"], 2)],
)
def test_node_ports_for_kouriers_load_balancer_only(add_ons: list[str], node_ports: int) -> None:
    """Kourier's Service kourier (knative/operator knative-v1.23.0 kodata/ingress/1.23) is a
    LoadBalancer with ports 80 and 443: the quota evaluator counts two node ports."""
    quota = _values(composed({"addons": add_ons}).resources, compose.VCLUSTER)["policies"][
        "resourceQuota"
    ]["quota"]
    assert quota["services.nodeports"] == node_ports
    assert quota["requests.ephemeral-storage"] is None, "no namespace total: removed"
    assert quota["limits.ephemeral-storage"] is None


@pytest.mark.parametrize(
    ("environment", "add_ons", "messages"),
    [
        pytest.param("dev", ["istio"], [], id="istio fits dev"),
        pytest.param(
            "dev",
            ["knative"],
            # limits: control plane 1 + CoreDNS 1 + Knative 7.3 (operator 1.5, Serving 5.8)
            # + 9 more pods at the least default, 1m = 9.309 CPU, twice the quota at most.
            [
                "quota.cpu: must leave room for the vCluster's own control plane and DNS, the "
                "add-ons (knative) and the 9 more pods quota.pods allows with the limit range's "
                "defaults: at least 4655m (got 2, 2655m short)"
            ],
            id="knative does not fit dev's limits",
        ),
        pytest.param("production", ["istio", "knative"], [], id="both fit production"),
    ],
)
def test_the_add_ons_must_fit_the_quota(
    environment: str, add_ons: list[str], messages: list[str]
) -> None:
    params = {"environment": environment, "addons": add_ons}
    if not messages:
        composed(params)
        return
    with pytest.raises(Refusal) as e:
        composed(params)
    for m in messages:
        assert f"spec.parameters.resources.{m}" in str(e.value)


def test_pods_beyond_the_quota_are_refused() -> None:
    with pytest.raises(Refusal) as e:
        composed({"addons": ["knative"], "resources": {"quota": {"pods": 10}}})
    assert (
        "spec.parameters.resources.quota.pods: must leave room for the vCluster's own control "
        "plane and DNS, the add-ons (knative) and one more pod: at least 12 (got 10, 2 short)"
    ) in str(e.value)
