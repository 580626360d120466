"""The vCluster values each example composes, rendered by the real chart with `helm template`.

The values schema accepts values the chart's own templates refuse (_validate.tpl,
_exportKubeConfig.tpl `fail`s); and what the chart renders from them is what
the environment gets. So every example's vCluster release, as the real CLI
rendered it (expected.yaml), goes through $SHARED/charts/vcluster-0.36.1, and
the objects it renders are checked against the XR: the quota, the limit range,
the network policies, the Service behind the kubeconfig's server and the
kubeconfig export in the vCluster's config.
"""

import base64
import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from function.kinds.vclusterenvironment import KIND, compose, services
from function.quantity import parse
from harness.cases import find_cases, load_yaml_docs
from harness.paths import ROOT, go_tool, shared_dir
from harness.schemas import JsonSchemas, check_helm_values
from tests import limitranger
from tests.composing import context
from tests.resourcequota import Quota

CHART = shared_dir(ROOT) / "charts" / "vcluster-0.36.1"
# The host cluster's version, as the API server tells provider-helm: the chart writes
# some fields only from a minor on (persistentVolumeClaimRetentionPolicy from 1.27).
HOST_KUBERNETES = "v1.36.0"
CASES = [c for c in find_cases(ROOT, ["vclusterenvironment/"]) if c.expected.is_file()]
JSON = dict[str, Any]


def _composed(case_dir: Path) -> tuple[JSON, JSON]:
    """(the XR, with the status the CLI rendered, and the vCluster Release) of one example."""
    docs = load_yaml_docs(case_dir / "expected.yaml")
    xr = load_yaml_docs(case_dir / "xr.yaml")[0] | {"status": docs[0].get("status") or {}}
    release = next(
        d
        for d in docs
        if d["kind"] == "Release"
        and d["metadata"]["annotations"]["crossplane.io/composition-resource-name"]
        == compose.VCLUSTER
    )
    return xr, release


def helm_template(release: str, namespace: str, values: JSON, tmp: Path) -> list[JSON]:
    """The chart's objects, rendered offline by the real helm binary (its `fail`s included)."""
    path = tmp / "values.json"
    path.write_text(json.dumps(values))
    done = subprocess.run(
        [
            str(go_tool("helm")),
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--values",
            str(path),
            "--kube-version",
            HOST_KUBERNETES,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise AssertionError(f"helm template failed: {done.stderr.strip()}")
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def _by(objects: list[JSON], kind: str, name: str) -> JSON | None:
    return next((o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name), None)


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    xr, release = _composed(request.param.dir)
    spec = release["spec"]["forProvider"]
    name = release["metadata"]["annotations"]["crossplane.io/external-name"]
    objects = helm_template(name, spec["namespace"], spec["values"], tmp_path_factory.mktemp("h"))
    return xr, release, name, spec["namespace"], objects


def test_there_are_examples_to_render() -> None:
    assert len(CASES) >= 5, [c.id for c in CASES]
    assert any(c.id.endswith("/istio-production") for c in CASES)


def test_values_pass_the_charts_schema(rendered: Any) -> None:
    _, release, *_ = rendered
    checked, errors = check_helm_values(shared_dir(ROOT), JsonSchemas(), "expected.yaml", release)
    assert checked
    assert errors == []


def test_the_quota_is_exactly_the_environments(rendered: Any) -> None:
    xr, release, name, namespace, objects = rendered
    quota = release["spec"]["forProvider"]["values"]["policies"]["resourceQuota"]["quota"]
    hard = _by(objects, "ResourceQuota", f"vc-{name}")
    assert hard is not None
    assert hard["metadata"]["namespace"] == namespace
    got = hard["spec"]["hard"]
    for key, value in quota.items():
        assert got.get(key) == (None if value is None else str(value)), key
    # Every key of the chart's default quota is the environment's, removed or a guard kept.
    assert set(got) == {k for k, v in quota.items() if v is not None} | {
        "services.loadbalancers",
        "count/endpoints",
        "count/services",
        "count/secrets",
        "count/configmaps",
        "count/persistentvolumeclaims",
    }
    # No namespace total of ephemeral storage: at the limit range's 3Gi default request the
    # chart's 60Gi held 18 containers, fewer than production's pods.
    assert "requests.ephemeral-storage" not in got
    assert "limits.ephemeral-storage" not in got
    # Kourier's LoadBalancer Service (ports 80, 443) takes two node ports and the one
    # load balancer the chart allows.
    knative = "knative" in (xr["spec"]["parameters"].get("addons") or [])
    assert got["services.nodeports"] == ("2" if knative else "0")
    assert got["services.loadbalancers"] == "1"
    assert parse(got["limits.memory"]) == 2 * parse(got["requests.memory"])
    assert parse(got["limits.cpu"]) == 2 * parse(got["requests.cpu"])
    given = (xr["spec"]["parameters"].get("resources") or {}).get("quota") or {}
    for ours, theirs in (
        ("cpu", "requests.cpu"),
        ("memory", "requests.memory"),
        ("storage", "requests.storage"),
        ("pods", "count/pods"),
    ):
        if ours in given:
            assert got[theirs] == str(given[ours]), f"spec.parameters.resources.quota.{ours}"


def test_the_limit_range_gives_every_container_defaults(rendered: Any) -> None:
    xr, release, name, _, objects = rendered
    lr = _by(objects, "LimitRange", f"vc-{name}")
    assert lr is not None
    (limits,) = lr["spec"]["limits"]
    want = release["spec"]["forProvider"]["values"]["policies"]["limitRange"]
    assert limits["type"] == "Container"
    assert limits["default"]["cpu"] == want["default"]["cpu"]
    assert limits["default"]["memory"] == want["default"]["memory"]
    assert limits["defaultRequest"] == {
        **{k: v for k, v in limits["defaultRequest"].items() if k not in ("cpu", "memory")},
        **want["defaultRequest"],
    }
    given = (xr["spec"]["parameters"].get("resources") or {}).get("limitRange") or {}
    if "defaultCPU" in given:
        assert limits["default"]["cpu"] == given["defaultCPU"]


def test_network_policies_follow_the_isolation_asked_for(rendered: Any) -> None:
    xr, release, name, _, objects = rendered
    isolation = xr["spec"]["parameters"].get("isolation") or {}
    on = isolation.get("networkPolicy", True)
    workload = _by(objects, "NetworkPolicy", f"vc-work-{name}")
    assert (workload is not None) == on
    assert (_by(objects, "NetworkPolicy", f"vc-cp-{name}") is not None) == on
    if workload is None:
        return
    # The chart selects the environment's pods by the label vCluster puts on them.
    assert workload["spec"]["podSelector"] == {"matchLabels": {"vcluster.loft.sh/managed-by": name}}
    egress = workload["spec"]["egress"]
    public = [r for r in egress for t in r.get("to", []) if "ipBlock" in t]
    assert bool(public) == isolation.get("publicEgress", True)
    replicated = release["spec"]["forProvider"]["values"]["networking"]["replicateServices"]
    for mapping in replicated["fromHost"]:
        host_namespace = mapping["from"].split("/")[0]
        selector = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": host_namespace}}
        }
        assert any(selector in r.get("to", []) for r in egress), f"no egress to {host_namespace}"


def test_the_kubeconfig_names_the_service_the_chart_renders(rendered: Any) -> None:
    xr, _, name, namespace, objects = rendered
    service = _by(objects, "Service", name)
    assert service is not None
    assert service["metadata"]["namespace"] == namespace
    https = next(p for p in service["spec"]["ports"] if p["name"] == "https")
    assert (https["port"], https["targetPort"]) == (443, 8443)
    # What the vCluster reads: the chart's config Secret holds the values it was given.
    secret = _by(objects, "Secret", f"vc-config-{name}")
    assert secret is not None
    config = yaml.safe_load(base64.b64decode(secret["data"]["config.yaml"]))
    export = config["exportKubeConfig"]
    assert export["server"] == f"https://{name}.{namespace}:443"
    # No other Secret asked for: vCluster writes vc-<name>, which status and the
    # ProviderConfigs name.
    assert export["secret"] == {"name": "", "namespace": ""}
    assert export["additionalSecrets"] == []
    # A ServiceAccount's token instead of the admin client certificate (values.yaml
    # exportKubeConfig.serviceAccount: name, namespace, clusterRole).
    account = export["serviceAccount"]
    assert account["name"]
    assert account["namespace"] == "kube-system"
    assert account["clusterRole"] == "cluster-admin"
    status = xr.get("status") or {}
    if "kubeconfigSecret" in status:
        assert status["kubeconfigSecret"] == f"vc-{name}"
    assert f"{name}.{namespace}.svc" in config["controlPlane"]["proxy"]["extraSANs"]


def _own_pods(objects: list[JSON], name: str) -> list[JSON]:
    """The pod specs the chart runs in the namespace: the control plane's StatefulSet, and
    CoreDNS, which vCluster deploys inside with the resources of its config and syncs out."""
    sts = _by(objects, "StatefulSet", name)
    assert sts is not None
    config = yaml.safe_load(
        base64.b64decode(_by(objects, "Secret", f"vc-config-{name}")["data"]["config.yaml"])
    )
    dns = config["controlPlane"]["coredns"]["deployment"]["resources"]
    return [
        sts["spec"]["template"]["spec"],
        {"containers": [{"name": "coredns", "resources": dns}]},
    ]


def test_the_vclusters_own_pods_are_admitted_and_take_no_default(rendered: Any) -> None:
    """Every container of the vCluster's own pods sets CPU and memory requests and limits,
    so the limit range's defaults, derived from the quota and small, never apply to them,
    and the LimitRange the chart renders admits them."""
    _, _, name, _, objects = rendered
    lr = _by(objects, "LimitRange", f"vc-{name}")
    assert lr is not None
    for pod in _own_pods(objects, name):
        _, errors = limitranger.admit(pod, lr)
        assert errors == []
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            for side in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][side]), (c["name"], side)


def _runs_nothing_else(case_dir: Path) -> bool:
    """No add-on and no instance in the namespace: only the vCluster's own pods are known."""
    required = case_dir / "required.yaml"
    instances = required.is_file() and any(
        d["kind"] in ("PostgreSQLInstance", "RedisInstance") for d in load_yaml_docs(required)
    )
    xr = load_yaml_docs(case_dir / "xr.yaml")[0]
    return not instances and not xr["spec"]["parameters"].get("addons")


ALONE = [c for c in CASES if _runs_nothing_else(c.dir)]


def test_there_are_examples_of_the_vcluster_alone() -> None:
    assert len(ALONE) >= 2, [c.id for c in ALONE]


@pytest.mark.parametrize("case", ALONE, ids=[c.id for c in ALONE])
def test_every_pod_the_quota_allows_fits_at_the_defaults(case: Any, tmp_path: Path) -> None:
    """The vCluster's own pods, then as many pods of one container setting nothing as
    count/pods leaves: the limit range admits each, and the quota holds them all."""
    _, release = _composed(case.dir)
    spec = release["spec"]["forProvider"]
    name = release["metadata"]["annotations"]["crossplane.io/external-name"]
    objects = helm_template(name, spec["namespace"], spec["values"], tmp_path)
    lr = _by(objects, "LimitRange", f"vc-{name}")
    hard = _by(objects, "ResourceQuota", f"vc-{name}")
    assert lr is not None
    assert hard is not None
    quota = Quota.of(hard["spec"]["hard"])
    own = _own_pods(objects, name)
    workload = {"containers": [{"name": "app"}]}
    pods = [*own, *[workload] * (int(hard["spec"]["hard"]["count/pods"]) - len(own))]
    for index, pod in enumerate(pods):
        usage, errors = limitranger.admit(pod, lr)
        assert errors == []
        assert quota.admit(f"pod {index}", {**usage, "count/pods": Decimal(1)})
    assert not quota.admit("one more", {"count/pods": Decimal(1)})


def test_the_virtual_cluster_runs_the_version_asked_for(rendered: Any) -> None:
    xr, _, name, _, objects = rendered
    sts = _by(objects, "StatefulSet", name)
    assert sts is not None
    init = {c["name"]: c for c in sts["spec"]["template"]["spec"]["initContainers"]}
    want = xr["spec"]["parameters"].get("kubernetesVersion", "v1.36.0")
    assert init["kubernetes"]["image"].endswith(f"/loft-sh/kubernetes:{want}")
    # Pinned, not the chart's version (the chart source's Chart.yaml says 0.0.1).
    (syncer,) = sts["spec"]["template"]["spec"]["containers"]
    assert syncer["image"] == "ghcr.io/loft-sh/vcluster-pro:0.36.1"


def test_replicated_services_can_be_read_by_the_vcluster(rendered: Any) -> None:
    _, release, _, _, objects = rendered
    replicated = release["spec"]["forProvider"]["values"]["networking"]["replicateServices"]
    role = next((o for o in objects if o["kind"] == "ClusterRole"), None)
    if not replicated["fromHost"]:
        return
    # Services of other namespaces need the chart's ClusterRole (templates/_rbac.tpl).
    assert role is not None
    assert any("services" in r["resources"] and "watch" in r["verbs"] for r in role["rules"])
    recorded = services.recorded(release)
    assert len(recorded) == len(replicated["fromHost"])


def test_the_charts_own_validation_runs(tmp_path: Path) -> None:
    """helm template is not only a schema check: a `fail` in the templates fails the test."""
    _, release = _composed(CASES[0].dir)
    values = release["spec"]["forProvider"]["values"] | {
        "exportKubeConfig": {"secret": {"name": "other"}, "additionalSecrets": [{"name": "more"}]}
    }
    checked, errors = check_helm_values(
        shared_dir(ROOT),
        JsonSchemas(),
        "test",
        {"spec": {"forProvider": {"chart": {"name": "vcluster"}, "values": values}}},
    )
    assert checked
    assert errors == [], "schema-valid"
    with pytest.raises(AssertionError, match="cannot be set at the same time"):
        helm_template("env", "team-a", values, tmp_path)


def test_the_data_volume_is_kept_when_the_environment_goes(rendered: Any) -> None:
    """The examples run with the default settings: the claim outlives the StatefulSet."""
    _, _, name, _, objects = rendered
    sts = _by(objects, "StatefulSet", name)
    assert sts is not None
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["data"]
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain"}


def test_the_platform_may_delete_the_data_volume_with_the_environment(tmp_path: Path) -> None:
    settings = {"vclusterEnvironment": {"dataVolumeOnDeletion": "Delete"}}
    ctx = context(KIND, {"environment": "dev"}, name="env", namespace="team-a", settings=settings)
    release = KIND.compose(ctx).resources[compose.VCLUSTER]["spec"]["forProvider"]
    objects = helm_template("env", "team-a", release["values"], tmp_path)
    sts = _by(objects, "StatefulSet", "env")
    assert sts is not None
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete"}


def test_connection_secrets_are_synced_from_the_environments_namespace(rendered: Any) -> None:
    """What vCluster reads (its config) copies each Secret of status.services in, from the
    XR's namespace only, and the chart's RBAC lets it read Secrets there."""
    xr, _, name, namespace, objects = rendered
    config = yaml.safe_load(
        base64.b64decode(_by(objects, "Secret", f"vc-config-{name}")["data"]["config.yaml"])
    )
    synced = config["sync"]["fromHost"]["secrets"]
    listed = [s["secret"] for s in (xr.get("status") or {}).get("services") or [] if "secret" in s]
    assert synced["enabled"] == bool(listed)
    if not listed:
        return
    assert synced["mappings"]["byName"] == {s: s for s in listed}
    assert all(s.startswith(f"{namespace}/") for s in listed)
    # templates/_rbac.tpl: vCluster may get exactly these Secrets, by name.
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    get = [r for r in role["rules"] if r["resources"] == ["secrets"] and r["verbs"] == ["get"]]
    assert [sorted(r["resourceNames"]) for r in get] == [sorted(s.split("/")[1] for s in listed)]
