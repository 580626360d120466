"""KubernetesCluster composition through the real request path (function.runner.run)."""

from decimal import Decimal
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function import readiness
from function.composers import kubernetescluster as kc
from function.quantity import parse, whole_cpus
from function.runner import run
from function.structs import JSON
from tests.builders import desired, request, status, xr

API = "compute.platform.example.org/v1alpha1"
NAME, NAMESPACE = "orders", "team-a"
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "orders-kubeconfig", "namespace": NAMESPACE},
    "data": {"value": "a3ViZWNvbmZpZw=="},
}
CAPI_KEYS = {
    kc.CLUSTER,
    kc.KUBEVIRT_CLUSTER,
    kc.CONTROL_PLANE,
    kc.WORKERS,
    kc.WORKER_HEALTH_CHECK,
}


def cluster(**params: Any) -> JSON:
    return xr(API, "KubernetesCluster", {"environment": "staging"} | params, NAME, NAMESPACE)


def compose(
    params: dict[str, Any] | None = None,
    observed: dict[str, JSON] | None = None,
    kubeconfig: bool = False,
) -> fnv1.RunFunctionResponse:
    required = {kc.KUBECONFIG: [KUBECONFIG]} if kubeconfig else None
    return run(request(cluster(**(params or {})), observed=observed, required=required))


def keyed(resources: dict[str, JSON], prefix: str) -> tuple[str, JSON]:
    """The one resource whose composition resource name starts with prefix (hash-keyed)."""
    found = [(k, v) for k, v in resources.items() if k.startswith(prefix + "-")]
    assert len(found) == 1, f"{prefix}: {sorted(resources)}"
    return found[0]


def vm_templates(resources: dict[str, JSON]) -> list[JSON]:
    return [
        r["spec"]["template"]["spec"]["virtualMachineTemplate"]
        for r in resources.values()
        if r["kind"] == "KubevirtMachineTemplate"
    ]


# ---------------------------------------------------------------- add-ons

ADD_ONS = [
    ("before the kubeconfig Secret exists nothing is installed", {}, False, False),
    ("once the kubeconfig Secret exists the add-ons are composed", {}, True, True),
    (
        "composed add-ons stay while the Secret is briefly missing (no CNI uninstall)",
        {kc.CNI: {"apiVersion": kc.HELM_API, "kind": "Release"}},
        False,
        True,
    ),
    (
        "an observed ProviderConfig alone keeps the add-ons too",
        {kc.HELM_PROVIDER_CONFIG: {"apiVersion": kc.HELM_API, "kind": "ProviderConfig"}},
        False,
        True,
    ),
]


@pytest.mark.parametrize(
    ("observed", "secret", "want"), [c[1:] for c in ADD_ONS], ids=[c[0] for c in ADD_ONS]
)
def test_add_ons_wait_for_the_kubeconfig_and_stay(
    observed: dict[str, JSON], secret: bool, want: bool
) -> None:
    rsp = compose(observed=observed, kubeconfig=secret)
    got = desired(rsp)
    assert {k for k in kc.ADD_ONS if k in got} == (set(kc.ADD_ONS) if want else set())
    assert set(got) >= CAPI_KEYS, "the Cluster API objects never wait"
    sel = rsp.requirements.resources[kc.KUBECONFIG]
    assert (sel.api_version, sel.kind, sel.match_name, sel.namespace) == (
        "v1",
        "Secret",
        "orders-kubeconfig",
        NAMESPACE,
    ), "the requirement is declared on every call"


def test_add_ons_reach_the_workload_cluster_through_its_kubeconfig() -> None:
    got = desired(compose(kubeconfig=True))
    pc = got[kc.HELM_PROVIDER_CONFIG]
    assert pc["metadata"]["name"] == "orders-helm"
    assert pc["spec"]["credentials"] == {
        "source": "Secret",
        "secretRef": {"namespace": NAMESPACE, "name": "orders-kubeconfig", "key": "value"},
    }
    for key in (kc.CNI, kc.CLOUD_CONTROLLER_MANAGER):
        assert got[key]["spec"]["providerConfigRef"] == {
            "kind": "ProviderConfig",
            "name": "orders-helm",
        }


NETWORK_PLUGINS = [
    ("kube-ovn by default, central components on labelled control plane nodes", None,
     "kube-ovn", "kube-system"),
    ("calico through the Tigera operator", "calico", "tigera-operator", "tigera-operator"),
    ("cilium", "cilium", "cilium", "kube-system"),
]


@pytest.mark.parametrize(
    ("plugin", "chart", "namespace"),
    [c[1:] for c in NETWORK_PLUGINS],
    ids=[c[0] for c in NETWORK_PLUGINS],
)
def test_the_chosen_network_plugin_is_installed(
    plugin: str | None, chart: str, namespace: str
) -> None:
    got = desired(compose({"networkPlugin": plugin} if plugin else {}, kubeconfig=True))
    release = got[kc.CNI]["spec"]["forProvider"]
    assert (release["chart"]["name"], release["namespace"]) == (chart, namespace)
    kubelet = got[kc.CONTROL_PLANE]["spec"]["kubeadmConfigSpec"]["initConfiguration"][
        "nodeRegistration"
    ]["kubeletExtraArgs"]
    labelled = {"name": "node-labels", "value": "kube-ovn/role=master"} in kubelet
    assert labelled == (chart == "kube-ovn")


# ---------------------------------------------------------------- resize


def test_resize_renames_only_the_template_and_moves_the_reference() -> None:
    before = desired(compose({"workerCPU": "4"}, kubeconfig=True))
    after = desired(compose({"workerCPU": "6"}, kubeconfig=True))
    old_key, old = keyed(before, kc.WORKER_TEMPLATE)
    new_key, new = keyed(after, kc.WORKER_TEMPLATE)
    assert old_key != new_key, "a new composed resource: Crossplane keeps observed names"
    assert old["metadata"]["name"] != new["metadata"]["name"]
    assert new["metadata"]["name"].startswith("orders-workers-")

    def ref(resources: dict[str, JSON]) -> str:
        spec = resources[kc.WORKERS]["spec"]["template"]["spec"]
        return str(spec["infrastructureRef"]["name"])

    assert (ref(before), ref(after)) == (old["metadata"]["name"], new["metadata"]["name"])
    rest_before = {k: v for k, v in before.items() if k not in (old_key, kc.WORKERS)}
    rest_after = {k: v for k, v in after.items() if k not in (new_key, kc.WORKERS)}
    assert rest_before == rest_after, "nothing else changes"
    before[kc.WORKERS]["spec"]["template"]["spec"]["infrastructureRef"]["name"] = "x"
    after[kc.WORKERS]["spec"]["template"]["spec"]["infrastructureRef"]["name"] = "x"
    assert before[kc.WORKERS] == after[kc.WORKERS], "only the reference changes"


def test_same_input_same_template_name() -> None:
    first, second = desired(compose()), desired(compose())
    assert keyed(first, kc.WORKER_TEMPLATE)[0] == keyed(second, kc.WORKER_TEMPLATE)[0]


def test_control_plane_resize_moves_the_control_plane_reference() -> None:
    before = desired(compose({"controlPlaneMemory": "8Gi"}))
    after = desired(compose({"controlPlaneMemory": "16Gi"}))
    old_key, _ = keyed(before, kc.CONTROL_PLANE_TEMPLATE)
    new_key, new = keyed(after, kc.CONTROL_PLANE_TEMPLATE)
    assert old_key != new_key
    spec = after[kc.CONTROL_PLANE]["spec"]["machineTemplate"]["spec"]
    assert spec["infrastructureRef"]["name"] == new["metadata"]["name"]
    assert keyed(before, kc.WORKER_TEMPLATE) == keyed(after, kc.WORKER_TEMPLATE)


# ---------------------------------------------------------------- live migration


def test_live_migration_on() -> None:
    for vm in vm_templates(desired(compose())):
        template = vm["spec"]["template"]
        assert template["spec"]["evictionStrategy"] == "LiveMigrate"
        assert template["metadata"]["annotations"] == {
            "kubevirt.io/allow-pod-bridge-network-live-migration": "true"
        }
        disk = vm["spec"]["dataVolumeTemplates"][0]["spec"]["storage"]
        assert disk["accessModes"] == ["ReadWriteMany"]


def test_live_migration_off_removes_eviction_rwx_and_annotation() -> None:
    templates = vm_templates(desired(compose({"enableLiveMigration": False})))
    assert len(templates) == 2
    for vm in templates:
        template = vm["spec"]["template"]
        assert "evictionStrategy" not in template["spec"]
        assert "metadata" not in template
        disk = vm["spec"]["dataVolumeTemplates"][0]["spec"]["storage"]
        assert disk["accessModes"] == ["ReadWriteOnce"]


# ---------------------------------------------------------------- sizes and versions

SIZES = [
    ("dev preset", {"environment": "dev"}, (1, 2, "2", "4Gi", "50Gi")),
    ("production preset", {"environment": "production"}, (3, 5, "8", "16Gi", "200Gi")),
    ("platform defaults where no preset", {"environment": "uat"}, (3, 3, "4", "8Gi", "100Gi")),
    (
        "explicit parameters beat the preset",
        {"environment": "dev", "controlPlaneNodes": 3, "workerCPU": "3"},
        (3, 2, "3", "4Gi", "50Gi"),
    ),
]


@pytest.mark.parametrize(("params", "want"), [c[1:] for c in SIZES], ids=[c[0] for c in SIZES])
def test_sizes_from_parameters_presets_and_defaults(
    params: dict[str, Any], want: tuple[Any, ...]
) -> None:
    got = desired(compose(params))
    _, worker = keyed(got, kc.WORKER_TEMPLATE)
    vm = worker["spec"]["template"]["spec"]["virtualMachineTemplate"]["spec"]
    domain = vm["template"]["spec"]["domain"]
    assert (
        got[kc.CONTROL_PLANE]["spec"]["replicas"],
        got[kc.WORKERS]["spec"]["replicas"],
        domain["resources"]["requests"]["cpu"],
        domain["resources"]["requests"]["memory"],
        vm["dataVolumeTemplates"][0]["spec"]["storage"]["resources"]["requests"]["storage"],
    ) == want


def test_version_picks_the_disk_image_and_the_kubernetes_version() -> None:
    got = desired(compose({"kubernetesVersion": "v1.32.4"}))
    for vm in vm_templates(got):
        url = vm["spec"]["dataVolumeTemplates"][0]["spec"]["source"]["registry"]["url"]
        assert url == "docker://quay.io/capk/ubuntu-2204-container-disk:v1.32.4"
    assert got[kc.CONTROL_PLANE]["spec"]["version"] == "v1.32.4"
    assert got[kc.WORKERS]["spec"]["template"]["spec"]["version"] == "v1.32.4"


def test_fractional_cpu_rounds_cores_up_and_keeps_the_request() -> None:
    _, worker = keyed(desired(compose({"workerCPU": "1500m"})), kc.WORKER_TEMPLATE)
    domain = worker["spec"]["template"]["spec"]["virtualMachineTemplate"]["spec"]["template"][
        "spec"
    ]["domain"]
    assert domain["cpu"] == {"cores": 2}
    assert domain["resources"]["requests"]["cpu"] == "1500m"


def test_objects_reference_each_other_by_name() -> None:
    got = desired(compose())
    spec = got[kc.CLUSTER]["spec"]
    assert got[kc.CLUSTER]["metadata"]["name"] == NAME
    assert spec["controlPlaneRef"] == {
        "apiGroup": "controlplane.cluster.x-k8s.io",
        "kind": "KubeadmControlPlane",
        "name": got[kc.CONTROL_PLANE]["metadata"]["name"],
    }
    assert spec["infrastructureRef"] == {
        "apiGroup": "infrastructure.cluster.x-k8s.io",
        "kind": "KubevirtCluster",
        "name": got[kc.KUBEVIRT_CLUSTER]["metadata"]["name"],
    }
    _, bootstrap = keyed(got, kc.WORKER_BOOTSTRAP)
    md = got[kc.WORKERS]["spec"]
    assert md["template"]["spec"]["bootstrap"]["configRef"]["name"] == bootstrap["metadata"]["name"]
    assert md["selector"]["matchLabels"] == md["template"]["metadata"]["labels"]
    mhc = got[kc.WORKER_HEALTH_CHECK]["spec"]
    assert mhc["selector"]["matchLabels"] == md["selector"]["matchLabels"]


CLUSTER_NAMES = [
    ("the XR's name", "orders", "orders"),
    ("dots are not DNS labels: replaced, with a hash", "a.b", "a-b-"),
    ("long names are cut with a hash", "x" * 60, "x" * 31 + "-"),
]


@pytest.mark.parametrize(
    ("xr_name", "prefix"), [c[1:] for c in CLUSTER_NAMES], ids=[c[0] for c in CLUSTER_NAMES]
)
def test_cluster_name(xr_name: str, prefix: str) -> None:
    name = kc.cluster_name(xr_name)
    assert name.startswith(prefix)
    assert len(name) <= kc.CLUSTER_NAME_MAX
    assert "." not in name
    assert name == kc.cluster_name(xr_name)


# ---------------------------------------------------------------- validation

INVALID = [
    ("even control plane", {"controlPlaneNodes": 2},
     "spec.parameters.controlPlaneNodes: must be odd (etcd needs a quorum) (got 2)"),
    ("too many control planes", {"controlPlaneNodes": 7},
     "spec.parameters.controlPlaneNodes: must be <= 5 (got 7)"),
    ("cpu in words", {"workerCPU": "four"},
     'spec.parameters.workerCPU: must be a Kubernetes quantity such as 4, 500m or 8Gi '
     '(got "four")'),
    ("memory in GB", {"controlPlaneMemory": "8GB"},
     'spec.parameters.controlPlaneMemory: must be a Kubernetes quantity such as 4, 500m or 8Gi '
     '(got "8GB")'),
    ("zero storage", {"workerStorage": "0Gi"},
     'spec.parameters.workerStorage: must be a Kubernetes quantity such as 4, 500m or 8Gi '
     '(got "0Gi")'),
    ("cpu as a number", {"workerCPU": 4}, "spec.parameters.workerCPU: must be a string (got 4)"),
    ("version without v and patch", {"kubernetesVersion": "1.31"},
     'spec.parameters.kubernetesVersion: must match ^v[0-9]+\\.[0-9]+\\.[0-9]+$ (got "1.31")'),
    ("unknown plugin", {"networkPlugin": "flannel"},
     "spec.parameters.networkPlugin: must be one of 'kube-ovn', 'calico' or 'cilium' "
     '(got "flannel")'),
    ("too many workers", {"workerNodes": 11},
     "spec.parameters.workerNodes: must be <= 10 (got 11)"),
]


@pytest.mark.parametrize(
    ("params", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_bad_input_is_fatal_and_names_the_field(params: dict[str, Any], message: str) -> None:
    rsp = compose(params)
    assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL]
    assert rsp.results[0].message == f"invalid KubernetesCluster {NAMESPACE}/orders: {message}"
    assert not rsp.desired.resources


def test_every_bad_field_is_named_at_once() -> None:
    rsp = compose({"workerCPU": "four", "workerMemory": "8GB", "kubernetesVersion": "1.31"})
    message = rsp.results[0].message
    for field in ("workerCPU", "workerMemory", "kubernetesVersion"):
        assert f"spec.parameters.{field}:" in message


QUANTITIES = [
    ("whole cores", "4", Decimal(4), 4),
    ("millicores round up", "500m", Decimal("0.5"), 1),
    ("decimal", "2.5", Decimal("2.5"), 3),
    ("binary suffix", "8Gi", Decimal(8 * 1024**3), 8 * 1024**3),
    ("decimal suffix", "8G", Decimal(8 * 10**9), 8 * 10**9),
    ("exponent", "1e3", Decimal(1000), 1000),
]


@pytest.mark.parametrize(
    ("text", "value", "cores"), [c[1:] for c in QUANTITIES], ids=[c[0] for c in QUANTITIES]
)
def test_quantity(text: str, value: Decimal, cores: int) -> None:
    assert parse(text) == value
    assert whole_cpus(text) == cores


# ---------------------------------------------------------------- status and readiness


def _condition(kind: str, value: str) -> JSON:
    return {"conditions": [{"type": kind, "status": value, "reason": "R"}]}


def observed_cluster(available: str) -> JSON:
    obj = desired(compose())[kc.CLUSTER]
    obj["spec"]["controlPlaneEndpoint"] = {"host": "10.0.0.7", "port": 6443}
    obj["status"] = _condition("Available", available) | {
        "controlPlane": {"readyReplicas": 2},
        "workers": {"readyReplicas": 1},
    }
    return obj


def test_status_from_observed_cluster() -> None:
    rsp = compose(observed={kc.CLUSTER: observed_cluster("True")}, kubeconfig=True)
    assert status(rsp) == {
        "clusterEndpoint": "https://10.0.0.7:6443",
        "clusterReady": True,
        "kubeconfigSecret": "orders-kubeconfig",
        "connectionSecret": "orders-kubeconfig",
        "readyControlPlaneNodes": 2,
        "readyWorkerNodes": 1,
        "phase": "Provisioning",
    }
    assert rsp.desired.resources[kc.CLUSTER].ready == fnv1.READY_TRUE


def test_status_before_anything_is_observed() -> None:
    assert status(compose()) == {"phase": "Provisioning"}


READINESS = [
    ("v1beta2 Cluster: Available", "cluster.x-k8s.io/v1beta2", "Cluster",
     _condition("Available", "True"), True),
    ("v1beta2 Cluster not yet Available", "cluster.x-k8s.io/v1beta2", "Cluster",
     _condition("Available", "False"), False),
    ("KubeadmControlPlane: Available", "controlplane.cluster.x-k8s.io/v1beta2",
     "KubeadmControlPlane", _condition("Available", "True"), True),
    ("MachineDeployment: a Ready condition is not enough", "cluster.x-k8s.io/v1beta2",
     "MachineDeployment", _condition("Ready", "True"), False),
    ("MachineHealthCheck: exists", "cluster.x-k8s.io/v1beta2", "MachineHealthCheck", {}, True),
    ("KubeadmConfigTemplate: exists", "bootstrap.cluster.x-k8s.io/v1beta2",
     "KubeadmConfigTemplate", {}, True),
    ("KubevirtMachineTemplate: exists", "infrastructure.cluster.x-k8s.io/v1alpha1",
     "KubevirtMachineTemplate", {}, True),
    ("KubevirtCluster: status.ready", "infrastructure.cluster.x-k8s.io/v1alpha1",
     "KubevirtCluster", {"ready": True}, True),
    ("KubevirtCluster not ready", "infrastructure.cluster.x-k8s.io/v1alpha1",
     "KubevirtCluster", {"ready": False}, False),
    ("helm ProviderConfig: exists", kc.HELM_API, "ProviderConfig", {}, True),
]


@pytest.mark.parametrize(
    ("api_version", "kind", "obj_status", "want"),
    [c[1:] for c in READINESS],
    ids=[c[0] for c in READINESS],
)
def test_readiness(api_version: str, kind: str, obj_status: JSON, want: bool) -> None:
    obj = {"apiVersion": api_version, "kind": kind, "status": obj_status}
    assert readiness.is_ready(obj) is want


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("with_kubeconfig", [False, True], ids=["provisioning", "add-ons"])
def test_deterministic(with_kubeconfig: bool) -> None:
    first = compose(kubeconfig=with_kubeconfig).SerializeToString(deterministic=True)
    second = compose(kubeconfig=with_kubeconfig).SerializeToString(deterministic=True)
    assert first == second
