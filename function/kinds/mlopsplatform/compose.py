"""MLOpsPlatform: a Kubeflow Profile and everything a data-science team needs, wired.

Order of things on a cluster:
1. The Profile, and the bucket with its IAM user, policy, attachment and access key
   (in the platform's namespace) are composed at once.
2. The Kubeflow profile controller creates the workspace namespace. Everything in
   it waits for that namespace (a required resource): created earlier, Crossplane's
   apply would fail, and a Helm release would create the namespace itself, which the
   profile controller then refuses to own. A namespace that exists but is not the
   Profile's (another team's, or kubeflow itself) is never written into: the workspace
   is then its Profile alone, waiting, with a warning naming who owns the namespace.
   While the namespace is the Profile's, an Object sets its governance labels (labels.py).
3. The credentials Secrets, and the workloads that mount them, wait for the access
   key's connection details. Once composed, nothing is dropped because an input went
   missing for a moment (function/blocks/lifecycle.py); only the user's toggles and
   lists remove things, and the labels' Object goes with the namespace.
"""

from function.blocks.lifecycle import compose_once_input_exists, kept
from function.blocks.usage import deletion_order
from function.context import NAMESPACE, Desired, WarningResult
from function.kinds.mlopsplatform import labels, storage, workloads
from function.kinds.mlopsplatform.model import MLOpsPlatformStatus, ModelStatus, TrainingJobStatus
from function.kinds.mlopsplatform.readiness import notebook_ready, training_phase
from function.kinds.mlopsplatform.storage import MLOpsContext
from function.naming import DNS_LABEL_MAX
from function.observed import text
from function.readiness import ready_condition
from function.refusal import Refusal
from function.structs import JSON, api_group
from function.tenancy import rules_for

PROFILE = "profile"
WORKSPACE_NAMESPACE = "workspace-namespace"  # required resource key
BUCKET_HOLDERS = "bucket-holders"  # required resource key: Buckets holding the name
REQUIRES = (NAMESPACE, storage.BUCKET_KIND)


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


def controller_of(namespace: JSON) -> str:
    """Who controls the namespace: "Kind name" of its controller owner reference, or ""."""
    refs = (namespace.get("metadata") or {}).get("ownerReferences")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return f"{ref.get('kind')} {ref.get('name')}"
    return ""


def owned_by_profile(ctx: MLOpsContext, namespace: JSON, ws: str) -> bool:
    """Whether the workspace's Profile controls the namespace.

    The Kubeflow profile controller sets itself as the controller owner of the
    namespace it creates (kubeflow/dashboard v2.0.0 components/profile-controller/
    controllers/profile_controller.go, Reconcile: controllerutil.SetControllerReference
    on the new Namespace); a namespace that existed before, whoever it belongs to, has
    no such reference. When the Profile is observed its uid must match too, so a
    Profile deleted and made again by someone else does not count.
    """
    uid = text(ctx.observed.get(PROFILE), "metadata", "uid")
    refs = (namespace.get("metadata") or {}).get("ownerReferences")
    for ref in refs if isinstance(refs, list) else []:
        if not isinstance(ref, dict) or ref.get("controller") is not True:
            continue
        if (api_group(str(ref.get("apiVersion"))), ref.get("kind"), ref.get("name")) == (
            api_group(workloads.KUBEFLOW_API),
            "Profile",
            ws,
        ):
            return not uid or ref.get("uid") == uid
    return False


def compose(ctx: MLOpsContext) -> Desired:
    """Compose the workspace, its bucket and credentials, and what the parameters turn on."""
    ws = workspace_name(ctx)
    desired = Desired(resources={PROFILE: profile(ctx, ws)})
    desired.require(WORKSPACE_NAMESPACE, NAMESPACE.named(ws, ""))
    found = ctx.found(WORKSPACE_NAMESPACE)
    if found is not None and not owned_by_profile(ctx, found, ws):
        return _foreign_namespace(ctx, desired, ws, found)
    namespace = found
    # The workspace's namespace is its tenant: tenancy rules are per namespace, and this
    # is the namespace the workspace's people work in (docs/kinds/mlopsplatform.md).
    prefix = rules_for(ctx.platform.tenancy, ws).bucketPrefix
    bucket = storage.bucket_name(ctx, prefix)
    store = ctx.settings.objectStore
    desired.require(
        BUCKET_HOLDERS,
        storage.BUCKET_KIND.labelled({storage.BUCKET_LABEL: bucket}, store.namespace),
    )
    storage.refuse_taken(ctx, bucket, list(ctx.required.get(BUCKET_HOLDERS, [])))
    desired.resources.update(storage.cloud_objects(ctx, bucket, prefix))
    if storage.USER not in desired.resources:
        desired.warnings.append(
            WarningResult(
                "waiting for the permissions boundary policy's ARN before creating the "
                "workspace's IAM user",
                reason="WaitingForPermissionsBoundary",
            )
        )
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
    # Not kept once composed: the labels' Object must not outlive the namespace (labels.py).
    if namespace is not None and not labels.being_deleted(namespace):
        desired.resources[labels.NAMESPACE_LABELS] = labels.namespace_labels(ctx, ws)

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


def _foreign_namespace(ctx: MLOpsContext, desired: Desired, ws: str, found: JSON) -> Desired:
    """The namespace exists and is not the Profile's: the Profile alone (and what was
    composed before, as it is, but the labels' Object: the labels are not for another's
    namespace), waiting, with a warning naming the owner."""
    for name in ctx.observed.names():
        observed = ctx.observed.get(name)
        if name not in (PROFILE, labels.NAMESPACE_LABELS) and observed is not None:
            desired.resources[name] = kept(observed, *(k for k in observed if k != "status"))
    owner = controller_of(found) or "no Kubeflow Profile"
    desired.warnings.append(
        WarningResult(
            f"namespace {ws!r} already exists and is controlled by {owner}, not by this "
            f"workspace's Profile: nothing is composed into it; rename the workspace",
            reason="NamespaceNotOwned",
        )
    )
    desired.status = MLOpsPlatformStatus()
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
        (storage.USER, storage.BOUNDARY),
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
