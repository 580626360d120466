"""MLOpsPlatform: a Kubeflow workspace with its bucket, vector database, notebook, models, jobs.

Cluster-scoped: the workspace is a Kubeflow Profile, which is cluster-scoped and
creates the namespace everything else goes into, so there is no namespace the XR
could live in before it exists.
"""

from typing import Any, Literal

from pydantic import Field

from function.formats import DNS_1035_LABEL, EMAIL_PATTERN, S3_BUCKET_PATTERN, STORAGE_URI_PATTERN
from function.kinds.mlopsplatform.quota import (
    STORAGE_MESSAGE,
    gpu_shortfall,
    gpus_fit,
    part,
    storage_fits,
    storage_shortfall,
)
from function.model import (
    DOMAIN,
    ENVIRONMENT_FIELD,
    TEAM_FIELD,
    CompositeAPI,
    CompositeStatus,
    Environment,
    Parameters,
    PrinterColumn,
    Rule,
    StatusModel,
    StrictModel,
    Team,
    immutable,
    never_lower,
    section,
)
from function.quantity import Quantity

# Bounds on the lists keep the XRD's CEL rules within the API server's cost budget.
MAX_MODELS = 16
MAX_JOBS = 16
# Room for the names KServe and the training operator derive: <name>-predictor-<n>,
# <name>-worker-<n> (DNS labels of at most 63).
WORKLOAD_NAME_MAX = 40
GPU_MAX = 64
# Kubeflow's notebook UI gives a new notebook a 5Gi workspace volume (kubeflow/kubeflow
# components/crud-web-apps/jupyter/manifests/base/configs/spawner_ui_config.yaml,
# workspaceVolume.newPvc).
WORKSPACE_GB = 5


def _gpu(default: int = 0, what: str = "GPUs (nvidia.com/gpu) of each pod.") -> Any:
    return Field(default=default, ge=0, le=GPU_MAX, description=what)


class WorkspaceResources(StrictModel):
    """The workspace's quota: what all its pods may request together."""

    cpu: Quantity = Field(default="16", description="CPU requests of all pods together.")
    memory: Quantity = Field(default="64Gi", description="Memory requests of all pods together.")
    gpu: int = _gpu(0, "GPUs (nvidia.com/gpu) all pods may request together.")
    storage: Quantity = Field(
        default="500Gi", description="Storage all PersistentVolumeClaims may request together."
    )


class ObjectStore(StrictModel):
    """The workspace's artifact bucket."""

    bucketName: str | None = Field(
        default=None,
        pattern=S3_BUCKET_PATTERN,
        description="Bucket name, unique in the object store; unset: <name>-ml-artifacts. "
        "Cannot change (a new name is a new, empty bucket).",
        json_schema_extra=immutable("a new name is a new, empty bucket; copy the objects instead"),
    )
    retention: Literal["Retain", "Delete"] = Field(
        default="Retain",
        description="What deleting the workspace does to the bucket: Retain keeps it and its "
        "objects; Delete deletes it, which the object store refuses while it holds objects.",
    )


class VectorDatabase(StrictModel):
    """Qdrant in the workspace namespace, with an API key."""

    enabled: bool = Field(default=True, description="Install Qdrant.")
    storageGB: int = Field(
        default=10,
        ge=1,
        le=4096,
        description="Volume of each Qdrant server, in GiB. Cannot change (StatefulSet volume "
        "templates).",
        json_schema_extra=immutable("StatefulSet volume templates cannot be resized"),
    )
    replicas: int = Field(
        default=1,
        ge=1,
        le=7,
        description="Qdrant servers (a cluster). Cannot be lowered: a collection keeps one "
        "replica of each shard unless told otherwise, and a removed server's shards are lost.",
        json_schema_extra=never_lower(
            "Qdrant keeps one replica of each shard by default (replication_factor 1), so the "
            "removed servers' shards become unavailable"
        ),
    )


class Pipelines(StrictModel):
    """Kubeflow Pipelines wiring: artifacts go to the workspace's bucket."""

    enabled: bool = Field(default=True, description="Wire Kubeflow Pipelines to the bucket.")


class Notebooks(StrictModel):
    """A Jupyter notebook server for the owner."""

    enabled: bool = Field(default=False, description="Start a notebook server.")
    image: str | None = Field(
        default=None,
        min_length=1,
        description="Notebook image, pinned; unset: the platform's default image.",
    )
    cpu: Quantity = Field(default="1", description="CPU request of the notebook server.")
    memory: Quantity = Field(default="4Gi", description="Memory request (and limit).")
    gpu: int = _gpu(0, "GPUs (nvidia.com/gpu) of the notebook server.")
    workspaceGB: int = Field(
        default=WORKSPACE_GB,
        ge=1,
        le=4096,
        description="The notebook's workspace volume (<name>-workspace, mounted at "
        "/home/jovyan), in GiB: the user's files outlive restarts. Can grow where the storage "
        "class allows expansion; cannot shrink.",
        json_schema_extra=never_lower("a PersistentVolumeClaim cannot shrink"),
    )


class PodResources(StrictModel):
    """What each pod of a workload requests."""

    cpu: Quantity = Field(default="1", description="CPU request.")
    memory: Quantity = Field(default="2Gi", description="Memory request (and limit).")
    gpu: int = _gpu()


ModelFormat = Literal[
    "sklearn", "xgboost", "lightgbm", "tensorflow", "pytorch", "onnx", "triton", "huggingface"
]


class ServedModel(StrictModel):
    """A model served by KServe: one InferenceService."""

    name: str = Field(
        pattern=DNS_1035_LABEL,
        max_length=WORKLOAD_NAME_MAX,
        description="InferenceService name, unique in the workspace.",
    )
    storageUri: str = Field(
        pattern=STORAGE_URI_PATTERN,
        max_length=1024,
        description="Where the model is: s3://<bucket>/<path> (read with the workspace's "
        "credentials), gs://, pvc:// or https://.",
    )
    modelFormat: ModelFormat = Field(description="The model's format; picks the serving runtime.")
    minReplicas: int = Field(default=1, ge=0, le=100, description="0 scales to zero when idle.")
    maxReplicas: int = Field(default=1, ge=1, le=100, description="At least minReplicas.")
    resources: PodResources = section(PodResources)


class TrainingJob(StrictModel):
    """A distributed TensorFlow training job: one TFJob."""

    name: str = Field(
        pattern=DNS_1035_LABEL,
        max_length=WORKLOAD_NAME_MAX,
        description="TFJob name, unique in the workspace.",
    )
    image: str = Field(min_length=1, description="Training image, pinned.")
    workers: int = Field(default=1, ge=1, le=64, description="Worker replicas.")
    parameterServers: int = Field(default=0, ge=0, le=16, description="Parameter servers.")
    resources: PodResources = section(PodResources, "What each worker requests.")
    parameterServerResources: PodResources = section(
        PodResources, "What each parameter server requests: no GPU unless set."
    )


def unique_names(items: Any) -> bool:
    names = [part(i, "name") for i in items or ()]
    return len(names) == len(set(names))


def _gpus_fit(p: Any) -> bool:
    quota = part(p.resources, "gpu")
    if not isinstance(quota, int):
        return True
    wants = [part(part(m, "resources"), "gpu") for m in (p.serving or ())]
    for j in p.training or ():
        wants += [
            part(part(j, "resources"), "gpu"),
            part(part(j, "parameterServerResources"), "gpu"),
        ]
    if part(p.notebooks, "enabled"):
        wants.append(part(p.notebooks, "gpu"))
    return all(not isinstance(w, int) or w <= quota for w in wants)


def _replicas_ordered(models: Any) -> bool:
    for m in models or ():
        low, high = part(m, "minReplicas"), part(m, "maxReplicas")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            return False
    return True


class MLOpsPlatformParameters(Parameters):
    """spec.parameters of an MLOpsPlatform."""

    environment: Environment = ENVIRONMENT_FIELD
    team: Team = TEAM_FIELD
    owner: str = Field(
        pattern=EMAIL_PATTERN,
        max_length=254,
        description="The owner's email, as the cluster's identity provider names them: the "
        "Kubeflow Profile's owner, admin of the workspace namespace.",
    )
    resources: WorkspaceResources = section(WorkspaceResources)
    objectStore: ObjectStore = section(ObjectStore)
    vectorDatabase: VectorDatabase = section(VectorDatabase)
    pipelines: Pipelines = section(Pipelines)
    notebooks: Notebooks = section(Notebooks)
    serving: list[ServedModel] = Field(
        default=[], max_length=MAX_MODELS, description="Models to serve, one InferenceService each."
    )
    training: list[TrainingJob] = Field(
        default=[], max_length=MAX_JOBS, description="Training jobs, one TFJob each."
    )

    rules = (
        Rule(
            field="serving",
            cel="self.serving.all(m, self.serving.filter(n, n.name == m.name).size() == 1)",
            message="model names must be unique (each is an InferenceService name)",
            check=lambda p: unique_names(p.serving),
        ),
        Rule(
            field="serving",
            cel="self.serving.all(m, m.minReplicas <= m.maxReplicas)",
            message="each model's minReplicas must be at most its maxReplicas",
            check=lambda p: _replicas_ordered(p.serving),
        ),
        Rule(
            field="training",
            cel="self.training.all(j, self.training.filter(k, k.name == j.name).size() == 1)",
            message="training job names must be unique (each is a TFJob name)",
            check=lambda p: unique_names(p.training),
        ),
        Rule(
            field="resources",
            cel="self.serving.all(m, m.resources.gpu <= self.resources.gpu) && "
            "self.training.all(j, j.resources.gpu <= self.resources.gpu) && "
            "self.training.all(j, j.parameterServerResources.gpu <= self.resources.gpu) && "
            "(!self.notebooks.enabled || self.notebooks.gpu <= self.resources.gpu)",
            message="gpu must hold every pod's GPUs: a notebook, model or training pod asking "
            "for more than the workspace quota is never scheduled",
            check=_gpus_fit,
        ),
        Rule(
            field="resources",
            cel="(self.notebooks.enabled ? self.notebooks.gpu : 0) + "
            "self.serving.map(m, m.minReplicas * m.resources.gpu).sum() + "
            "self.training.map(j, j.workers * j.resources.gpu + "
            "j.parameterServers * j.parameterServerResources.gpu).sum() <= self.resources.gpu",
            message="gpu must hold the GPUs of everything that runs at once (the notebook, "
            "each model's minReplicas, every worker and parameter server of every training "
            "job): the quota admits pods one by one, so a training job that does not fit whole "
            "holds GPUs while waiting forever",
            check=gpus_fit,
            offenders=gpu_shortfall,
        ),
        Rule(
            field="resources",
            cel="quantity(self.resources.storage).asApproximateFloat() >= 1073741824.0 * double("
            "(self.notebooks.enabled ? self.notebooks.workspaceGB : 0) + "
            "(self.vectorDatabase.enabled ? "
            "self.vectorDatabase.replicas * self.vectorDatabase.storageGB : 0))",
            message=STORAGE_MESSAGE,
            check=storage_fits,
            offenders=storage_shortfall,
        ),
    )


class ModelStatus(StatusModel):
    """A served model."""

    name: str = Field(description="InferenceService name.")
    ready: bool = Field(description="KServe reports it Ready.")
    url: str | None = Field(default=None, description="Where it answers.")


class TrainingJobStatus(StatusModel):
    """A training job."""

    name: str = Field(description="TFJob name.")
    phase: str | None = Field(
        default=None, description="Created, Running, Restarting, Succeeded or Failed."
    )


class MLOpsPlatformStatus(CompositeStatus):
    """status of an MLOpsPlatform. Names only: never a credential."""

    namespace: str | None = Field(default=None, description="The workspace namespace.")
    bucket: str | None = Field(default=None, description="The artifact bucket, once it exists.")
    vectorDatabaseEndpoint: str | None = Field(
        default=None, description="Qdrant's HTTP endpoint, once it is deployed."
    )
    vectorDatabaseSecret: str | None = Field(
        default=None, description="Secret in the workspace namespace with Qdrant's api-key."
    )
    notebookURL: str | None = Field(
        default=None, description="The notebook server, once it is ready."
    )
    models: list[ModelStatus] = Field(default=[], description="Each served model.")
    trainingJobs: list[TrainingJobStatus] = Field(default=[], description="Each training job.")


API = CompositeAPI(
    group=f"ml.{DOMAIN}",
    kind="MLOpsPlatform",
    plural="mlopsplatforms",
    parameters=MLOpsPlatformParameters,
    status=MLOpsPlatformStatus,
    description="A Kubeflow workspace for a data-science team: its namespace and quota, an "
    "artifact bucket with its own credentials wired into Pipelines, KServe, notebooks and "
    "training jobs, and a Qdrant vector database.",
    printer_columns=(
        PrinterColumn("Environment", ".spec.parameters.environment"),
        PrinterColumn("Team", ".spec.parameters.team"),
        PrinterColumn("Owner", ".spec.parameters.owner"),
        PrinterColumn("Namespace", ".status.namespace"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Bucket", ".status.bucket"),
    ),
    categories=("platform", "ml"),
    scope="Cluster",
)
