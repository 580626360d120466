"""The governance labels of the workspace namespace: its environment and its team.

The namespace is the Kubeflow profile controller's (kubeflow/dashboard v2.0.0
components/profile-controller/controllers/profile_controller.go): it creates it with
the Profile as controller owner and its own labels (the default-labels file, Istio's),
never copies the Profile's, and later only adds its default labels that are missing,
keeping every other. The function cannot compose the Namespace (two controllers would
own it), so a provider-kubernetes v1.2.1 Object updates it:

- managementPolicies Observe and Update: never Create, never Delete. A deleted managed
  resource without Delete only loses its finalizer (crossplane-runtime v2.0.0-rc.1, which
  v1.2.1 builds on, pkg/reconciler/managed/reconciler.go), so deleting the Object leaves
  the namespace, its labels and the Profile as they are.
- Update applies a manifest naming the namespace and the two labels only. By default it
  is a JSON merge patch of the manifest (provider-kubernetes v1.2.1
  internal/controller/namespaced/object/syncer.go PatchingResourceSyncer, through
  crossplane-runtime pkg/resource/api.go APIPatchingApplicator): it sets the keys it
  names, keeps every other label and annotation, and records the manifest in the
  kubectl.kubernetes.io/last-applied-configuration annotation it compares the next
  manifest with. With the provider's --enable-server-side-apply it is a server-side apply
  as field manager provider-kubernetes/<Object name> (SSAResourceSyncer), which owns these
  two labels and nothing else. Neither replaces the Namespace.
- Update of an object that does not exist creates it: the reconciler calls Update when
  the object is missing and Create is not allowed, and both syncers create on apply. So
  the Object is composed only while the namespace exists, is the Profile's and is not
  being deleted, and it lives in that namespace: the namespace controller deletes what a
  namespace holds before the namespace goes, and refuses new objects in a namespace being
  deleted, so the Object never outlives the namespace to make one the Profile would then
  refuse to take over.
"""

from function.blocks.kubernetes import ManagementAction, kubernetes_object
from function.kinds.mlopsplatform.model import MLOpsPlatformParameters
from function.kinds.mlopsplatform.storage import MLOpsContext
from function.model import ENVIRONMENT_LABEL, TEAM_LABEL
from function.observed import text
from function.structs import JSON

NAMESPACE_LABELS = "namespace-labels"
MANAGEMENT: tuple[ManagementAction, ...] = ("Observe", "Update")


def governance_labels(params: MLOpsPlatformParameters) -> dict[str, str]:
    """The labels policies select the workspace by."""
    return {ENVIRONMENT_LABEL: params.environment, TEAM_LABEL: params.team}


def being_deleted(namespace: JSON) -> bool:
    return text(namespace, "metadata", "deletionTimestamp") is not None


def namespace_labels(ctx: MLOpsContext, namespace: str) -> JSON:
    """The Object updating the workspace namespace's governance labels, in that namespace."""
    manifest = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": governance_labels(ctx.params)},
    }
    return kubernetes_object(
        manifest,
        ctx.settings.namespaceLabels.providerConfigRef,
        namespace=namespace,
        management=MANAGEMENT,
    )
