"""KubernetesCluster: a Cluster API cluster of KubeVirt machines, its add-ons and its status."""

from function.blocks.usage import deletion_order
from function.context import Desired, Selector
from function.kinds.kubernetescluster import ccm, vault
from function.kinds.kubernetescluster.addons import (
    HELM_PROVIDER_CONFIG,
    KUBECONFIG_KEY,
    RELEASES,
    add_ons,
)
from function.kinds.kubernetescluster.clusterapi import (
    CLUSTER,
    ClusterContext,
    cluster_api_objects,
    cluster_name,
)
from function.kinds.kubernetescluster.model import KubernetesClusterStatus
from function.kinds.kubernetescluster.readiness import READINESS
from function.kinds.kubernetescluster.sizing import resolve_size
from function.structs import JSON, dig

KUBECONFIG = "kubeconfig"  # required resource key

# (by, of): of is deleted only after by. The releases uninstall through the
# ProviderConfig; it and the cloud controller manager need the kubeconfig Secret,
# which goes with the Cluster API Cluster.
DELETION_ORDER = [(release, HELM_PROVIDER_CONFIG) for release in RELEASES] + [
    (HELM_PROVIDER_CONFIG, CLUSTER),
    (ccm.DEPLOYMENT, CLUSTER),
]


def compose(ctx: ClusterContext) -> Desired:
    """Compose a Cluster API cluster on KubeVirt, and its add-ons once it has a kubeconfig."""
    name = cluster_name(ctx.xr.name)
    resources = cluster_api_objects(ctx, name, resolve_size(ctx.params, ctx.settings))
    secret_name = f"{name}-kubeconfig"
    kubeconfig = ctx.require(
        KUBECONFIG, Selector("v1", "Secret", name=secret_name, namespace=ctx.xr.namespace)
    )
    resources.update(add_ons(ctx, name, kubeconfig, secret_name))
    resources.update(
        ccm.cloud_controller_manager(ctx, name, kubeconfig is not None, secret_name, KUBECONFIG_KEY)
    )
    deletion_order(resources, DELETION_ORDER)
    return Desired(
        resources=resources,
        status=_status(ctx, kubeconfig, secret_name),
        vault=vault.intents(ctx, kubeconfig, secret_name),
    )


def _status(
    ctx: ClusterContext, kubeconfig: JSON | None, secret_name: str
) -> KubernetesClusterStatus:
    cluster = ctx.observed.get(CLUSTER)
    endpoint = dig(cluster, "spec", "controlPlaneEndpoint") or {}
    host, port = endpoint.get("host"), endpoint.get("port")
    secret = secret_name if kubeconfig is not None else None
    return KubernetesClusterStatus(
        clusterEndpoint=f"https://{host}:{port}" if host and port else None,
        clusterReady=READINESS.is_ready(cluster) if cluster is not None else None,
        kubeconfigSecret=secret,
        connectionSecret=secret,
        readyControlPlaneNodes=dig(cluster, "status", "controlPlane", "readyReplicas"),
        readyWorkerNodes=dig(cluster, "status", "workers", "readyReplicas"),
    )
