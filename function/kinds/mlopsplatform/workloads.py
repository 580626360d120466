"""What runs in the workspace: Qdrant, the notebook server, InferenceServices, TFJobs.

Every pod requests CPU and memory: the Profile puts a ResourceQuota on the
namespace, and Kubernetes then refuses pods that do not say what they request.
The notebook and the training jobs get the workspace's S3 credentials as the AWS
SDKs' environment variables, and where the store is as TensorFlow's S3 file system
reads it; InferenceServices read them through their ServiceAccount, as KServe's
storage initializer does.
"""

from function.blocks.helm import helm_release
from function.blocks.immutable import refuse_change, refuse_lowering
from function.blocks.lifecycle import kept
from function.blocks.storage import storage_class
from function.kinds.mlopsplatform.model import PodResources, ServedModel, TrainingJob
from function.kinds.mlopsplatform.quota import refuse_storage_past_quota
from function.kinds.mlopsplatform.storage import (
    KEY_ID_ENV,
    KEY_SECRET_ENV,
    SERVING_ACCOUNT_NAME,
    STORAGE_SECRET_NAME,
    MLOpsContext,
    endpoint,
)
from function.observed import digits, integer, text
from function.secrets import connection_secret, stable_password
from function.structs import JSON

KUBEFLOW_API = "kubeflow.org/v1"
KSERVE_API = "serving.kserve.io/v1beta1"
CRDS = (
    "crds/kubeflow/kubeflow.org_profiles.yaml",
    "crds/kubeflow/kubeflow.org_notebooks.yaml",
    "crds/kubeflow/kubeflow.org_tfjobs.yaml",
    "crds/kserve/serving.kserve.io_inferenceservices.yaml",
)
GPU = "nvidia.com/gpu"

NOTEBOOK = "notebook"
NOTEBOOK_NAME = "notebook"
# The notebook's files: a claim named and mounted as Kubeflow's notebook UI makes one
# (kubeflow/kubeflow components/crud-web-apps/jupyter, spawner_ui_config.yaml
# workspaceVolume: "{notebook-name}-workspace" at /home/jovyan, ReadWriteOnce).
WORKSPACE = "notebook-workspace"
WORKSPACE_NAME = f"{NOTEBOOK_NAME}-workspace"
WORKSPACE_MOUNT = "/home/jovyan"
WORKSPACE_WHY = "a PersistentVolumeClaim cannot shrink; copy the files to a new workspace"
# The profile controller creates this ServiceAccount in every profile namespace; the
# Kubeflow notebook web app runs notebooks as it (kubeflow/dashboard profile-controller).
NOTEBOOK_ACCOUNT = "default-editor"
VECTOR_DB = "vector-db"
VECTOR_DB_SECRET = "vector-db-secret"
QDRANT_NAME = "qdrant"
QDRANT_SECRET_NAME = "qdrant-api-key"
QDRANT_KEY = "api-key"
QDRANT_HTTP_PORT = 6333
STORAGE_WHY = "Qdrant's volumes are StatefulSet volume templates, which cannot be resized"
# Qdrant keeps one replica of each shard unless a collection says otherwise (qdrant
# v1.19 config/config.yaml storage.collection.replication_factor: 1).
REPLICAS_WHY = (
    "Qdrant keeps one replica of each shard by default (replication_factor 1), so the shards "
    "of the servers removed become unavailable; move them off first (Qdrant's shard "
    "replication API), then create a smaller workspace"
)


def model_resource(name: str) -> str:
    return f"model-{name}"


def training_resource(name: str) -> str:
    return f"training-{name}"


def pod_resources(cpu: str, memory: str, gpu: int) -> JSON:
    """Requests for the quota; memory and GPUs also as limits (GPUs must be, to be given)."""
    requests: JSON = {"cpu": cpu, "memory": memory}
    limits: JSON = {"memory": memory}
    if gpu:
        requests[GPU] = limits[GPU] = gpu
    return {"requests": requests, "limits": limits}


def _of(res: PodResources) -> JSON:
    return pod_resources(res.cpu, res.memory, res.gpu)


def storage_env(ctx: MLOpsContext, bucket: str) -> list[JSON]:
    """The workspace's bucket and credentials as the AWS SDKs' environment variables, and
    the store as TensorFlow's S3 file system reads it.

    tensorflow/io v0.37 tensorflow_io/core/filesystems/s3/s3_filesystem.cc reads
    S3_ENDPOINT (handed to the S3 client as the endpoint, scheme included) and
    S3_VERIFY_SSL; TensorFlow's own file system before it (tensorflow/core/platform/s3/
    s3_file_system.cc) also AWS_REGION and S3_USE_HTTPS, the scheme of a bare host.
    """
    where = endpoint(ctx.settings.objectStore)

    def from_secret(name: str) -> JSON:
        ref = {"name": STORAGE_SECRET_NAME, "key": name}
        return {"name": name, "valueFrom": {"secretKeyRef": ref}}

    return [
        from_secret(KEY_ID_ENV),
        from_secret(KEY_SECRET_ENV),
        {"name": "AWS_REGION", "value": ctx.settings.objectStore.region},
        {"name": "AWS_ENDPOINT_URL_S3", "value": where.url},
        {"name": "S3_ENDPOINT", "value": where.url},
        {"name": "S3_USE_HTTPS", "value": "1" if where.https else "0"},
        {"name": "S3_VERIFY_SSL", "value": "1"},
        {"name": "ML_ARTIFACTS_BUCKET", "value": bucket},
    ]


def notebook(ctx: MLOpsContext, namespace: str, bucket: str) -> JSON:
    """A Kubeflow Notebook (kubeflow/notebooks v1.11 notebook-controller), its workspace
    volume mounted where Kubeflow's notebook UI mounts it."""
    nb = ctx.params.notebooks
    container = {
        "name": NOTEBOOK_NAME,
        "image": nb.image or ctx.settings.notebookImage,
        "resources": pod_resources(nb.cpu, nb.memory, nb.gpu),
        "env": storage_env(ctx, bucket),
        "volumeMounts": [{"name": WORKSPACE_NAME, "mountPath": WORKSPACE_MOUNT}],
    }
    volume = {"name": WORKSPACE_NAME, "persistentVolumeClaim": {"claimName": WORKSPACE_NAME}}
    return {
        "apiVersion": KUBEFLOW_API,
        "kind": "Notebook",
        "metadata": {"name": NOTEBOOK_NAME, "namespace": namespace},
        "spec": {
            "template": {
                "spec": {
                    "serviceAccountName": NOTEBOOK_ACCOUNT,
                    "containers": [container],
                    "volumes": [volume],
                }
            }
        },
    }


def notebook_workspace(ctx: MLOpsContext, namespace: str) -> JSON | None:
    """The notebook's workspace claim, so the user's files outlive the pod (restarts,
    drains, culling): composed while notebooks are on, never smaller than observed, and
    kept once composed (turning notebooks off stops the server, not its files)."""
    observed = ctx.observed.get(WORKSPACE)
    # The composer writes <n>Gi; anything else was not written by it and is not judged.
    was = text(observed, "spec", "resources", "requests", "storage")
    was_gb = digits((was or "").removesuffix("Gi"))
    if not ctx.params.notebooks.enabled:
        if observed is None:
            return None
        refuse_storage_past_quota(ctx.params, {"notebooks.workspaceGB (kept)": (was_gb or 0,)})
        return kept(observed, "metadata", "spec")
    size = ctx.params.notebooks.workspaceGB
    refuse_lowering("notebooks.workspaceGB", was_gb, size, WORKSPACE_WHY)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": WORKSPACE_NAME, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{size}Gi"}},
        }
        | storage_class("storageClassName", ctx.settings.notebookStorageClass),
    }


def notebook_path(namespace: str) -> str:
    """Where the dashboard serves it: the controller's VirtualService prefix
    /notebook/<namespace>/<name>/ (notebook-controller, generateVirtualService)."""
    return f"/notebook/{namespace}/{NOTEBOOK_NAME}/"


def inference_service(namespace: str, model: ServedModel) -> JSON:
    """A KServe InferenceService (v1beta1) of one model, read with the workspace's key."""
    return {
        "apiVersion": KSERVE_API,
        "kind": "InferenceService",
        "metadata": {"name": model.name, "namespace": namespace},
        "spec": {
            "predictor": {
                "serviceAccountName": SERVING_ACCOUNT_NAME,
                "minReplicas": model.minReplicas,
                "maxReplicas": model.maxReplicas,
                "model": {
                    "modelFormat": {"name": model.modelFormat},
                    "storageUri": model.storageUri,
                    "resources": _of(model.resources),
                },
            }
        },
    }


def tf_job(ctx: MLOpsContext, namespace: str, bucket: str, job: TrainingJob) -> JSON:
    """A TFJob (kubeflow/trainer v1.9 training-operator): workers, and parameter servers."""

    def replicas(count: int, res: PodResources) -> JSON:
        container = {
            # The operator finds the TensorFlow container by this name (and sets TF_CONFIG).
            "name": "tensorflow",
            "image": job.image,
            "resources": _of(res),
            "env": storage_env(ctx, bucket),
        }
        return {
            "replicas": count,
            "restartPolicy": "OnFailure",
            "template": {
                # An Istio sidecar never exits, so the pod would never complete
                # (the training operator's docs for Kubeflow with Istio).
                "metadata": {"annotations": {"sidecar.istio.io/inject": "false"}},
                "spec": {"containers": [container]},
            },
        }

    specs = {"Worker": replicas(job.workers, job.resources)}
    if job.parameterServers:
        specs["PS"] = replicas(job.parameterServers, job.parameterServerResources)
    return {
        "apiVersion": KUBEFLOW_API,
        "kind": "TFJob",
        "metadata": {"name": job.name, "namespace": namespace},
        "spec": {"tfReplicaSpecs": specs},
    }


def vector_database(ctx: MLOpsContext, namespace: str) -> dict[str, JSON]:
    """Qdrant (chart qdrant 1.19.0) with persistence and an API key from a composed Secret.

    The key is generated once and kept in the Secret; provider-helm sets the chart's
    apiKey from it at install (forProvider.set valueFrom), so it is not in the
    Release. The chart's own secret.yaml then writes it into Qdrant's config.
    """
    db, settings = ctx.params.vectorDatabase, ctx.settings.vectorDatabase
    size = f"{db.storageGB}Gi"
    # The composer writes <n>Gi; anything else was not written by it and is not judged.
    was = text(ctx.observed.get(VECTOR_DB), "spec", "forProvider", "values", "persistence", "size")
    was_gb = digits((was or "").removesuffix("Gi"))
    if was_gb is not None:
        refuse_change("vectorDatabase.storageGB", was_gb, db.storageGB, STORAGE_WHY)
    was_replicas = integer(
        ctx.observed.get(VECTOR_DB), "spec", "forProvider", "values", "replicaCount"
    )
    refuse_lowering("vectorDatabase.replicas", was_replicas, db.replicas, REPLICAS_WHY)
    key = stable_password(ctx, VECTOR_DB_SECRET, QDRANT_KEY)
    values: JSON = {
        "fullnameOverride": QDRANT_NAME,
        "replicaCount": db.replicas,
        "persistence": {"size": size} | storage_class("storageClassName", settings.storageClass),
        "resources": pod_resources(settings.cpu, settings.memory, 0),
        # The chart's chown init container has no resources field, and the namespace's
        # quota refuses such pods; fsGroup (podSecurityContext) already gives the volume
        # to Qdrant's group.
        "updateVolumeFsOwnership": False,
    }
    release = helm_release(
        QDRANT_NAME,
        settings.chart,
        namespace,
        values,
        settings.providerConfigRef,
        wait_timeout=settings.waitTimeout,
        secret_values={"apiKey": (QDRANT_SECRET_NAME, QDRANT_KEY)},
        object_namespace=namespace,
    )
    secret = connection_secret(
        ctx,
        QDRANT_SECRET_NAME,
        {QDRANT_KEY: key, "url": vector_database_endpoint(namespace)},
        namespace=namespace,
    )
    return {VECTOR_DB_SECRET: secret, VECTOR_DB: release}


def vector_database_endpoint(namespace: str) -> str:
    """Qdrant's HTTP API: the chart's Service <fullname> on port 6333."""
    return f"http://{QDRANT_NAME}.{namespace}.svc:{QDRANT_HTTP_PORT}"
