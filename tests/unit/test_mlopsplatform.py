"""MLOpsPlatform composer: from a context built as the runner builds it, to Desired.

What a workspace gets at each stage (no namespace yet, no access key yet, both),
that the wiring's names line up across objects, that each toggle adds and removes
exactly its resources, deletion order, refused changes, status, and that the
access key never reaches status, results or logs.
"""

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.context import Desired
from function.kinds.mlopsplatform import KIND, storage
from function.kinds.mlopsplatform.compose import PROFILE, WORKSPACE_NAMESPACE
from function.kinds.mlopsplatform.labels import NAMESPACE_LABELS
from function.kinds.mlopsplatform.storage import (
    ACCESS_KEY,
    ATTACHMENT,
    BUCKET,
    PIPELINES_CONFIG,
    PIPELINES_SECRET,
    POLICY,
    SERVING_ACCOUNT,
    STORAGE_SECRET,
    USER,
)
from function.kinds.mlopsplatform.workloads import NOTEBOOK, VECTOR_DB, VECTOR_DB_SECRET
from function.refusal import Refusal
from function.runner import run
from function.structs import JSON
from harness.requests import desired, observed_secret, ready_condition, request, status, xr
from tests.composing import context, profile_namespace
from tests.composing import status as status_of

API = "ml.platform.example.org/v1alpha1"
WS = "vision"
KEY_ID = "AKIATESTKEYID0000001"
KEY_SECRET = "test-only/secret-access-key/0001"
DETAILS = {ACCESS_KEY: {"username": KEY_ID.encode(), "password": KEY_SECRET.encode()}}
NAMESPACE = profile_namespace(WS)
HAS_NAMESPACE = {WORKSPACE_NAMESPACE: [NAMESPACE]}
INFRA = "crossplane-system"
BOUNDARY_ARN = "arn:aws:iam::123456789012:policy/mlops/vision-boundary"
# The boundary policy as provider-upjet-aws reports it once AWS created it.
OBSERVED_BOUNDARY = {
    "apiVersion": "iam.aws.m.upbound.io/v1beta1",
    "kind": "Policy",
    "metadata": {"name": "vision-boundary", "namespace": INFRA},
    "status": {"atProvider": {"arn": BOUNDARY_ARN}},
}

MODEL_A = {"name": "scorer", "storageUri": "s3://vision-ml-artifacts/m/a", "modelFormat": "sklearn"}
MODEL_B = {"name": "ranker", "storageUri": "s3://vision-ml-artifacts/m/b", "modelFormat": "onnx"}
JOB = {"name": "train-a", "image": "registry.example.org/train:1.0.0", "parameterServers": 1}
EVERYTHING = {
    "environment": "dev",
    "team": "vision-research",
    "owner": "ada@example.org",
    "resources": {"gpu": 2},
    "vectorDatabase": {"enabled": True, "storageGB": 20, "replicas": 3},
    "pipelines": {"enabled": True},
    "notebooks": {"enabled": True, "gpu": 1},
    "serving": [MODEL_A, MODEL_B],
    "training": [JOB],
}


def compose(params: JSON | None = None, *, boundary: bool = True, **kw: Any) -> Desired:
    """Compose MLOpsPlatform vision (cluster-scoped) with its namespace, access key and
    (boundary) its permissions boundary observed."""
    kw.setdefault("required", HAS_NAMESPACE)
    kw.setdefault("connection_details", DETAILS)
    if boundary:
        kw["observed"] = {storage.BOUNDARY: OBSERVED_BOUNDARY, **(kw.get("observed") or {})}
    ctx = context(KIND, params or EVERYTHING, name=WS, namespace="", **kw)
    return KIND.compose(ctx)


def with_params(**changes: Any) -> JSON:
    return {**EVERYTHING, **changes}


def usages_of(resources: dict[str, JSON]) -> set[str]:
    return {n for n in resources if n.startswith("usage-")}


# --- stages -----------------------------------------------------------------------------------


def test_first_reconcile_composes_the_profile_and_the_bucket_and_waits_for_the_namespace() -> None:
    d = compose(required={}, connection_details={}, boundary=False)
    user_objects = set(storage.USER_OBJECTS)
    assert set(d.resources) - usages_of(d.resources) == {PROFILE, *storage.CLOUD} - user_objects
    assert [w.reason for w in d.warnings] == [
        "WaitingForPermissionsBoundary",
        "WaitingForNamespace",
    ]
    profile = d.resources[PROFILE]
    assert profile["metadata"] == {"name": WS}
    assert profile["spec"]["owner"] == {"kind": "User", "name": "ada@example.org"}
    assert profile["spec"]["resourceQuotaSpec"]["hard"] == {
        "requests.cpu": "16",
        "requests.memory": "64Gi",
        "requests.nvidia.com/gpu": "2",
        "requests.storage": "500Gi",
    }


def test_the_namespace_is_asked_for_as_a_required_resource() -> None:
    ctx = context(KIND, EVERYTHING, name=WS, namespace="")
    selector = KIND.compose(ctx).requirements[WORKSPACE_NAMESPACE]
    assert (selector.api_version, selector.kind, selector.name, selector.namespace) == (
        "v1",
        "Namespace",
        WS,
        "",
    )


def test_without_the_access_key_only_what_does_not_need_it_is_composed() -> None:
    d = compose(connection_details={})
    needs_key = {STORAGE_SECRET, PIPELINES_SECRET, NOTEBOOK, "model-scorer", "model-ranker"}
    needs_key.add("training-train-a")
    assert not needs_key & set(d.resources)
    assert {SERVING_ACCOUNT, PIPELINES_CONFIG, VECTOR_DB, VECTOR_DB_SECRET} <= set(d.resources)
    assert [w.reason for w in d.warnings] == ["WaitingForAccessKey"]


def test_what_was_composed_stays_while_an_input_is_briefly_missing() -> None:
    """All but the namespace labels' Object, which would create the namespace if kept."""
    before = compose()
    observed = {
        n: observed_secret(o) if o["kind"] == "Secret" else o for n, o in before.resources.items()
    }
    after = compose(observed=observed, required={}, connection_details={})
    assert set(after.resources) == set(before.resources) - {NAMESPACE_LABELS}
    # The key is read back from the workspace Secret already written.
    data = after.resources[STORAGE_SECRET]["stringData"]
    assert (data["AWS_ACCESS_KEY_ID"], data["AWS_SECRET_ACCESS_KEY"]) == (KEY_ID, KEY_SECRET)


def test_a_rotated_access_key_reaches_every_consumer() -> None:
    before = compose()
    observed = {STORAGE_SECRET: observed_secret(before.resources[STORAGE_SECRET])}
    rotated = {ACCESS_KEY: {"username": b"AKIAROTATED000000002", "password": b"rotated"}}
    after = compose(observed=observed, connection_details=rotated)
    assert (
        after.resources[STORAGE_SECRET]["stringData"]["AWS_ACCESS_KEY_ID"] == "AKIAROTATED000000002"
    )
    assert after.resources[PIPELINES_SECRET]["stringData"]["secretkey"] == "rotated"


# --- the wiring -------------------------------------------------------------------------------


def test_the_access_key_writes_its_connection_secret_in_the_platform_namespace() -> None:
    d = compose()
    key = d.resources[ACCESS_KEY]
    assert key["metadata"]["namespace"] == INFRA
    assert key["spec"]["writeConnectionSecretToRef"] == {"name": "vision-mlops-s3-access-key"}
    for name in storage.CLOUD:
        assert d.resources[name]["metadata"]["namespace"] == INFRA, name
    assert key["spec"]["forProvider"]["userSelector"] == {
        "matchControllerRef": True,
        "matchLabels": {"platform.example.org/composition-resource": USER},
    }
    assert d.resources[USER]["metadata"]["labels"] == {
        "platform.example.org/composition-resource": USER
    }


def test_the_policy_allows_only_the_workspace_bucket() -> None:
    d = compose()
    bucket = d.resources[BUCKET]
    assert bucket["metadata"]["annotations"] == {
        "crossplane.io/external-name": "vision-ml-artifacts"
    }
    policy = json.loads(d.resources[POLICY]["spec"]["forProvider"]["policy"])
    resources = {r for s in policy["Statement"] for r in [s["Resource"]]}
    assert resources == {"arn:aws:s3:::vision-ml-artifacts", "arn:aws:s3:::vision-ml-artifacts/*"}
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    attachment = d.resources[ATTACHMENT]["spec"]["forProvider"]
    assert attachment["policyArnSelector"]["matchLabels"] == {
        "platform.example.org/composition-resource": POLICY
    }


def test_each_consumer_reads_the_key_under_the_names_it_expects() -> None:
    d = compose()
    kserve = d.resources[STORAGE_SECRET]
    assert kserve["metadata"]["namespace"] == WS
    assert kserve["stringData"] == {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": KEY_SECRET,
    }
    assert kserve["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "s3.us-east-1.amazonaws.com",
        "serving.kserve.io/s3-usehttps": "1",
        "serving.kserve.io/s3-region": "us-east-1",
        "serving.kserve.io/s3-useanoncredential": "false",
    }
    account = d.resources[SERVING_ACCOUNT]
    assert account["secrets"] == [{"name": kserve["metadata"]["name"]}]
    for model in ("scorer", "ranker"):
        predictor = d.resources[f"model-{model}"]["spec"]["predictor"]
        assert predictor["serviceAccountName"] == account["metadata"]["name"]

    kfp = d.resources[PIPELINES_SECRET]
    config = d.resources[PIPELINES_CONFIG]
    assert config["metadata"] == {"name": "kfp-launcher", "namespace": WS}
    assert config["data"]["defaultPipelineRoot"] == "s3://vision-ml-artifacts/pipelines"
    ref = json.loads(config["data"]["providers"])["s3"]["default"]["credentials"]["secretRef"]
    assert ref["secretName"] == kfp["metadata"]["name"]
    assert kfp["stringData"][ref["accessKeyKey"]] == KEY_ID
    assert kfp["stringData"][ref["secretKeyKey"]] == KEY_SECRET


def test_notebook_and_training_mount_keys_the_storage_secret_holds() -> None:
    d = compose()
    secret = d.resources[STORAGE_SECRET]
    containers = [d.resources[NOTEBOOK]["spec"]["template"]["spec"]["containers"][0]]
    tf = d.resources["training-train-a"]["spec"]["tfReplicaSpecs"]
    containers += [tf[role]["template"]["spec"]["containers"][0] for role in ("Worker", "PS")]
    for c in containers:
        refs = [e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e]
        assert refs
        assert all(r["name"] == secret["metadata"]["name"] for r in refs)
        assert all(r["key"] in secret["stringData"] for r in refs)
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["ML_ARTIFACTS_BUCKET"] == "vision-ml-artifacts"
    assert [c["name"] for c in containers[1:]] == ["tensorflow", "tensorflow"]


def test_every_workload_requests_cpu_and_memory_for_the_quota() -> None:
    d = compose()
    pods = [d.resources[NOTEBOOK]["spec"]["template"]["spec"]["containers"][0]["resources"]]
    pods += [
        d.resources[f"model-{m}"]["spec"]["predictor"]["model"]["resources"]
        for m in ("scorer", "ranker")
    ]
    tf = d.resources["training-train-a"]["spec"]["tfReplicaSpecs"]
    pods += [tf[r]["template"]["spec"]["containers"][0]["resources"] for r in tf]
    pods.append(d.resources[VECTOR_DB]["spec"]["forProvider"]["values"]["resources"])
    for res in pods:
        assert {"cpu", "memory"} <= set(res["requests"]), res
    notebook = pods[0]
    assert notebook["requests"]["nvidia.com/gpu"] == notebook["limits"]["nvidia.com/gpu"] == 1


def test_an_aws_endpoint_of_the_input_reaches_every_consumer() -> None:
    endpoint = "http://bucket.vpce-0a1b2c3d.s3.eu-west-1.vpce.amazonaws.com"
    settings = {
        "mlopsPlatform": {
            "objectStore": {"endpoint": endpoint, "region": "eu-west-1", "forcePathStyle": True}
        }
    }
    d = compose(settings=settings)
    host = "bucket.vpce-0a1b2c3d.s3.eu-west-1.vpce.amazonaws.com"
    annotations = d.resources[STORAGE_SECRET]["metadata"]["annotations"]
    assert annotations["serving.kserve.io/s3-endpoint"] == host
    assert annotations["serving.kserve.io/s3-usehttps"] == "0"
    s3 = json.loads(d.resources[PIPELINES_CONFIG]["data"]["providers"])["s3"]["default"]
    assert (s3["endpoint"], s3["disableSSL"], s3["forcePathStyle"], s3["region"]) == (
        host,
        True,
        True,
        "eu-west-1",
    )
    env = d.resources[NOTEBOOK]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "AWS_ENDPOINT_URL_S3", "value": endpoint} in env


def test_qdrant_gets_persistence_replicas_and_its_api_key_from_the_composed_secret() -> None:
    d = compose()
    release = d.resources[VECTOR_DB]
    assert release["metadata"]["namespace"] == WS
    spec = release["spec"]["forProvider"]
    assert (spec["chart"]["name"], spec["chart"]["version"], spec["namespace"]) == (
        "qdrant",
        "1.19.0",
        WS,
    )
    assert spec["values"]["replicaCount"] == 3
    assert spec["values"]["persistence"] == {"size": "20Gi"}
    secret = d.resources[VECTOR_DB_SECRET]
    assert spec["set"] == [
        {
            "name": "apiKey",
            "valueFrom": {"secretKeyRef": {"name": secret["metadata"]["name"], "key": "api-key"}},
        }
    ]
    assert "apiKey" not in spec["values"]
    assert len(secret["stringData"]["api-key"]) >= 40


# --- toggles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Toggle:
    reason: str
    off: JSON
    removed: set[str]


TOGGLES = {
    "VectorDatabase": Toggle(
        "Qdrant off removes its release, its Secret and the Usage between them.",
        {"vectorDatabase": {"enabled": False}},
        {VECTOR_DB, VECTOR_DB_SECRET, "usage-vector-db-uses-vector-db-secret"},
    ),
    "Pipelines": Toggle(
        "Pipelines off removes the KFP Secret and kfp-launcher.",
        {"pipelines": {"enabled": False}},
        {PIPELINES_SECRET, PIPELINES_CONFIG},
    ),
    "Notebooks": Toggle(
        "Notebooks off removes the Notebook and the Usage it holds on the credentials.",
        {"notebooks": {"enabled": False}},
        {NOTEBOOK, "usage-notebook-uses-storage-secret"},
    ),
    "OneModel": Toggle(
        "Removing one model removes its InferenceService (and its Usages) only.",
        {"serving": [MODEL_B]},
        {
            "model-scorer",
            "usage-model-scorer-uses-storage-secret",
            "usage-model-scorer-uses-serving-account",
        },
    ),
    "Training": Toggle(
        "No training jobs removes the TFJob and its Usage.",
        {"training": []},
        {"training-train-a", "usage-training-train-a-uses-storage-secret"},
    ),
}


@pytest.mark.parametrize("case", TOGGLES.values(), ids=TOGGLES.keys())
def test_each_toggle_adds_and_removes_exactly_its_resources(case: Toggle) -> None:
    on = compose()
    # Off, with everything the "on" request composed observed: the lifecycle rule keeps
    # what exists when an input is missing, never what the user turned off.
    observed = {
        n: observed_secret(o) if o["kind"] == "Secret" else o for n, o in on.resources.items()
    }
    off = compose(with_params(**case.off), observed=observed)
    assert set(on.resources) - set(off.resources) == case.removed, case.reason
    assert set(off.resources) <= set(on.resources), case.reason
    for name in off.resources:
        assert off.resources[name] == on.resources[name], f"{name} changed: {case.reason}"
    # And back on adds exactly those again.
    again = compose(observed={n: observed[n] for n in off.resources})
    assert set(again.resources) - set(off.resources) == case.removed, case.reason


def test_everything_off_is_the_workspace_and_its_credentials() -> None:
    off = with_params(
        vectorDatabase={"enabled": False},
        pipelines={"enabled": False},
        notebooks={"enabled": False},
        serving=[],
        training=[],
    )
    d = compose(off)
    assert set(d.resources) - usages_of(d.resources) == {
        PROFILE,
        *storage.CLOUD,
        STORAGE_SECRET,
        SERVING_ACCOUNT,
        NAMESPACE_LABELS,
    }


# --- deletion order ---------------------------------------------------------------------------


def test_usages_order_deletion_in_the_namespace_of_both_sides() -> None:
    d = compose()
    usages = {n: o for n, o in d.resources.items() if n.startswith("usage-")}
    pairs = {
        (
            o["spec"]["by"]["resourceSelector"]["matchLabels"][
                "platform.example.org/composition-resource"
            ],
            o["spec"]["of"]["resourceSelector"]["matchLabels"][
                "platform.example.org/composition-resource"
            ],
        )
        for o in usages.values()
    }
    assert {(ACCESS_KEY, USER), (ATTACHMENT, USER), (ATTACHMENT, POLICY)} <= pairs
    for workload in (NOTEBOOK, "model-scorer", "model-ranker", "training-train-a"):
        assert (workload, STORAGE_SECRET) in pairs
    assert ("model-scorer", SERVING_ACCOUNT) in pairs
    assert (VECTOR_DB, VECTOR_DB_SECRET) in pairs
    for name, usage in usages.items():
        by = usage["spec"]["by"]["resourceSelector"]["matchLabels"]
        owner = d.resources[next(iter(by.values()))]
        assert usage["metadata"]["namespace"] == owner["metadata"]["namespace"], name


# --- refused changes and bad input ------------------------------------------------------------


def test_a_new_bucket_name_is_refused() -> None:
    observed = {
        BUCKET: {"metadata": {"annotations": {"crossplane.io/external-name": "old-bucket"}}}
    }
    with pytest.raises(Refusal, match=r"objectStore\.bucketName cannot change"):
        compose(with_params(objectStore={"bucketName": "vision-new-bucket"}), observed=observed)


def test_an_unset_bucket_name_keeps_the_bucket_composed() -> None:
    """The name a workspace got stays when bucketName is unset or tenancy changes."""
    observed = {
        BUCKET: {"metadata": {"annotations": {"crossplane.io/external-name": "old-bucket"}}}
    }
    d = compose(observed=observed)
    assert d.resources[BUCKET]["metadata"]["annotations"] == {
        "crossplane.io/external-name": "old-bucket"
    }


def test_a_new_qdrant_volume_size_is_refused() -> None:
    on = compose()
    refused = r"vectorDatabase\.storageGB cannot change from 20 to 30"
    with pytest.raises(Refusal, match=refused):
        compose(
            with_params(vectorDatabase={"enabled": True, "storageGB": 30}),
            observed={VECTOR_DB: on.resources[VECTOR_DB]},
        )


@pytest.mark.parametrize(
    ("retention", "policies"),
    [
        pytest.param("Retain", ["Observe", "Create", "Update", "LateInitialize"], id="Retain"),
        pytest.param("Delete", None, id="Delete"),
    ],
)
def test_retention_decides_whether_deleting_the_workspace_deletes_the_bucket(
    retention: str, policies: list[str] | None
) -> None:
    d = compose(with_params(objectStore={"retention": retention}))
    assert d.resources[BUCKET]["spec"].get("managementPolicies") == policies
    assert d.resources[BUCKET]["spec"]["forProvider"]["forceDestroy"] is False


def test_bad_input_gets_one_fatal_naming_every_field() -> None:
    params = with_params(
        owner="not-an-email",
        objectStore={"bucketName": "My-Bucket"},
        notebooks={"enabled": True, "gpu": -1},
        serving=[MODEL_A, MODEL_A],
    )
    rsp = run(request(xr(API, "MLOpsPlatform", params, name=WS, namespace="")))
    assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL]
    message = rsp.results[0].message
    assert message.startswith(f"invalid MLOpsPlatform {WS}: ")
    for expected in (
        'spec.parameters.owner: must be an email address (got "not-an-email")',
        "spec.parameters.objectStore.bucketName: must be an S3 bucket name",
        "spec.parameters.notebooks.gpu: must be >= 0 (got -1)",
        "spec.parameters.serving: model names must be unique",
    ):
        assert expected in message
    assert not rsp.desired.resources


def test_more_gpus_than_the_quota_is_refused() -> None:
    rsp = run(
        request(xr(API, "MLOpsPlatform", with_params(resources={"gpu": 0}), name=WS, namespace=""))
    )
    assert "spec.parameters.resources: " in rsp.results[0].message


def test_a_name_that_cannot_be_a_namespace_is_refused() -> None:
    with pytest.raises(Refusal, match="must be a DNS label"):
        KIND.compose(context(KIND, EVERYTHING, name="team.vision", namespace=""))


# --- status and secrets -----------------------------------------------------------------------


def ready_observed(d: Desired) -> dict[str, JSON]:
    """Everything composed, observed ready as each controller reports it."""
    out: dict[str, JSON] = {}
    for name, obj in d.resources.items():
        o = observed_secret(obj) if obj["kind"] == "Secret" else dict(obj)
        o["status"] = ready_condition()
        out[name] = o
    out[VECTOR_DB]["status"]["atProvider"] = {"state": "deployed"}
    out[NOTEBOOK]["status"] = {"readyReplicas": 1}
    out["model-scorer"]["status"]["url"] = "https://scorer-vision.ml.example.org"
    out["model-ranker"]["status"] = ready_condition("False")
    out["training-train-a"]["status"] = {
        "conditions": [
            {"type": "Created", "status": "True"},
            {"type": "Running", "status": "True"},
        ]
    }
    return out


def test_status_names_what_is_ready() -> None:
    d = compose(observed=ready_observed(compose()))
    assert status_of(d) == {
        "namespace": WS,
        "bucket": "vision-ml-artifacts",
        "connectionSecret": "workspace-s3-credentials",
        "vectorDatabaseEndpoint": "http://qdrant.vision.svc:6333",
        "vectorDatabaseSecret": "qdrant-api-key",
        "notebookURL": "/notebook/vision/notebook/",
        "models": [
            {"name": "scorer", "ready": True, "url": "https://scorer-vision.ml.example.org"},
            {"name": "ranker", "ready": False},
        ],
        "trainingJobs": [{"name": "train-a", "phase": "Running"}],
    }


def test_the_access_key_never_reaches_status_results_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    observed = ready_observed(compose())
    observed[ACCESS_KEY]["spec"]["forProvider"]["status"] = "Active"
    req = request(
        xr(API, "MLOpsPlatform", EVERYTHING, name=WS, namespace=""),
        observed=observed,
        required=HAS_NAMESPACE,
        connection_details=DETAILS,
    )
    caplog.set_level(logging.DEBUG)
    rsp = run(req, logging.getLogger("function-under-test"))
    encoded = base64.b64encode(KEY_SECRET.encode()).decode()
    public = json.dumps(status(rsp)) + "".join(r.message for r in rsp.results)
    public += "".join(c.message for c in rsp.conditions) + caplog.text
    for value in (KEY_SECRET, encoded, KEY_ID):
        assert value not in public
    # It is only in the two Secrets that carry it to the workloads.
    holders = {n for n, o in desired(rsp).items() if KEY_SECRET in json.dumps(o)}
    assert holders == {STORAGE_SECRET, PIPELINES_SECRET}
    assert KEY_SECRET not in repr(
        storage.access_key(
            context(KIND, EVERYTHING, name=WS, namespace="", connection_details=DETAILS)
        )
    )


def test_same_request_gives_byte_identical_desired_state() -> None:
    def once() -> bytes:
        req = request(
            xr(API, "MLOpsPlatform", EVERYTHING, name=WS, namespace=""),
            required=HAS_NAMESPACE,
            connection_details=DETAILS,
        )
        return run(req).desired.SerializeToString(deterministic=True)

    assert once() == once()
