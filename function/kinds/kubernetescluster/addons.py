"""The add-ons of a KubernetesCluster: its network plugin and the KubeVirt cloud controller manager.

Helm releases installed into the workload cluster through a provider-helm
ProviderConfig that reads the kubeconfig Secret Cluster API writes. They are
composed once that Secret exists and, once composed, kept even if the Secret
is briefly gone (deleting them would uninstall the CNI).
"""

from ipaddress import ip_network

from function.blocks.helm import add_on_release, kubeconfig_provider_config
from function.blocks.lifecycle import compose_once_input_exists
from function.kinds.kubernetescluster.clusterapi import (
    CLUSTER_NAME_LABEL,
    KUBE_OVN_MASTER_LABEL,
    ClusterContext,
)
from function.kinds.kubernetescluster.settings import KubernetesClusterSettings
from function.naming import dns_label
from function.structs import JSON

KUBECONFIG_KEY = "value"  # Cluster API's key in <cluster>-kubeconfig

# Composition resource names.
HELM_PROVIDER_CONFIG = "helm-provider-config"
CNI = "cni"
CLOUD_CONTROLLER_MANAGER = "cloud-controller-manager"
ADD_ONS = (HELM_PROVIDER_CONFIG, CNI, CLOUD_CONTROLLER_MANAGER)


def add_ons(
    ctx: ClusterContext, cluster: str, kubeconfig: JSON | None, secret_name: str
) -> dict[str, JSON]:
    """The add-on releases and their ProviderConfig, once the kubeconfig Secret exists."""
    if not compose_once_input_exists(kubeconfig is not None, ctx.observed, ADD_ONS):
        return {}
    settings = ctx.settings
    provider_config = dns_label(cluster, settings.helmProviderConfigSuffix)
    plugin = ctx.params.networkPlugin
    plugins = settings.networkPlugins
    cni = {"kube-ovn": plugins.kubeOvn, "calico": plugins.calico, "cilium": plugins.cilium}[plugin]
    return {
        HELM_PROVIDER_CONFIG: kubeconfig_provider_config(
            provider_config, ctx.xr.namespace, secret_name, KUBECONFIG_KEY
        ),
        CNI: add_on_release(plugin, cni, provider_config, _cni_values(plugin, settings)),
        CLOUD_CONTROLLER_MANAGER: add_on_release(
            "kubevirt-cloud-controller-manager",
            settings.cloudControllerManager,
            provider_config,
            {
                "clusterName": cluster,
                # Where the cluster's virtual machines live, in the host cluster.
                "cloudConfig": {
                    "namespace": ctx.xr.namespace,
                    "infraLabels": {CLUSTER_NAME_LABEL: cluster},
                },
            },
        ),
    }


def _cni_values(plugin: str, settings: KubernetesClusterSettings) -> JSON:
    """Chart values that give each plugin the cluster's pod and service networks."""
    if plugin == "kube-ovn":
        gateway = str(next(ip_network(settings.podCIDR).hosts()))
        return {
            "MASTER_NODES_LABEL": KUBE_OVN_MASTER_LABEL,
            "ipv4": {
                "POD_CIDR": settings.podCIDR,
                "POD_GATEWAY": gateway,
                "SVC_CIDR": settings.serviceCIDR,
            },
        }
    if plugin == "calico":
        return {
            "installation": {
                "calicoNetwork": {"ipPools": [{"cidr": settings.podCIDR, "encapsulation": "VXLAN"}]}
            }
        }
    # cilium: node pod ranges as allocated by the controller manager from podCIDR.
    return {"ipam": {"mode": "kubernetes"}}
