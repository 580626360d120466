"""KubernetesCluster as it must work in a real cluster: the cloud controller manager in the host
cluster, network ranges, deletion order, eviction, names, versions, immutable CNI."""

import re
from ipaddress import ip_network
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from pydantic import ValidationError

from function.blocks.usage import USAGE_API, usage_name
from function.input import function_input
from function.kinds.kubernetescluster import KIND, ccm
from function.kinds.kubernetescluster.model import KubernetesClusterParameters
from function.model import (
    CLUSTER_API_KUBERNETES_VERSION,
    KUBERNETES_MINORS,
    KUBERNETES_VERSION_PATTERN,
)
from function.refusal import Refusal
from function.runner import run
from function.structs import JSON
from generate import crossplane
from harness.requests import request, xr
from tests.composing import context, refused

NAME, NAMESPACE = "prod", "team-a"
KUBECONFIG: JSON = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": f"{NAME}-kubeconfig", "namespace": NAMESPACE},
    "data": {"value": "YXBpVmVyc2lvbjogdjEK"},
}
CCM_OFF: JSON = {"kubernetesCluster": {"cloudControllerManager": {"enabled": False}}}


def compose(
    params: JSON | None = None,
    *,
    kubeconfig: bool = True,
    observed: dict[str, JSON] | None = None,
    settings: JSON | None = None,
    name: str = NAME,
) -> dict[str, JSON]:
    ctx = context(
        KIND,
        {"environment": "production"} | (params or {}),
        name=name,
        namespace=NAMESPACE,
        observed=observed,
        required={"kubeconfig": [KUBECONFIG]} if kubeconfig else {},
        settings=settings,
    )
    return KIND.compose(ctx).resources


def of_kind(resources: dict[str, JSON], kind: str) -> list[JSON]:
    return [r for r in resources.values() if r["kind"] == kind]


def kubelet_args(resources: dict[str, JSON]) -> list[list[JSON]]:
    """Every kubeletExtraArgs list of the control plane and the workers' bootstrap."""
    cp = of_kind(resources, "KubeadmControlPlane")[0]["spec"].get("kubeadmConfigSpec", {})
    workers = of_kind(resources, "KubeadmConfigTemplate")[0]["spec"]["template"]["spec"]
    registrations = [
        cp.get("initConfiguration", {}),
        cp.get("joinConfiguration", {}),
        workers["joinConfiguration"],
    ]
    return [r.get("nodeRegistration", {}).get("kubeletExtraArgs", []) for r in registrations]


# --- cloud controller manager ------------------------------------------------------------


def test_ccm_runs_in_the_host_cluster_wired_to_its_serviceaccount_role_config_and_kubeconfig() -> (
    None
):
    resources = compose()
    assert not [r for r in of_kind(resources, "Release") if "cloud" in str(r)], "no Helm CCM"
    sa, role, binding, config, deployment = (resources[k] for k in ccm.RESOURCES)
    names = {o["metadata"]["name"] for o in (sa, role, binding, config, deployment)}
    assert names == {f"{NAME}-cloud-controller-manager"}
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}
    ]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["kubeconfig"]["secret"]["secretName"] == KUBECONFIG["metadata"]["name"]
    assert volumes["cloud-config"]["configMap"]["name"] == config["metadata"]["name"]
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    args = container["args"]
    # The kubeconfig flag names the mounted Secret key Cluster API writes (value).
    key = volumes["kubeconfig"]["secret"]["items"][0]["path"]
    assert f"--kubeconfig={mounts['kubeconfig']}/{key}" in args
    assert key in KUBECONFIG["data"]
    config_file = next(a for a in args if a.startswith("--cloud-config="))
    assert config_file == f"--cloud-config={mounts['cloud-config']}/{next(iter(config['data']))}"
    assert f"--cluster-name={NAME}" in args  # matches the VMs' cluster-name label
    assert f"namespace: {NAMESPACE}\n" in config["data"]["cloud-config"]
    assert container["image"].endswith(":v0.6.0")
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert labels.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert labels["cluster.x-k8s.io/cluster-name"] == NAME  # two clusters per namespace


def test_ccm_waits_for_the_kubeconfig_and_stays_once_composed() -> None:
    before = compose(kubeconfig=False)
    assert not set(ccm.RESOURCES) & set(before)
    after = compose()
    observed = {k: after[k] for k in ccm.RESOURCES}
    kept = compose(kubeconfig=False, observed=observed)
    assert set(ccm.RESOURCES) <= set(kept)


def test_ccm_role_is_what_crossplane_is_granted_and_every_composed_core_kind_is_covered() -> None:
    resources = compose()
    assert resources[ccm.ROLE]["rules"] == list(KIND.granted)
    rbac = crossplane.rbac()["rules"]
    for rule in KIND.granted:
        assert rule in rbac, "Crossplane must hold what the Role grants (escalation check)"
    covered = KIND.resources()
    for obj in resources.values():
        group = obj["apiVersion"].rpartition("/")[0]
        if "." not in group:  # core and apps kinds: plural is kind + s
            assert (group, obj["kind"].lower() + "s") in covered, obj["kind"]


@pytest.mark.parametrize(
    ("settings", "external"),
    [
        pytest.param(None, True, id="ccm on by default: kubelets wait for it (external)"),
        pytest.param(CCM_OFF, False, id="ccm off: no kubelet waits for a cloud provider"),
    ],
)
def test_kubelets_use_an_external_cloud_provider_only_with_the_ccm(
    settings: JSON | None, external: bool
) -> None:
    resources = compose({"networkPlugin": "calico"}, settings=settings)
    flags = [a for args in kubelet_args(resources) for a in args]
    assert ({"name": "cloud-provider", "value": "external"} in flags) is external
    assert bool(set(ccm.RESOURCES) & set(resources)) is external
    # Without any flag the workers' registration is still non-empty (the CRD wants it).
    workers = of_kind(resources, "KubeadmConfigTemplate")[0]["spec"]["template"]["spec"]
    assert workers["joinConfiguration"]["nodeRegistration"]


# --- network ranges ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "pods", "services"),
    [
        pytest.param(None, "10.243.0.0/16", "10.95.0.0/16", id="defaults as CAPK's templates"),
        pytest.param(
            {"kubernetesCluster": {"podCIDR": "10.10.0.0/16", "serviceCIDR": "10.20.0.0/16"}},
            "10.10.0.0/16",
            "10.20.0.0/16",
            id="set in the input",
        ),
    ],
)
def test_network_ranges(settings: JSON | None, pods: str, services: str) -> None:
    resources = compose(settings=settings)
    network = resources["cluster"]["spec"]["clusterNetwork"]
    assert network == {"pods": {"cidrBlocks": [pods]}, "services": {"cidrBlocks": [services]}}
    ipv4 = resources["cni"]["spec"]["forProvider"]["values"]["ipv4"]  # kube-ovn agrees
    assert (ipv4["POD_CIDR"], ipv4["SVC_CIDR"]) == (pods, services)


def test_default_ranges_do_not_overlap_the_host_clusters_usual_ones() -> None:
    resources = compose()
    network = resources["cluster"]["spec"]["clusterNetwork"]
    for block in (network["pods"]["cidrBlocks"][0], network["services"]["cidrBlocks"][0]):
        for host in ("10.244.0.0/16", "10.96.0.0/12"):
            assert not ip_network(block).overlaps(ip_network(host)), (block, host)


@pytest.mark.parametrize(
    "cidr",
    [
        pytest.param("10.243.0.1/16", id="host bits set"),
        pytest.param("300.0.0.0/8", id="not an address"),
        pytest.param("10.243.0.0", id="no prefix length"),
    ],
)
def test_a_bad_network_in_the_input_is_refused(cidr: str) -> None:
    with pytest.raises(ValidationError, match=r"kubernetesCluster\.podCIDR"):
        function_input().model_validate({"kubernetesCluster": {"podCIDR": cidr}})


# --- deletion order ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("by", "of"),
    [
        pytest.param("cni", "helm-provider-config", id="the CNI uninstalls through its config"),
        pytest.param("helm-provider-config", "cluster", id="the config needs the kubeconfig"),
        pytest.param("cloud-controller-manager", "cluster", id="the CCM mounts the kubeconfig"),
        # cloud-provider-kubevirt v0.6.0 pkg/provider/loadbalancer.go: the host-side Service
        # of a workload LoadBalancer Service goes only through EnsureLoadBalancerDeleted,
        # when the workload Service is deleted while the CCM runs.
        pytest.param(
            "cni",
            "cloud-controller-manager",
            id="the CCM outlives what uninstalls workload Services",
        ),
        *(
            pytest.param("cloud-controller-manager", rbac, id=f"the CCM keeps its {rbac}")
            for rbac in ("ccm-role", "ccm-role-binding", "ccm-service-account", "ccm-cloud-config")
        ),
        # kubernetes v1.35.4 pkg/registry/rbac/rolebinding/policybased/storage.go: an update
        # of a RoleBinding whose Role is gone fails, and releasing the RoleBinding's Usage
        # is one.
        pytest.param("ccm-role-binding", "ccm-role", id="the RoleBinding keeps its Role"),
    ],
)
def test_dependents_are_deleted_before_what_they_need(by: str, of: str) -> None:
    resources = compose()
    usage = resources[usage_name(by, of)]
    assert usage["apiVersion"] == USAGE_API
    assert usage["spec"]["replayDeletion"] is True
    for side, key in (("by", by), ("of", of)):
        ref = usage["spec"][side]
        target = resources[key]
        assert (ref["apiVersion"], ref["kind"]) == (target["apiVersion"], target["kind"])
        selected = ref["resourceSelector"]["matchLabels"]
        assert selected.items() <= resources[key]["metadata"]["labels"].items()
        assert ref["resourceSelector"]["matchControllerRef"] is True
    assert KIND.readiness.is_ready(usage)


def test_no_usage_before_the_dependents_exist() -> None:
    resources = compose(kubeconfig=False)
    assert not of_kind(resources, "Usage")


# --- eviction, names, versions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("live_migration", "strategy"),
    [
        pytest.param(True, "LiveMigrate", id="live migration on: KubeVirt migrates"),
        pytest.param(False, "External", id="live migration off: CAPK drains and replaces"),
    ],
)
def test_eviction_strategy(live_migration: bool, strategy: str) -> None:
    resources = compose({"enableLiveMigration": live_migration})
    templates = of_kind(resources, "KubevirtMachineTemplate")
    assert len(templates) == 2
    for t in templates:
        vmi = t["spec"]["template"]["spec"]["virtualMachineTemplate"]["spec"]["template"]["spec"]
        assert vmi["evictionStrategy"] == strategy


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("2nd-cluster", id="starts with a digit"),
        pytest.param("0", id="only a digit"),
    ],
)
def test_names_that_make_an_invalid_service_name_are_refused(name: str) -> None:
    with pytest.raises(Refusal, match=rf"metadata.name '{name}' must start with a letter"):
        compose(name=name)


def test_invalid_name_is_a_fatal_result_naming_metadata_name() -> None:
    api = KIND.api
    response = run(request(xr(api.api_version, api.kind, {"environment": "dev"}, name="9lives")))
    fatal = [r for r in response.results if r.severity == fnv1.SEVERITY_FATAL]
    assert len(fatal) == 1
    assert "metadata.name '9lives'" in fatal[0].message


def test_the_default_version_is_of_a_supported_minor_and_pairs_with_its_disk_image() -> None:
    assert re.match(KUBERNETES_VERSION_PATTERN, CLUSTER_API_KUBERNETES_VERSION)
    resources = compose()
    cp = of_kind(resources, "KubeadmControlPlane")[0]
    assert cp["spec"]["version"] == CLUSTER_API_KUBERNETES_VERSION
    templates = str(of_kind(resources, "KubevirtMachineTemplate"))
    assert f":{CLUSTER_API_KUBERNETES_VERSION}" in templates


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        *(pytest.param(f"v{m}.0", True, id=f"supported minor {m}") for m in KUBERNETES_MINORS),
        pytest.param("v1.31.0", False, id="a minor out of upstream support"),
        pytest.param("v1.37.0", False, id="a minor Cluster API v1.14 does not list"),
        pytest.param("v1.36.01", False, id="a leading zero in the patch"),
        pytest.param("1.36.1", False, id="no v"),
        pytest.param("v1.36.999999999", True, id="a patch of nine digits"),
        pytest.param("v1.36.1000000000", False, id="a patch of ten digits: not read as a number"),
    ],
)
def test_allowed_versions_come_from_one_list(version: str, ok: bool) -> None:
    problems = refused(
        KubernetesClusterParameters, {"environment": "dev", "kubernetesVersion": version}
    )
    assert (problems is None) is ok
    xrd = _parameters_schema()["kubernetesVersion"]
    assert xrd["pattern"] == KUBERNETES_VERSION_PATTERN  # the XRD validates the same list


# --- networkPlugin immutable -------------------------------------------------------------


def _parameters_schema() -> dict[str, Any]:
    version = crossplane.xrd(KIND.api)["spec"]["versions"][0]
    props: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return dict(props["properties"]["parameters"]["properties"])


def test_network_plugin_is_immutable_in_the_xrd() -> None:
    rules = _parameters_schema()["networkPlugin"]["x-kubernetes-validations"]
    assert [r["rule"] for r in rules] == ["self == oldSelf"]
    assert "second network plugin" in rules[0]["message"]


@pytest.mark.parametrize(
    ("installed", "asked", "refused"),
    [
        pytest.param("calico", "cilium", True, id="calico installed, cilium asked: refused"),
        pytest.param("calico", "calico", False, id="the same plugin: composed"),
        pytest.param(None, "cilium", False, id="no CNI release yet: any plugin"),
    ],
)
def test_network_plugin_change_is_refused_against_the_observed_release(
    installed: str | None, asked: str, refused: bool
) -> None:
    observed = {}
    if installed is not None:
        observed = {"cni": compose({"networkPlugin": installed})["cni"]}
    if refused:
        with pytest.raises(Refusal, match=r"networkPlugin cannot change from 'calico' to"):
            compose({"networkPlugin": asked}, observed=observed)
    else:
        chart = compose({"networkPlugin": asked}, observed=observed)["cni"]["metadata"]
        assert chart["annotations"]["crossplane.io/external-name"] == asked


# --- the oldest Cluster API ----------------------------------------------------------------


def _controller(image: str) -> JSON:
    """Cluster API's controller Deployment as clusterctl installs it (config/manager)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "capi-controller-manager", "namespace": "capi-system"},
        "spec": {"template": {"spec": {"containers": [{"name": "manager", "image": image}]}}},
    }


def _with_controller(deployment: JSON | None) -> Any:
    required = {"kubeconfig": [KUBECONFIG], "cluster-api-controller": []}
    if deployment is not None:
        required["cluster-api-controller"] = [deployment]
    ctx = context(
        KIND, {"environment": "production"}, name=NAME, namespace=NAMESPACE, required=required
    )
    return KIND.compose(ctx)


CAPI_IMAGE = "registry.k8s.io/cluster-api/cluster-api-controller"


@pytest.mark.parametrize(
    "image", [f"{CAPI_IMAGE}:v1.12.11", f"{CAPI_IMAGE}:v1.11.0", "mirror.example/capi:v1.10.4"]
)
def test_a_cluster_api_older_than_1_13_is_refused(image: str) -> None:
    """Before v1.13.0 the Cluster sets itself as controller of what Crossplane controls."""
    with pytest.raises(Refusal, match=r"Cluster API v1\.1[0-2]\.[0-9]+ runs .*needs v1\.13\.0"):
        _with_controller(_controller(image))


@pytest.mark.parametrize(
    "deployment",
    [
        pytest.param(_controller(f"{CAPI_IMAGE}:v1.13.0"), id="v1.13.0"),
        pytest.param(_controller(f"{CAPI_IMAGE}:v1.14.0-rc.1"), id="a release candidate"),
        pytest.param(_controller(f"{CAPI_IMAGE}@sha256:{'a' * 64}"), id="a digest: unknown"),
        pytest.param(None, id="not installed by clusterctl: unknown"),
    ],
)
def test_a_recent_or_unknown_cluster_api_composes(deployment: JSON | None) -> None:
    assert "cluster" in _with_controller(deployment).resources


def test_the_cluster_api_controller_is_asked_for() -> None:
    d = _with_controller(None)
    wanted = d.requirements["cluster-api-controller"]
    assert (wanted.api_version, wanted.kind) == ("apps/v1", "Deployment")
    assert (wanted.namespace, wanted.name) == ("capi-system", "capi-controller-manager")
