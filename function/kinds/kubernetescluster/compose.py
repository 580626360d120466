"""KubernetesCluster: a Cluster API cluster of KubeVirt machines, its add-ons and its status."""

import re

from function.blocks.usage import deletion_order
from function.context import Desired, Selector
from function.kinds.kubernetescluster import capiversion, ccm, vault
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
from function.kinds.kubernetescluster.sizing import resolve_size
from function.observed import integer, text
from function.structs import JSON

KUBECONFIG = "kubeconfig"  # required resource key

# (by, of): of is deleted only after by. The releases uninstall through the
# ProviderConfig; it and the cloud controller manager need the kubeconfig Secret,
# which goes with the Cluster API Cluster.
# The cloud controller manager deletes the host-side Service of a workload LoadBalancer
# Service only when that Service is deleted while it runs (cloud-provider-kubevirt v0.6.0
# pkg/provider/loadbalancer.go, EnsureLoadBalancerDeleted; the host Service has no owner):
# it outlives the releases, whose uninstall deletes their Services, and keeps its RBAC,
# ServiceAccount and cloud config while it runs. It cannot outlive the Cluster: it reaches
# the workload cluster through the kubeconfig Secret, deleted with the Cluster.
DELETION_ORDER = (
    [(release, HELM_PROVIDER_CONFIG) for release in RELEASES]
    + [(release, ccm.DEPLOYMENT) for release in RELEASES]
    + [(ccm.DEPLOYMENT, needed) for needed in ccm.RESOURCES if needed != ccm.DEPLOYMENT]
    + [(HELM_PROVIDER_CONFIG, CLUSTER), (ccm.DEPLOYMENT, CLUSTER)]
)


def compose(ctx: ClusterContext) -> Desired:
    """Compose a Cluster API cluster on KubeVirt, and its add-ons once it has a kubeconfig."""
    name = cluster_name(ctx.xr.name)
    controller = ctx.settings.clusterAPIController
    capiversion.refuse_older(ctx.found(capiversion.REQUIREMENT), controller)
    resources = cluster_api_objects(ctx, name, resolve_size(ctx.params, ctx.settings))
    secret_name = f"{name}-kubeconfig"
    kubeconfig = ctx.found(KUBECONFIG)
    resources.update(add_ons(ctx, name, kubeconfig, secret_name))
    resources.update(
        ccm.cloud_controller_manager(ctx, name, kubeconfig is not None, secret_name, KUBECONFIG_KEY)
    )
    deletion_order(resources, DELETION_ORDER)
    return Desired(
        resources=resources,
        status=_status(ctx, kubeconfig, secret_name),
        vault=vault.intents(ctx, kubeconfig, secret_name),
        requirements={
            KUBECONFIG: Selector("v1", "Secret", name=secret_name, namespace=ctx.xr.namespace),
            capiversion.REQUIREMENT: capiversion.selector(controller),
        },
    )


def _status(
    ctx: ClusterContext, kubeconfig: JSON | None, secret_name: str
) -> KubernetesClusterStatus:
    """Status from the observed Cluster; a value of another shape than Cluster API's is left out."""
    cluster = ctx.observed.get(CLUSTER)
    host = text(cluster, "spec", "controlPlaneEndpoint", "host")
    port = integer(cluster, "spec", "controlPlaneEndpoint", "port", minimum=1, maximum=65535)
    endpoint = None
    if host is not None and _HOST.fullmatch(host) and port is not None:
        endpoint = f"https://{host}:{port}"
    secret = secret_name if kubeconfig is not None else None
    return KubernetesClusterStatus(
        clusterEndpoint=endpoint,
        clusterReady=ctx.observed.ready(CLUSTER) if cluster is not None else None,
        kubeconfigSecret=secret,
        connectionSecret=secret,
        readyControlPlaneNodes=_count(cluster, "status", "controlPlane", "readyReplicas"),
        readyWorkerNodes=_count(cluster, "status", "workers", "readyReplicas"),
    )


# A host name or IP address (IPv6 too) as in controlPlaneEndpoint.host (Cluster API: at most 512).
_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,512}")


def _count(cluster: JSON | None, *path: str) -> int | None:
    """A replica count as Cluster API writes it (int32), else None."""
    return integer(cluster, *path, minimum=0, maximum=2**31 - 1)
