"""KubernetesCluster composer, tested from a built context (no protobuf).

The field-ready behaviour (cloud controller manager, network ranges, deletion
order, versions, immutable plugin) is in test_kubernetescluster_lifecycle.py.
"""

from decimal import Decimal
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.blocks.helm import HELM_API
from function.context import Desired
from function.kinds.kubernetescluster import KIND, addons, clusterapi, compose
from function.quantity import parse, whole_cpus
from function.runner import run
from function.structs import JSON
from harness.requests import request, xr
from tests.composing import context, status

NAME, NAMESPACE = "orders", "team-a"
VERSION = "v1.36.1"
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "orders-kubeconfig", "namespace": NAMESPACE},
    "data": {"value": "a3ViZWNvbmZpZw=="},
}
CAPI_KEYS = {
    clusterapi.CLUSTER,
    clusterapi.KUBEVIRT_CLUSTER,
    clusterapi.CONTROL_PLANE,
    clusterapi.WORKERS,
    clusterapi.WORKER_HEALTH_CHECK,
}


def composed(
    params: dict[str, Any] | None = None,
    observed: dict[str, JSON] | None = None,
    kubeconfig: bool = False,
) -> tuple[Desired, Any]:
    """(Desired, context) for a staging cluster named orders with these parameters."""
    ctx = context(
        KIND,
        {"environment": "staging"} | (params or {}),
        name=NAME,
        namespace=NAMESPACE,
        observed=observed,
        required={compose.KUBECONFIG: [KUBECONFIG]} if kubeconfig else None,
    )
    return KIND.compose(ctx), ctx


def resources(params: dict[str, Any] | None = None, kubeconfig: bool = False) -> dict[str, JSON]:
    return composed(params, kubeconfig=kubeconfig)[0].resources


def keyed(got: dict[str, JSON], prefix: str) -> tuple[str, JSON]:
    """The one resource whose composition resource name starts with prefix (hash-keyed)."""
    found = [(k, v) for k, v in got.items() if k.startswith(prefix + "-")]
    assert len(found) == 1, f"{prefix}: {sorted(got)}"
    return found[0]


def vm_templates(got: dict[str, JSON]) -> list[JSON]:
    return [
        r["spec"]["template"]["spec"]["virtualMachineTemplate"]
        for r in got.values()
        if r["kind"] == "KubevirtMachineTemplate"
    ]


# ---------------------------------------------------------------- add-ons


@pytest.mark.parametrize(
    ("observed", "secret", "want"),
    [
        pytest.param(
            {}, False, False, id="before the kubeconfig Secret exists nothing is installed"
        ),
        pytest.param(
            {}, True, True, id="once the kubeconfig Secret exists the add-ons are composed"
        ),
        pytest.param(
            {addons.CNI: {"apiVersion": HELM_API, "kind": "Release"}},
            False,
            True,
            id="composed add-ons stay while the Secret is briefly missing (no CNI uninstall)",
        ),
        pytest.param(
            {addons.HELM_PROVIDER_CONFIG: {"apiVersion": HELM_API, "kind": "ProviderConfig"}},
            False,
            True,
            id="an observed ProviderConfig alone keeps the add-ons too",
        ),
    ],
)
def test_add_ons_wait_for_the_kubeconfig_and_stay(
    observed: dict[str, JSON], secret: bool, want: bool
) -> None:
    desired, _ = composed(observed=observed, kubeconfig=secret)
    got = desired.resources
    assert {k for k in addons.ADD_ONS if k in got} == (set(addons.ADD_ONS) if want else set())
    assert set(got) >= CAPI_KEYS, "the Cluster API objects never wait"
    sel = desired.requirements[compose.KUBECONFIG]
    assert (sel.api_version, sel.kind, sel.name, sel.namespace) == (
        "v1",
        "Secret",
        "orders-kubeconfig",
        NAMESPACE,
    ), "the requirement is declared on every call"


def test_add_ons_reach_the_workload_cluster_through_its_kubeconfig() -> None:
    got = resources(kubeconfig=True)
    pc = got[addons.HELM_PROVIDER_CONFIG]
    # After the namespace too: provider-helm's crossplane-runtime v2.0.0-rc.1 counts a
    # namespaced ProviderConfig's usages by name in every namespace.
    assert pc["metadata"]["name"] == "team-a-orders-helm"
    assert pc["spec"]["credentials"] == {
        "source": "Secret",
        "secretRef": {"namespace": NAMESPACE, "name": "orders-kubeconfig", "key": "value"},
    }
    assert got[addons.CNI]["spec"]["providerConfigRef"] == {
        "kind": "ProviderConfig",
        "name": "team-a-orders-helm",
    }


def test_an_existing_provider_config_keeps_its_name() -> None:
    """Core keeps an observed composed resource's name (crossplane v2.3.4
    composition_functions.go): the CNI release must refer to that one."""
    observed = {addons.HELM_PROVIDER_CONFIG: {"metadata": {"name": "orders-helm"}}}
    got = composed(observed=observed, kubeconfig=True)[0].resources
    assert got[addons.HELM_PROVIDER_CONFIG]["metadata"]["name"] == "orders-helm"
    assert got[addons.CNI]["spec"]["providerConfigRef"]["name"] == "orders-helm"


@pytest.mark.parametrize(
    ("plugin", "chart", "namespace"),
    [
        pytest.param(
            None,
            "kube-ovn",
            "kube-system",
            id="kube-ovn by default, central components on labelled control plane nodes",
        ),
        pytest.param(
            "calico", "tigera-operator", "tigera-operator", id="calico through the Tigera operator"
        ),
        pytest.param("cilium", "cilium", "kube-system", id="cilium"),
    ],
)
def test_the_chosen_network_plugin_is_installed(
    plugin: str | None, chart: str, namespace: str
) -> None:
    got = resources({"networkPlugin": plugin} if plugin else {}, kubeconfig=True)
    release = got[addons.CNI]["spec"]["forProvider"]
    assert (release["chart"]["name"], release["namespace"]) == (chart, namespace)
    kubelet = got[clusterapi.CONTROL_PLANE]["spec"]["kubeadmConfigSpec"]["initConfiguration"][
        "nodeRegistration"
    ]["kubeletExtraArgs"]
    labelled = {"name": "node-labels", "value": "kube-ovn/role=master"} in kubelet
    assert labelled == (chart == "kube-ovn")


# ---------------------------------------------------------------- resize


def test_resize_renames_only_the_template_and_moves_the_reference() -> None:
    before = resources({"workerCPU": "4"}, kubeconfig=True)
    after = resources({"workerCPU": "6"}, kubeconfig=True)
    old_key, old = keyed(before, clusterapi.WORKER_TEMPLATE)
    new_key, new = keyed(after, clusterapi.WORKER_TEMPLATE)
    assert old_key != new_key, "a new composed resource: Crossplane keeps observed names"
    assert old["metadata"]["name"] != new["metadata"]["name"]
    assert new["metadata"]["name"].startswith("orders-workers-")
    workers = clusterapi.WORKERS

    def ref(got: dict[str, JSON]) -> str:
        return str(got[workers]["spec"]["template"]["spec"]["infrastructureRef"]["name"])

    assert (ref(before), ref(after)) == (old["metadata"]["name"], new["metadata"]["name"])
    rest_before = {k: v for k, v in before.items() if k not in (old_key, workers)}
    rest_after = {k: v for k, v in after.items() if k not in (new_key, workers)}
    assert rest_before == rest_after, "nothing else changes"
    before[workers]["spec"]["template"]["spec"]["infrastructureRef"]["name"] = "x"
    after[workers]["spec"]["template"]["spec"]["infrastructureRef"]["name"] = "x"
    assert before[workers] == after[workers], "only the reference changes"


def test_same_input_same_template_name() -> None:
    first, second = resources(), resources()
    assert (
        keyed(first, clusterapi.WORKER_TEMPLATE)[0] == keyed(second, clusterapi.WORKER_TEMPLATE)[0]
    )


def test_control_plane_resize_moves_the_control_plane_reference() -> None:
    before = resources({"controlPlaneMemory": "8Gi"})
    after = resources({"controlPlaneMemory": "16Gi"})
    old_key, _ = keyed(before, clusterapi.CONTROL_PLANE_TEMPLATE)
    new_key, new = keyed(after, clusterapi.CONTROL_PLANE_TEMPLATE)
    assert old_key != new_key
    spec = after[clusterapi.CONTROL_PLANE]["spec"]["machineTemplate"]["spec"]
    assert spec["infrastructureRef"]["name"] == new["metadata"]["name"]
    assert keyed(before, clusterapi.WORKER_TEMPLATE) == keyed(after, clusterapi.WORKER_TEMPLATE)


# ---------------------------------------------------------------- live migration


def test_live_migration_on() -> None:
    for vm in vm_templates(resources()):
        template = vm["spec"]["template"]
        assert template["spec"]["evictionStrategy"] == "LiveMigrate"
        assert template["metadata"]["annotations"] == {
            "kubevirt.io/allow-pod-bridge-network-live-migration": "true"
        }
        disk = vm["spec"]["dataVolumeTemplates"][0]["spec"]["storage"]
        assert disk["accessModes"] == ["ReadWriteMany"]


def test_live_migration_off_leaves_eviction_to_capk_without_rwx_or_annotation() -> None:
    templates = vm_templates(resources({"enableLiveMigration": False}))
    assert len(templates) == 2
    for vm in templates:
        template = vm["spec"]["template"]
        assert template["spec"]["evictionStrategy"] == "External"
        assert "metadata" not in template
        disk = vm["spec"]["dataVolumeTemplates"][0]["spec"]["storage"]
        assert disk["accessModes"] == ["ReadWriteOnce"]


# ---------------------------------------------------------------- sizes and versions


@pytest.mark.parametrize(
    ("params", "want"),
    [
        pytest.param({"environment": "dev"}, (1, 2, "2", "4Gi", "50Gi"), id="dev preset"),
        pytest.param(
            {"environment": "production"}, (3, 5, "8", "16Gi", "200Gi"), id="production preset"
        ),
        pytest.param(
            {"environment": "uat"}, (3, 3, "4", "8Gi", "100Gi"), id="platform defaults, no preset"
        ),
        pytest.param(
            {"environment": "dev", "controlPlaneNodes": 3, "workerCPU": "3"},
            (3, 2, "3", "4Gi", "50Gi"),
            id="explicit parameters beat the preset",
        ),
    ],
)
def test_sizes_from_parameters_presets_and_defaults(
    params: dict[str, Any], want: tuple[Any, ...]
) -> None:
    got = resources(params)
    _, worker = keyed(got, clusterapi.WORKER_TEMPLATE)
    vm = worker["spec"]["template"]["spec"]["virtualMachineTemplate"]["spec"]
    domain = vm["template"]["spec"]["domain"]
    assert (
        got[clusterapi.CONTROL_PLANE]["spec"]["replicas"],
        got[clusterapi.WORKERS]["spec"]["replicas"],
        domain["resources"]["requests"]["cpu"],
        domain["resources"]["requests"]["memory"],
        vm["dataVolumeTemplates"][0]["spec"]["storage"]["resources"]["requests"]["storage"],
    ) == want


def test_version_picks_the_disk_image_and_the_kubernetes_version() -> None:
    desired, ctx = composed({"kubernetesVersion": VERSION})
    got = desired.resources
    image = f"{ctx.settings.diskImage}:{VERSION}"
    for vm in vm_templates(got):
        url = vm["spec"]["dataVolumeTemplates"][0]["spec"]["source"]["registry"]["url"]
        assert url == image
    assert got[clusterapi.CONTROL_PLANE]["spec"]["version"] == VERSION
    assert got[clusterapi.WORKERS]["spec"]["template"]["spec"]["version"] == VERSION


def test_fractional_cpu_rounds_cores_up_and_keeps_the_request() -> None:
    _, worker = keyed(resources({"workerCPU": "1500m"}), clusterapi.WORKER_TEMPLATE)
    domain = worker["spec"]["template"]["spec"]["virtualMachineTemplate"]["spec"]["template"][
        "spec"
    ]["domain"]
    assert domain["cpu"] == {"cores": 2}
    assert domain["resources"]["requests"]["cpu"] == "1500m"


def test_objects_reference_each_other_by_name() -> None:
    got = resources()
    spec = got[clusterapi.CLUSTER]["spec"]
    assert got[clusterapi.CLUSTER]["metadata"]["name"] == NAME
    assert spec["controlPlaneRef"] == {
        "apiGroup": "controlplane.cluster.x-k8s.io",
        "kind": "KubeadmControlPlane",
        "name": got[clusterapi.CONTROL_PLANE]["metadata"]["name"],
    }
    assert spec["infrastructureRef"] == {
        "apiGroup": "infrastructure.cluster.x-k8s.io",
        "kind": "KubevirtCluster",
        "name": got[clusterapi.KUBEVIRT_CLUSTER]["metadata"]["name"],
    }
    _, bootstrap = keyed(got, clusterapi.WORKER_BOOTSTRAP)
    md = got[clusterapi.WORKERS]["spec"]
    assert md["template"]["spec"]["bootstrap"]["configRef"]["name"] == bootstrap["metadata"]["name"]
    assert md["selector"]["matchLabels"] == md["template"]["metadata"]["labels"]
    mhc = got[clusterapi.WORKER_HEALTH_CHECK]["spec"]
    assert mhc["selector"]["matchLabels"] == md["selector"]["matchLabels"]


@pytest.mark.parametrize(
    ("xr_name", "prefix"),
    [
        pytest.param("orders", "orders", id="the XR's name"),
        pytest.param("a.b", "a-b-", id="dots are not DNS labels: replaced, with a hash"),
        pytest.param("x" * 60, "x" * 31 + "-", id="long names are cut with a hash"),
    ],
)
def test_cluster_name(xr_name: str, prefix: str) -> None:
    name = clusterapi.cluster_name(xr_name)
    assert name.startswith(prefix)
    assert len(name) <= clusterapi.CLUSTER_NAME_MAX
    assert "." not in name
    assert name == clusterapi.cluster_name(xr_name)


# ---------------------------------------------------------------- bad input (through the runner)


def run_cluster(params: dict[str, Any]) -> fnv1.RunFunctionResponse:
    api = KIND.api
    return run(
        request(xr(api.api_version, api.kind, {"environment": "staging"} | params, NAME, NAMESPACE))
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param(
            {"controlPlaneNodes": 2},
            "spec.parameters.controlPlaneNodes: must be odd (etcd needs a quorum) (got 2)",
            id="even control plane",
        ),
        pytest.param(
            {"controlPlaneNodes": 7},
            "spec.parameters.controlPlaneNodes: must be <= 5 (got 7)",
            id="too many control planes",
        ),
        pytest.param(
            {"workerCPU": "four"},
            "spec.parameters.workerCPU: must be a Kubernetes quantity such as 4, 500m or 8Gi "
            '(got "four")',
            id="cpu in words",
        ),
        pytest.param(
            {"controlPlaneMemory": "8GB"},
            "spec.parameters.controlPlaneMemory: must be a Kubernetes quantity such as 4, 500m "
            'or 8Gi (got "8GB")',
            id="memory in GB",
        ),
        pytest.param(
            {"workerStorage": "0Gi"},
            "spec.parameters.workerStorage: must be a Kubernetes quantity such as 4, 500m or 8Gi "
            '(got "0Gi")',
            id="zero storage",
        ),
        pytest.param(
            {"workerCPU": 4}, "spec.parameters.workerCPU: must be a string (got 4)", id="cpu number"
        ),
        pytest.param(
            {"networkPlugin": "flannel"},
            "spec.parameters.networkPlugin: must be one of 'kube-ovn', 'calico' or 'cilium' "
            '(got "flannel")',
            id="unknown plugin",
        ),
        pytest.param(
            {"workerNodes": 11},
            "spec.parameters.workerNodes: must be <= 10 (got 11)",
            id="too many workers",
        ),
    ],
)
def test_bad_input_is_fatal_and_names_the_field(params: dict[str, Any], message: str) -> None:
    rsp = run_cluster(params)
    assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL]
    assert rsp.results[0].message == f"invalid KubernetesCluster {NAMESPACE}/orders: {message}"
    assert not rsp.desired.resources


def test_every_bad_field_is_named_at_once() -> None:
    rsp = run_cluster({"workerCPU": "four", "workerMemory": "8GB", "kubernetesVersion": "1.31"})
    message = rsp.results[0].message
    for field in ("workerCPU", "workerMemory", "kubernetesVersion"):
        assert f"spec.parameters.{field}:" in message


@pytest.mark.parametrize(
    ("text", "value", "cores"),
    [
        pytest.param("4", Decimal(4), 4, id="whole cores"),
        pytest.param("500m", Decimal("0.5"), 1, id="millicores round up"),
        pytest.param("2.5", Decimal("2.5"), 3, id="decimal"),
        pytest.param("8Gi", Decimal(8 * 1024**3), 8 * 1024**3, id="binary suffix"),
        pytest.param("8G", Decimal(8 * 10**9), 8 * 10**9, id="decimal suffix"),
        pytest.param("1e3", Decimal(1000), 1000, id="exponent"),
    ],
)
def test_quantity(text: str, value: Decimal, cores: int) -> None:
    assert parse(text) == value
    assert whole_cpus(text) == cores


# ---------------------------------------------------------------- status


def _condition(kind: str, value: str) -> JSON:
    return {"conditions": [{"type": kind, "status": value, "reason": "R"}]}


def observed_cluster(available: str) -> JSON:
    obj = resources()[clusterapi.CLUSTER]
    obj["spec"]["controlPlaneEndpoint"] = {"host": "192.0.2.17", "port": 6443}
    obj["status"] = _condition("Available", available) | {
        "controlPlane": {"readyReplicas": 2},
        "workers": {"readyReplicas": 1},
    }
    return obj


@pytest.mark.parametrize(
    ("available", "ready"),
    [
        pytest.param("True", True, id="Cluster API reports the cluster Available"),
        pytest.param("False", False, id="not yet Available"),
    ],
)
def test_status_from_observed_cluster(available: str, ready: bool) -> None:
    desired, _ = composed(
        observed={clusterapi.CLUSTER: observed_cluster(available)}, kubeconfig=True
    )
    assert status(desired) == {
        "clusterEndpoint": "https://192.0.2.17:6443",
        "clusterReady": ready,
        "kubeconfigSecret": "orders-kubeconfig",
        "connectionSecret": "orders-kubeconfig",
        "readyControlPlaneNodes": 2,
        "readyWorkerNodes": 1,
    }


def test_status_before_anything_is_observed() -> None:
    assert status(composed()[0]) == {}


def test_the_runner_marks_an_available_cluster_ready_and_the_xr_provisioning() -> None:
    api = KIND.api
    req = request(
        xr(api.api_version, api.kind, {"environment": "staging"}, NAME, NAMESPACE),
        observed={clusterapi.CLUSTER: observed_cluster("True")},
    )
    rsp = run(req)
    assert rsp.desired.resources[clusterapi.CLUSTER].ready == fnv1.READY_TRUE
    assert rsp.desired.resources[clusterapi.WORKERS].ready == fnv1.READY_FALSE
    assert rsp.desired.composite.resource["status"]["phase"] == "Provisioning"


@pytest.mark.parametrize("with_kubeconfig", [False, True], ids=["provisioning", "add-ons"])
def test_deterministic(with_kubeconfig: bool) -> None:
    assert resources(kubeconfig=with_kubeconfig) == resources(kubeconfig=with_kubeconfig)


# ---------------------------------------------------------------- readiness of what it composes


@pytest.mark.parametrize(
    ("api_version", "kind", "obj_status", "want"),
    [
        pytest.param(
            clusterapi.CLUSTER_API,
            "Cluster",
            _condition("Available", "False"),
            False,
            id="a v1beta2 Cluster not yet Available",
        ),
        pytest.param(
            clusterapi.CONTROL_PLANE_API,
            "KubeadmControlPlane",
            _condition("Available", "True"),
            True,
            id="a KubeadmControlPlane reporting Available",
        ),
        pytest.param(
            clusterapi.CLUSTER_API,
            "MachineDeployment",
            _condition("Ready", "True"),
            False,
            id="a MachineDeployment: a Ready condition is not enough, it needs Available",
        ),
        pytest.param(
            clusterapi.BOOTSTRAP_API,
            "KubeadmConfigTemplate",
            {},
            True,
            id="a KubeadmConfigTemplate has no status: ready once it exists",
        ),
        pytest.param(
            clusterapi.INFRASTRUCTURE_API,
            "KubevirtMachineTemplate",
            {},
            True,
            id="a KubevirtMachineTemplate has no status: ready once it exists",
        ),
        pytest.param(
            HELM_API,
            "ProviderConfig",
            {},
            True,
            id="the helm ProviderConfig reaching the workload cluster: ready once it exists",
        ),
    ],
)
def test_readiness(api_version: str, kind: str, obj_status: JSON, want: bool) -> None:
    obj = {"apiVersion": api_version, "kind": kind, "status": obj_status}
    assert KIND.readiness.is_ready(obj) is want
