"""MLOpsPlatform against its own quota: what it composes is judged by ResourceQuota admission
as Kubernetes documents it (tests/resourcequota.py), with Qdrant's pods and claims rendered by
the real chart ($SHARED/charts/qdrant-1.19.0, `helm template`).

Also the notebook's workspace volume, the changes refused because they lose data (a smaller
workspace, fewer Qdrant servers), where the workloads are told the object store is, and the
object stores that cannot work.
"""

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.context import Desired
from function.kinds.mlopsplatform import KIND
from function.kinds.mlopsplatform.compose import PROFILE, WORKSPACE_NAMESPACE
from function.kinds.mlopsplatform.storage import ACCESS_KEY
from function.kinds.mlopsplatform.workloads import NOTEBOOK, VECTOR_DB, WORKSPACE
from function.refusal import Refusal
from function.runner import run
from function.structs import JSON
from harness.paths import ROOT, shared_dir
from harness.requests import request, xr
from tests import charts
from tests.composing import context, profile_namespace
from tests.resourcequota import Quota, claim_requests, pod_requests

API = "ml.platform.example.org/v1alpha1"
WS = "lab"
CHART = shared_dir() / "charts" / "qdrant-1.19.0"
DETAILS = {ACCESS_KEY: {"username": b"AKIATESTKEYID0000001", "password": b"test-only-secret"}}
NAMESPACE = profile_namespace(WS)
GI = Decimal(1024**3)


def compose(params: JSON, name: str = WS, **kw: Any) -> Desired:
    kw.setdefault("required", {WORKSPACE_NAMESPACE: [profile_namespace(name)]})
    kw.setdefault("connection_details", DETAILS)
    return KIND.compose(context(KIND, params, name=name, namespace="", **kw))


def helm_template(values: JSON, tmp: Path) -> list[JSON]:
    """The Qdrant chart rendered with the release's values (its apiKey, set by provider-helm
    from a Secret, given here)."""
    return charts.helm_template(CHART, "qdrant", WS, values | {"apiKey": "test-only"}, tmp)


def objects_created(d: Desired, tmp: Path) -> list[tuple[str, dict[str, Decimal]]]:
    """Every pod and claim that must exist at once, as the controllers create them: the
    notebook's pod, each model's minReplicas predictor pods, every replica of each TFJob,
    Qdrant's StatefulSet pods and their claims, the workspace claim."""
    out: list[tuple[str, dict[str, Decimal]]] = []
    for name, obj in sorted(d.resources.items()):
        kind, spec = obj["kind"], obj.get("spec", {})
        if kind == "Notebook":
            out.append((f"{name} pod", pod_requests(spec["template"]["spec"])))
        elif kind == "InferenceService":
            predictor = spec["predictor"]
            pod = {"containers": [predictor["model"]]}
            out += [(f"{name} pod {i}", pod_requests(pod)) for i in range(predictor["minReplicas"])]
        elif kind == "TFJob":
            for role, replica in sorted(spec["tfReplicaSpecs"].items()):
                pod = pod_requests(replica["template"]["spec"])
                out += [(f"{name} {role} {i}", pod) for i in range(replica["replicas"])]
        elif kind == "PersistentVolumeClaim":
            out.append((name, claim_requests(obj)))
        elif kind == "Release":
            for doc in helm_template(spec["forProvider"]["values"], tmp):
                if doc["kind"] != "StatefulSet":
                    continue
                for i in range(doc["spec"]["replicas"]):
                    out.append((f"qdrant pod {i}", pod_requests(doc["spec"]["template"]["spec"])))
                    for claim in doc["spec"].get("volumeClaimTemplates", []):
                        out.append((f"qdrant claim {i}", claim_requests(claim)))
    return out


def admitted(d: Desired, hard: JSON, tmp: Path) -> Quota:
    quota = Quota.of(hard)
    for what, requests in objects_created(d, tmp):
        quota.admit(what, requests)
    return quota


def hard_quota(d: Desired) -> JSON:
    hard: JSON = d.resources[PROFILE]["spec"]["resourceQuotaSpec"]["hard"]
    return hard


# --- everything that runs at once fits the quota --------------------------------------------


def test_everything_on_is_admitted_whole(tmp_path: Path) -> None:
    example = ROOT / "examples/mlopsplatform/everything-on/xr.yaml"
    xr = yaml.safe_load(example.read_text())
    d = compose(xr["spec"]["parameters"], name=xr["metadata"]["name"])
    quota = admitted(d, hard_quota(d), tmp_path)
    assert quota.refused == []
    assert quota.used["requests.nvidia.com/gpu"] <= quota.hard["requests.nvidia.com/gpu"]


JOB = {"name": "train", "image": "registry.example.org/train:1.0.0"}
MODEL = {"name": "embed", "storageUri": "s3://lab-ml-artifacts/m/e", "modelFormat": "onnx"}
GPU_1 = {"cpu": "1", "memory": "2Gi", "gpu": 1}
OFF = {"vectorDatabase": {"enabled": False}}

QUOTA_CASES = {
    "the notebook, two model pods and three workers: 6 GPUs of 6": (
        {
            "resources": {"gpu": 6},
            **OFF,
            "notebooks": {"enabled": True, "gpu": 1},
            "serving": [MODEL | {"minReplicas": 2, "maxReplicas": 4, "resources": GPU_1}],
            "training": [JOB | {"workers": 3, "resources": GPU_1}],
        }
    ),
    "the same against 5 GPUs": (
        {
            "resources": {"gpu": 5},
            **OFF,
            "notebooks": {"enabled": True, "gpu": 1},
            "serving": [MODEL | {"minReplicas": 2, "maxReplicas": 4, "resources": GPU_1}],
            "training": [JOB | {"workers": 3, "resources": GPU_1}],
        }
    ),
    "parameter servers ask for no GPU unless told": (
        {
            "resources": {"gpu": 2},
            **OFF,
            "training": [JOB | {"workers": 2, "parameterServers": 2, "resources": GPU_1}],
        }
    ),
    "parameter servers with a GPU each count": (
        {
            "resources": {"gpu": 3},
            **OFF,
            "training": [
                JOB
                | {
                    "workers": 2,
                    "parameterServers": 2,
                    "resources": GPU_1,
                    "parameterServerResources": GPU_1,
                }
            ],
        }
    ),
    "a model scaled to zero holds no GPU": (
        {
            "resources": {"gpu": 1},
            **OFF,
            "serving": [MODEL | {"minReplicas": 0, "maxReplicas": 2, "resources": GPU_1}],
            "training": [JOB | {"resources": GPU_1}],
        }
    ),
    "workspace 20Gi and three Qdrant volumes of 10Gi: 50Gi of 50Gi": (
        {
            "resources": {"storage": "50Gi"},
            "notebooks": {"enabled": True, "workspaceGB": 20},
            "vectorDatabase": {"replicas": 3, "storageGB": 10},
        }
    ),
    "the same against 49Gi": (
        {
            "resources": {"storage": "49Gi"},
            "notebooks": {"enabled": True, "workspaceGB": 20},
            "vectorDatabase": {"replicas": 3, "storageGB": 10},
        }
    ),
    "the default workspace and Qdrant against 15Gi": (
        {"resources": {"storage": "15Gi"}, "notebooks": {"enabled": True}}
    ),
    "the default workspace and Qdrant against 14Gi": (
        {"resources": {"storage": "14Gi"}, "notebooks": {"enabled": True}}
    ),
}


@pytest.mark.parametrize("case", QUOTA_CASES.values(), ids=QUOTA_CASES.keys())
def test_the_function_refuses_what_the_quota_would_not_admit_whole(
    case: JSON, tmp_path: Path
) -> None:
    params = {"environment": "dev", "team": "vision", "owner": "ada@example.org"} | case
    # What the request would create, composed under a quota that holds anything...
    lifted = params | {"resources": {"gpu": 64, "storage": "100Ti"}}
    d = compose(lifted)
    # ...then created one by one in the namespace with the quota the request asks for.
    hard = hard_quota(compose(params | OFF | {"notebooks": {}, "serving": [], "training": []}))
    quota = admitted(d, hard, tmp_path)

    rsp = run(
        request(
            xr(API, "MLOpsPlatform", params, name=WS, namespace=""),
            required={WORKSPACE_NAMESPACE: [NAMESPACE]},
            connection_details=DETAILS,
        )
    )
    fatal = [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    if not quota.refused:
        assert fatal == []
        return
    assert len(fatal) == 1, quota.refused
    wanted = {k: v for k, v in _totals(d, tmp_path).items() if v > quota.hard.get(k, v)}
    assert wanted, quota.refused
    for resource, total in wanted.items():
        field = {"requests.nvidia.com/gpu": "gpu", "requests.storage": "storage"}[resource]
        numbers = f"{total} are requested" if field == "gpu" else f"{total / GI}Gi are claimed"
        assert f"spec.parameters.resources.{field}: " in fatal[0]
        assert re.search(rf'got "{re.escape(hard[resource])}, but {numbers}', fatal[0]), fatal


def _totals(d: Desired, tmp: Path) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for _, requests in objects_created(d, tmp):
        for k, v in requests.items():
            totals[k] = totals.get(k, Decimal(0)) + v
    return totals


def test_the_refusal_names_each_field_and_number() -> None:
    example = ROOT / "examples/mlopsplatform/invalid-gpu-total/xr.yaml"
    composite = yaml.safe_load(example.read_text())
    message = run(request(composite)).results[0].message
    for part in (
        "spec.parameters.resources.gpu:",
        '"4, but 8 are requested',
        "notebooks.gpu 1",
        "serving[0].minReplicas x resources.gpu 1 x 1",
        "training[0].workers x resources.gpu 4 x 1",
        "training[0].parameterServers x parameterServerResources.gpu 2 x 1",
    ):
        assert part in message


# --- the notebook's workspace -----------------------------------------------------------------


NOTEBOOKS = {
    "environment": "dev",
    "team": "vision",
    "owner": "ada@example.org",
    "notebooks": {"enabled": True, "workspaceGB": 20},
}


def test_the_notebook_mounts_its_workspace_claim_where_kubeflow_does() -> None:
    d = compose(NOTEBOOKS)
    notebook, claim = d.resources[NOTEBOOK], d.resources[WORKSPACE]
    # Kubeflow's notebook UI: "{notebook-name}-workspace", ReadWriteOnce, at /home/jovyan.
    assert claim["metadata"] == {
        "name": f"{notebook['metadata']['name']}-workspace",
        "namespace": WS,
    }
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "20Gi"}},
    }
    pod = notebook["spec"]["template"]["spec"]
    (volume,) = pod["volumes"]
    assert volume["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"]}
    (container,) = pod["containers"]
    assert container["volumeMounts"] == [{"name": volume["name"], "mountPath": "/home/jovyan"}]


def test_the_workspace_can_grow_but_never_shrink() -> None:
    before = compose(NOTEBOOKS)
    observed = {WORKSPACE: before.resources[WORKSPACE]}
    grown = compose(
        NOTEBOOKS | {"notebooks": {"enabled": True, "workspaceGB": 30}}, observed=observed
    )
    assert grown.resources[WORKSPACE]["spec"]["resources"]["requests"]["storage"] == "30Gi"
    with pytest.raises(Refusal, match=r"notebooks\.workspaceGB cannot be lowered from 20 to 10"):
        compose(NOTEBOOKS | {"notebooks": {"enabled": True, "workspaceGB": 10}}, observed=observed)


def test_turning_notebooks_off_stops_the_server_and_keeps_the_files() -> None:
    before = compose(NOTEBOOKS)
    observed = {n: before.resources[n] for n in (NOTEBOOK, WORKSPACE)}
    off = compose(NOTEBOOKS | {"notebooks": {"enabled": False}}, observed=observed)
    assert NOTEBOOK not in off.resources
    assert off.resources[WORKSPACE]["spec"] == before.resources[WORKSPACE]["spec"]
    # The kept claim still counts against the quota.
    with pytest.raises(Refusal, match=r"resources\.storage: .*got \"25Gi, but 30Gi are claimed"):
        compose(
            NOTEBOOKS | {"notebooks": {"enabled": False}, "resources": {"storage": "25Gi"}},
            observed=observed,
        )


# --- Qdrant servers -------------------------------------------------------------------------


def test_fewer_qdrant_servers_are_refused_more_are_not() -> None:
    three = {
        "environment": "dev",
        "team": "vision",
        "owner": "ada@example.org",
        "vectorDatabase": {"replicas": 3},
    }
    observed = {VECTOR_DB: compose(three).resources[VECTOR_DB]}
    more = compose(three | {"vectorDatabase": {"replicas": 5}}, observed=observed)
    assert more.resources[VECTOR_DB]["spec"]["forProvider"]["values"]["replicaCount"] == 5
    with pytest.raises(Refusal, match=r"vectorDatabase\.replicas cannot be lowered from 3 to 2"):
        compose(three | {"vectorDatabase": {"replicas": 2}}, observed=observed)


# --- the object store, as the workloads read it -----------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "url", "https"),
    [
        pytest.param(None, "https://s3.eu-west-1.amazonaws.com", "1", id="the region's"),
        pytest.param(
            "http://s3.eu-west-1.amazonaws.com", "http://s3.eu-west-1.amazonaws.com", "0", id="http"
        ),
    ],
)
def test_every_workload_with_the_key_is_told_where_the_store_is(
    endpoint: str | None, url: str, https: str
) -> None:
    store = {"region": "eu-west-1"} | ({"endpoint": endpoint} if endpoint else {})
    params = NOTEBOOKS | {"training": [JOB | {"parameterServers": 1}]}
    d = compose(params, settings={"mlopsPlatform": {"objectStore": store}})
    containers = [
        c
        for obj in d.resources.values()
        for spec in _pod_specs(obj)
        for c in spec["containers"]
        if any(e["name"] == "AWS_ACCESS_KEY_ID" for e in c.get("env", []))
    ]
    assert len(containers) == 3  # the notebook, the worker, the parameter server
    for c in containers:
        env = {e["name"]: e.get("value") for e in c["env"]}
        # tensorflow/io s3_filesystem.cc: S3_ENDPOINT (scheme included), S3_VERIFY_SSL;
        # TensorFlow's own s3_file_system.cc: AWS_REGION, S3_USE_HTTPS.
        assert env["S3_ENDPOINT"] == url
        assert env["S3_USE_HTTPS"] == https
        assert env["S3_VERIFY_SSL"] == "1"
        assert env["AWS_REGION"] == "eu-west-1"
        assert env["AWS_ENDPOINT_URL_S3"] == url


def _pod_specs(obj: JSON) -> list[JSON]:
    spec = obj.get("spec", {})
    if obj["kind"] == "Notebook":
        return [spec["template"]["spec"]]
    if obj["kind"] == "TFJob":
        return [r["template"]["spec"] for r in spec["tfReplicaSpecs"].values()]
    return []


@pytest.mark.parametrize(
    ("endpoint", "accepted"),
    [
        pytest.param("https://minio.platform-data.svc:9000", False, id="MinIO"),
        pytest.param("http://10.0.0.5:9000", False, id="an address"),
        pytest.param("https://s3.amazonaws.com.example.org", False, id="a look-alike"),
        pytest.param(
            "https://bucket.vpce-0a1b2c3d4e5f67890-abcdefgh.s3.eu-west-1.vpce.amazonaws.com",
            True,
            id="a VPC interface endpoint",
        ),
        pytest.param("https://s3.cn-north-1.amazonaws.com.cn", True, id="AWS China"),
    ],
)
def test_only_a_store_that_accepts_an_iam_key_is_taken(endpoint: str, accepted: bool) -> None:
    settings = {"mlopsPlatform": {"objectStore": {"endpoint": endpoint}}}
    params = {"environment": "dev", "team": "vision", "owner": "ada@example.org"}
    rsp = run(request(xr(API, "MLOpsPlatform", params, name=WS, namespace=""), settings=settings))
    fatal = [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    if accepted:
        assert fatal == []
        return
    (result,) = fatal
    assert result.reason == "InvalidInput"
    assert "mlopsPlatform.objectStore.endpoint" in result.message
    assert "AWS IAM access key" in result.message
