"""VClusterEnvironment: the limit range derived from the quota, and the namespace's instances
beside the vCluster.

The oracle is the cluster's admission, apart from the composer: the vCluster chart and the
Valkey chart rendered by `helm template` ($SHARED/charts), a dedicated PostgreSQLInstance's
pods built from its composed Cluster as CloudNativePG builds them (v1.30 pkg/specs/pods.go:
the postgres container and the bootstrap-controller init container both take
spec.resources, one pod per spec.instances), each pod through LimitRanger
(tests/limitranger.py) and the ResourceQuota (tests/resourcequota.py).
"""

import base64
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from function.kinds import postgresqlinstance, redisinstance
from function.kinds.redisinstance.compose import RELEASE
from function.kinds.vclusterenvironment import KIND, compose
from function.refusal import Refusal
from function.structs import JSON
from harness.paths import shared_dir
from tests import charts, limitranger
from tests.composing import context
from tests.resourcequota import Quota

NAMESPACE = "team-analytics"
VCLUSTER_CHART = shared_dir() / "charts" / "vcluster-0.36.1"
VALKEY_CHART = shared_dir() / "charts" / "valkey-0.11.0"
PG_API, REDIS_API = postgresqlinstance.KIND.api.api_version, redisinstance.KIND.api.api_version


def _xr(api: str, kind: str, name: str, params: JSON) -> JSON:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"parameters": params},
    }


def _environment(params: JSON, instances: list[JSON]) -> JSON:
    """The composed vCluster release's values."""
    required = {
        "instances-postgresqlinstance": [i for i in instances if i["kind"] == "PostgreSQLInstance"],
        "instances-redisinstance": [i for i in instances if i["kind"] == "RedisInstance"],
    }
    ctx = context(KIND, params, name="analytics", namespace=NAMESPACE, required=required)
    values: JSON = KIND.compose(ctx).resources[compose.VCLUSTER]["spec"]["forProvider"]["values"]
    return values


def _by(objects: list[JSON], kind: str) -> JSON:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def _cluster(xr: JSON) -> list[JSON]:
    """The pod specs CloudNativePG creates for the PostgreSQLInstance's composed Cluster."""
    kind = postgresqlinstance.KIND
    ctx = context(kind, xr["spec"]["parameters"], name=xr["metadata"]["name"], namespace=NAMESPACE)
    spec = kind.compose(ctx).resources["cluster"]["spec"]
    pod = {
        "initContainers": [{"name": "bootstrap-controller", "resources": spec["resources"]}],
        "containers": [{"name": "postgres", "resources": spec["resources"]}],
    }
    return [pod] * spec["instances"]


def _valkey(xr: JSON, tmp: Path) -> list[JSON]:
    """The pod specs of the RedisInstance's release, rendered by the Valkey chart."""
    kind = redisinstance.KIND
    ctx = context(kind, xr["spec"]["parameters"], name=xr["metadata"]["name"], namespace=NAMESPACE)
    values = kind.compose(ctx).resources[RELEASE]["spec"]["forProvider"]["values"]
    out = []
    for o in charts.helm_template(VALKEY_CHART, xr["metadata"]["name"], NAMESPACE, values, tmp):
        if o["kind"] in ("Deployment", "StatefulSet"):
            out += [o["spec"]["template"]["spec"]] * o["spec"]["replicas"]
    return out


def _admitted(values: JSON, pods: list[JSON], tmp: Path) -> list[str]:
    """What the cluster refuses of the vCluster's own pods and then these pods, under the
    LimitRange and ResourceQuota the chart renders from the environment's values."""
    objects = charts.helm_template(VCLUSTER_CHART, "analytics", NAMESPACE, values, tmp)
    lr, hard = _by(objects, "LimitRange"), _by(objects, "ResourceQuota")["spec"]["hard"]
    config = yaml.safe_load(base64.b64decode(_by(objects, "Secret")["data"]["config.yaml"]))
    dns = config["controlPlane"]["coredns"]["deployment"]["resources"]
    own = [
        _by(objects, "StatefulSet")["spec"]["template"]["spec"],
        {"containers": [{"name": "coredns", "resources": dns}]},
    ]
    quota, refused = Quota.of(hard), []
    for index, pod in enumerate([*own, *pods]):
        usage, errors = limitranger.admit(pod, lr)
        refused += errors
        if not quota.admit(f"pod {index}", {**usage, "count/pods": Decimal(1)}):
            refused.append(f"pod {index}: over the quota")
    return refused


# ---------------------------------------------------------------- derived defaults


@pytest.mark.parametrize(
    ("environment", "defaults", "requests"),
    [
        # dev: 2 CPU, 4Gi, limits twice, 20 pods; the vCluster's own two pods request
        # 200m+20m CPU, 256Mi+64Mi, and are limited to 1+1 CPU, 4Gi+170Mi: the 18 others
        # share (2-0.22)/18, (4-2)/18, (4096-320)/18 Mi, (8192-4266)/18 Mi, rounded down.
        ("dev", {"cpu": "111m", "memory": "218Mi"}, {"cpu": "98m", "memory": "209Mi"}),
        # production: 16 CPU, 32Gi, 100 pods: (16-0.22)/98, (32-2)/98, 32448/98, 61270/98.
        ("production", {"cpu": "306m", "memory": "625Mi"}, {"cpu": "161m", "memory": "331Mi"}),
    ],
)
def test_the_limit_range_shares_what_the_quota_leaves(
    environment: str, defaults: JSON, requests: JSON
) -> None:
    lr = _environment({"environment": environment}, [])["policies"]["limitRange"]
    assert (lr["default"], lr["defaultRequest"]) == (defaults, requests)


def test_a_default_the_xr_sets_is_kept() -> None:
    params = {"environment": "dev", "resources": {"limitRange": {"defaultCPU": "150m"}}}
    lr = _environment(params, [])["policies"]["limitRange"]
    assert lr["default"] == {"cpu": "150m", "memory": "218Mi"}
    assert lr["defaultRequest"]["cpu"] == "98m"


@pytest.mark.parametrize("environment", ["dev", "staging", "production"])
def test_as_many_default_pods_as_the_quota_allows_are_admitted(
    environment: str, tmp_path: Path
) -> None:
    values = _environment({"environment": environment}, [])
    pods = values["policies"]["resourceQuota"]["quota"]["count/pods"] - 2
    assert _admitted(values, [{"containers": [{"name": "app"}]}] * pods, tmp_path) == []


# ---------------------------------------------------------------- instances in the namespace

LARGE = _xr(
    PG_API,
    "PostgreSQLInstance",
    "warehouse",
    {"environment": "staging", "deployment": "dedicated", "size": "large", "enableBackup": False},
)
ROOMY = {"environment": "staging", "resources": {"quota": {"cpu": "8", "memory": "16Gi"}}}


def test_a_large_database_beside_the_environment_is_admitted(tmp_path: Path) -> None:
    values = _environment(ROOMY, [LARGE])
    assert _admitted(values, _cluster(LARGE), tmp_path) == []


def test_the_database_takes_no_default_limit(tmp_path: Path) -> None:
    """Its 2 CPU request with no CPU limit got the default limit, far below: LimitRanger
    made every new instance pod invalid. It sets its own limits now."""
    (pod,) = _cluster(LARGE)
    assert pod["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "8Gi"}
    values = _environment(ROOMY, [LARGE])
    assert _admitted(values, [pod], tmp_path) == []


def test_a_quota_the_database_does_not_fit_in_is_refused(tmp_path: Path) -> None:
    """Staging's 8Gi of requests beside the database's 8Gi: the cluster would refuse its pod."""
    alone = _environment({"environment": "staging"}, [])
    assert _admitted(alone, _cluster(LARGE), tmp_path) == ["pod 2: over the quota"]
    with pytest.raises(Refusal) as e:
        _environment({"environment": "staging"}, [LARGE])
    assert (
        "spec.parameters.resources.quota.memory: must leave room for the vCluster's own control "
        "plane and DNS, PostgreSQLInstance 'warehouse' (1 pod: requests 8192Mi, limits 8192Mi) "
        "and the 27 more pods quota.pods allows with the limit range's defaults: at least "
        "8539Mi (got 8Gi, 347Mi short)"
    ) in str(e.value)


@pytest.mark.parametrize(
    ("params", "fits"),
    [
        pytest.param({"replicas": 3, "memoryGB": 2}, True, id="three servers of 2Gi fit 8Gi"),
        pytest.param({"replicas": 3, "memoryGB": 3}, False, id="three of 3Gi do not"),
        pytest.param(
            {"replicas": 1, "memoryGB": 4, "persistence": False},
            False,
            id="a rolling update doubles a server without a volume",
        ),
    ],
)
def test_redis_servers_must_fit_the_quota(params: JSON, fits: bool, tmp_path: Path) -> None:
    cache = _xr(REDIS_API, "RedisInstance", "cache", {"environment": "staging"} | params)
    env: dict[str, Any] = {"environment": "staging"}
    values = _environment(env, [])
    pods = _valkey(cache, tmp_path)
    if params.get("persistence") is False:
        pods = pods * 2  # the Deployment's surge pod beside the old one
    assert (_admitted(values, pods, tmp_path) == []) is fits
    if fits:
        _environment(env, [cache])
        return
    with pytest.raises(Refusal, match="RedisInstance 'cache'"):
        _environment(env, [cache])


def test_instances_of_other_namespaces_or_kinds_are_not_counted() -> None:
    elsewhere = LARGE | {"metadata": {"name": "warehouse", "namespace": "team-other"}}
    shared = _xr(PG_API, "PostgreSQLInstance", "shared", {"environment": "staging"})
    broken = _xr(PG_API, "PostgreSQLInstance", "broken", {"size": "huge"})
    assert _environment({"environment": "staging"}, [elsewhere, shared, broken])
