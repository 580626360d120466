"""The Qdrant release the MLOpsPlatform composer writes, rendered by the real chart.

The chart (qdrant 1.19.0) has no values schema, so its templates are the check:
`helm template` of $SHARED/charts/qdrant-1.19.0 with the composed values, and the
API key set the way provider-helm sets forProvider.set[].valueFrom (a --set of
the value it read from the composed Secret).
"""

import base64
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from function.kinds.mlopsplatform import KIND
from function.kinds.mlopsplatform.compose import WORKSPACE_NAMESPACE
from function.kinds.mlopsplatform.workloads import (
    VECTOR_DB,
    VECTOR_DB_SECRET,
    vector_database_endpoint,
)
from function.structs import JSON
from harness.paths import go_tool, shared_dir
from tests.composing import context

CHART = shared_dir() / "charts" / "qdrant-1.19.0"
WS = "vision"
# As the Kubeflow profile controller creates it: the Profile is its controller.
PROFILE_REF = {"apiVersion": "kubeflow.org/v1", "kind": "Profile", "name": WS, "controller": True}
NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": WS, "ownerReferences": [{**PROFILE_REF, "uid": "uid-profile"}]},
}


def composed(vector_database: JSON, settings: JSON | None = None) -> tuple[JSON, JSON]:
    """The composed Qdrant Release and its API key Secret."""
    params = {
        "environment": "dev",
        "team": "vision",
        "owner": "ada@example.org",
        "vectorDatabase": vector_database,
    }
    ctx = context(
        KIND,
        params,
        name=WS,
        namespace="",
        required={WORKSPACE_NAMESPACE: [NAMESPACE]},
        settings=settings,
    )
    d = KIND.compose(ctx)
    return d.resources[VECTOR_DB], d.resources[VECTOR_DB_SECRET]


def helm_template(release: JSON, secret: JSON) -> dict[tuple[str, str], JSON]:
    """What the chart renders for the Release, by (kind, name)."""
    spec = release["spec"]["forProvider"]
    secrets = {secret["metadata"]["name"]: secret["stringData"]}
    cmd: list[Any] = [
        go_tool("helm"),
        "template",
        release["metadata"]["annotations"]["crossplane.io/external-name"],
        CHART,
        "--namespace",
        spec["namespace"],
    ]
    with tempfile.TemporaryDirectory() as tmp:
        values = Path(tmp) / "values.json"
        values.write_text(json.dumps(spec["values"]))
        cmd += ["--values", values]
        for item in spec.get("set", []):
            ref = item["valueFrom"]["secretKeyRef"]
            cmd += ["--set", f"{item['name']}={secrets[ref['name']][ref['key']]}"]
        out = subprocess.run(
            [str(c) for c in cmd], check=True, capture_output=True, text=True, timeout=120
        ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_the_chart_source_is_the_pinned_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    release, _ = composed({"enabled": True})
    assert chart["version"] == release["spec"]["forProvider"]["chart"]["version"] == "1.19.0"


@pytest.mark.parametrize(
    ("replicas", "storage_gb"),
    [pytest.param(1, 10, id="one server"), pytest.param(3, 50, id="a cluster of three")],
)
def test_replicas_and_persistence_reach_the_statefulset(replicas: int, storage_gb: int) -> None:
    objects = helm_template(
        *composed({"enabled": True, "replicas": replicas, "storageGB": storage_gb})
    )
    sts = objects[("StatefulSet", "qdrant")]
    assert sts["spec"]["replicas"] == replicas
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == f"{storage_gb}Gi"
    # The chart writes the key either way; null is unset: the cluster's default class.
    assert claim["spec"].get("storageClassName") is None
    config = yaml.safe_load(objects[("ConfigMap", "qdrant")]["data"]["production.yaml"])
    assert config["cluster"]["enabled"] is True


def test_the_storage_class_of_the_input_reaches_the_claims() -> None:
    settings = {"mlopsPlatform": {"vectorDatabase": {"storageClass": "fast-ssd"}}}
    objects = helm_template(*composed({"enabled": True}, settings))
    [claim] = objects[("StatefulSet", "qdrant")]["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "fast-ssd"


def test_the_api_key_comes_from_the_composed_secret() -> None:
    release, secret = composed({"enabled": True})
    key = secret["stringData"]["api-key"]
    objects = helm_template(release, secret)
    chart_secret = objects[("Secret", "qdrant-apikey")]
    assert base64.b64decode(chart_secret["data"]["api-key"]).decode() == key
    local = base64.b64decode(chart_secret["data"]["local.yaml"]).decode()
    assert yaml.safe_load(local) == {"service": {"api_key": key}}
    pod = objects[("StatefulSet", "qdrant")]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["qdrant-secret"]["secret"]["secretName"] == "qdrant-apikey"
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert "/qdrant/config/local.yaml" in mounts
    # The key is not in the Release's values: only in the Secret provider-helm reads.
    assert key not in json.dumps(release)


def test_every_container_requests_cpu_and_memory_for_the_workspace_quota() -> None:
    objects = helm_template(*composed({"enabled": True}))
    pod = objects[("StatefulSet", "qdrant")]["spec"]["template"]["spec"]
    # The chart's chown init container, which has no resources field, is not rendered.
    assert not pod.get("initContainers")
    containers = pod["containers"]
    assert containers
    for c in containers:
        assert {"cpu", "memory"} <= set(c.get("resources", {}).get("requests", {})), c["name"]


def test_the_status_endpoint_is_the_chart_service() -> None:
    objects = helm_template(*composed({"enabled": True}))
    service = objects[("Service", "qdrant")]
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    assert (
        vector_database_endpoint(WS)
        == f"http://{service['metadata']['name']}.{WS}.svc:{ports['http']}"
    )
