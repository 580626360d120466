"""MLOpsPlatform: a Kubeflow Profile and everything a data-science team needs, wired.

Order of things on a cluster:
1. The Profile, and the bucket with its IAM user, policy, attachment and access key
   (in the platform's namespace) are composed at once.
2. The Kubeflow profile controller creates the workspace namespace. Everything in
   it waits for that namespace (a required resource): created earlier, Crossplane's
   apply would fail, and a Helm release would create the namespace itself, which the
   profile controller then refuses to own.
3. The credentials Secrets, and the workloads that mount them, wait for the access
   key's connection details. Once composed, nothing is dropped because an input went
   missing for a moment (function/blocks/lifecycle.py); only the user's toggles and
   lists remove things.
"""

from function.blocks.lifecycle import compose_once_input_exists, kept
from function.blocks.usage import deletion_order
from function.context import Desired, Selector, WarningResult
from function.kinds.mlopsplatform import storage, workloads
from function.kinds.mlopsplatform.model import MLOpsPlatformStatus, ModelStatus, TrainingJobStatus
from function.kinds.mlopsplatform.readiness import notebook_ready, training_phase
from function.kinds.mlopsplatform.storage import MLOpsContext
from function.naming import DNS_LABEL_MAX
from function.observed import text
from function.readiness import ready_condition
from function.refusal import Refusal
from function.structs import JSON

PROFILE = "profile"
WORKSPACE_NAMESPACE = "workspace-namespace"  # required resource key


def workspace_name(ctx: MLOpsContext) -> str:
    """The Profile's name, which is the namespace it creates: the XR's name."""
    name = ctx.xr.name
    if len(name) > DNS_LABEL_MAX or "." in name:
        raise Refusal(
            f"metadata.name {name!r} must be a DNS label (at most {DNS_LABEL_MAX} characters, "
            "no dots): it is the workspace namespace's name"
        )
    return name


def profile(ctx: MLOpsContext, name: str) -> JSON:
    """A Kubeflow Profile (kubeflow/dashboard v2.0.0 profile-controller, kubeflow.org/v1):
    the owner administers the namespace it creates; the quota caps what its pods request."""
    quota = ctx.params.resources
    hard = {
        "requests.cpu": quota.cpu,
        "requests.memory": quota.memory,
        f"requests.{workloads.GPU}": str(quota.gpu),
        "requests.storage": quota.storage,
    }
    return {
        "apiVersion": workloads.KUBEFLOW_API,
        "kind": "Profile",
        "metadata": {"name": name},
        "spec": {
            "owner": {"kind": "User", "name": ctx.params.owner},
            "resourceQuotaSpec": {"hard": hard},
        },
    }


def compose(ctx: MLOpsContext) -> Desired:
    """Compose the workspace, its bucket and credentials, and what the parameters turn on."""
    ws = workspace_name(ctx)
    bucket = storage.bucket_name(ctx)
    desired = Desired(resources={PROFILE: profile(ctx, ws)})
    desired.resources.update(storage.cloud_objects(ctx, bucket))

    desired.require(WORKSPACE_NAMESPACE, Selector("v1", "Namespace", ws, ""))
    namespace = ctx.found(WORKSPACE_NAMESPACE)
    key, key_warnings = storage.access_key(ctx)
    desired.warnings.extend(key_warnings)
    in_workspace = _in_workspace(ctx, ws, bucket)
    needs_key = _needs_key(ctx, ws, bucket, key)
    for name, obj in in_workspace.items():
        if compose_once_input_exists(namespace is not None, ctx.observed, [name]):
            desired.resources[name] = obj
    have_key = namespace is not None and key is not None
    for name, maybe in needs_key.items():
        composed = ctx.observed.get(name)
        # A credentials Secret composed before, its key unknown now: kept as it is.
        wanted = kept(composed, "metadata", "type", "data") if maybe is None and composed else maybe
        if wanted is not None and compose_once_input_exists(have_key, ctx.observed, [name]):
            desired.resources[name] = wanted

    if namespace is None and not any(n in ctx.observed for n in (*in_workspace, *needs_key)):
        desired.warnings.append(
            WarningResult(
                f"waiting for the Kubeflow profile controller to create namespace {ws!r} "
                "before composing what goes into it",
                reason="WaitingForNamespace",
            )
        )
    elif key is None:
        desired.warnings.append(
            WarningResult(
                "waiting for the access key's connection details before writing the "
                "workspace's credentials and starting the workloads that use them",
                reason="WaitingForAccessKey",
            )
        )
    deletion_order(desired.resources, _deletion_order(ctx))
    desired.status = _status(ctx, ws, bucket, namespace is not None)
    return desired


def _in_workspace(ctx: MLOpsContext, ws: str, bucket: str) -> dict[str, JSON]:
    """Objects of the workspace namespace that need only the namespace."""
    out: dict[str, JSON] = {storage.SERVING_ACCOUNT: storage.serving_account(ws)}
    if ctx.params.pipelines.enabled:
        out[storage.PIPELINES_CONFIG] = storage.pipelines_config(ctx, ws, bucket)
    if ctx.params.vectorDatabase.enabled:
        out.update(workloads.vector_database(ctx, ws))
    workspace = workloads.notebook_workspace(ctx, ws)
    if workspace is not None:
        out[workloads.WORKSPACE] = workspace
    return out


def _needs_key(
    ctx: MLOpsContext, ws: str, bucket: str, key: storage.AccessKey | None
) -> dict[str, JSON | None]:
    """Objects that hold or mount the access key (the Secrets: None until it is known)."""
    out: dict[str, JSON | None] = {
        storage.STORAGE_SECRET: storage.storage_secret(ctx, ws, key) if key else None
    }
    if ctx.params.pipelines.enabled:
        out[storage.PIPELINES_SECRET] = storage.pipelines_secret(ctx, ws, key) if key else None
    if ctx.params.notebooks.enabled:
        out[workloads.NOTEBOOK] = workloads.notebook(ctx, ws, bucket)
    for model in ctx.params.serving:
        out[workloads.model_resource(model.name)] = workloads.inference_service(ws, model)
    for job in ctx.params.training:
        out[workloads.training_resource(job.name)] = workloads.tf_job(ctx, ws, bucket, job)
    return out


def _deletion_order(ctx: MLOpsContext) -> list[tuple[str, str]]:
    """(by, of): of is deleted only after by (pairs of which one side is not composed are
    left out by the Usage block).

    The access key and the policy attachment go before the IAM user (AWS refuses to
    delete a user that still has keys or policies), the attachment before the policy,
    and every workload before the credentials and ServiceAccount it mounts.
    """
    pairs = [
        (storage.ACCESS_KEY, storage.USER),
        (storage.ATTACHMENT, storage.USER),
        (storage.ATTACHMENT, storage.POLICY),
        (workloads.VECTOR_DB, workloads.VECTOR_DB_SECRET),
        (workloads.NOTEBOOK, storage.STORAGE_SECRET),
    ]
    for model in ctx.params.serving:
        name = workloads.model_resource(model.name)
        pairs += [(name, storage.STORAGE_SECRET), (name, storage.SERVING_ACCOUNT)]
    for job in ctx.params.training:
        pairs.append((workloads.training_resource(job.name), storage.STORAGE_SECRET))
    return pairs


def _status(ctx: MLOpsContext, ws: str, bucket: str, namespace_exists: bool) -> MLOpsPlatformStatus:
    observed = ctx.observed
    db_ready = ctx.params.vectorDatabase.enabled and observed.ready(workloads.VECTOR_DB)
    nb = observed.get(workloads.NOTEBOOK)
    nb_url = None
    if ctx.params.notebooks.enabled and nb is not None and notebook_ready(nb):
        nb_url = (ctx.settings.dashboardURL or "") + workloads.notebook_path(ws)
    models = []
    for model in ctx.params.serving:
        isvc = observed.get(workloads.model_resource(model.name))
        ready = isvc is not None and ready_condition(isvc)
        models.append(ModelStatus(name=model.name, ready=ready, url=text(isvc, "status", "url")))
    jobs = [
        TrainingJobStatus(
            name=job.name,
            phase=training_phase(observed.get(workloads.training_resource(job.name))),
        )
        for job in ctx.params.training
    ]
    has_secret = storage.STORAGE_SECRET in observed
    return MLOpsPlatformStatus(
        namespace=ws if namespace_exists else None,
        bucket=bucket if observed.ready(storage.BUCKET) else None,
        connectionSecret=storage.STORAGE_SECRET_NAME if has_secret else None,
        vectorDatabaseEndpoint=workloads.vector_database_endpoint(ws) if db_ready else None,
        vectorDatabaseSecret=workloads.QDRANT_SECRET_NAME if db_ready else None,
        notebookURL=nb_url,
        models=models,
        trainingJobs=jobs,
    )
