"""When what a VClusterEnvironment composes is ready.

Helm releases when deployed, ProviderConfigs and Usages once they exist;
provider-kubernetes Objects by what they place. provider-kubernetes v1.2.1 keeps
the object it last read back in status.atProvider.manifest
($SHARED/crds/provider-kubernetes/kubernetes.m.crossplane.io_objects.yaml), so an
Argo CD Application is ready when Argo CD reports it there Synced and Healthy
(argo-cd v3.5.1 pkg/apis/application/v1alpha1/types.go, SyncStatusCodeSynced and
health.HealthStatusHealthy): only then has Argo CD reached the vCluster through
the registered cluster and deployed the repository. Argo CD v3.5.1 keeps a
cluster's connection state in its cache, not on the cluster Secret, so the
Application is where the connection shows. Any other Object (the cluster Secret,
the KnativeServing, whose readiness policy copies its own Ready) by its Ready
condition.
"""

from function import readiness
from function.blocks import helm, kubernetes, usage
from function.blocks.kubernetes import KUBERNETES_GROUP, observed_manifest
from function.observed import mapping, text
from function.readiness import Readiness
from function.structs import JSON, api_group

APPLICATION_GROUP = "argoproj.io"


def application_ready(manifest: JSON) -> bool:
    """An Argo CD Application that Argo CD reports Synced and Healthy."""
    return (
        text(manifest, "status", "sync", "status") == "Synced"
        and text(manifest, "status", "health", "status") == "Healthy"
    )


def object_ready(obj: JSON) -> bool:
    """An Object applied (Ready) and, for an Application, synced and healthy as observed."""
    if not readiness.ready_condition(obj):
        return False
    placed = mapping(obj, "spec", "forProvider", "manifest") or {}
    if (api_group(str(placed.get("apiVersion", ""))), placed.get("kind")) == (
        APPLICATION_GROUP,
        "Application",
    ):
        return application_ready(observed_manifest(obj) or {})
    return True


READINESS = Readiness.of(
    helm.READINESS,
    kubernetes.READINESS,
    usage.READINESS,
    {(KUBERNETES_GROUP, "Object"): object_ready},
)
