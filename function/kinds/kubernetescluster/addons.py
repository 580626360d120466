"""The add-ons of a KubernetesCluster installed into it: its network plugin.

A Helm release installed into the workload cluster through a provider-helm
ProviderConfig that reads the kubeconfig Secret Cluster API writes. They are
composed once that Secret exists and, once composed, kept even if the Secret
is briefly gone (deleting them would uninstall the CNI). The cloud controller
manager runs in the host cluster (ccm.py).
"""

from ipaddress import ip_network

from function.blocks.helm import add_on_release, kubeconfig_provider_config
from function.blocks.immutable import refuse_change
from function.blocks.lifecycle import compose_once_input_exists
from function.blocks.managed import EXTERNAL_NAME
from function.kinds.kubernetescluster.clusterapi import KUBE_OVN_MASTER_LABEL, ClusterContext
from function.kinds.kubernetescluster.model import NETWORK_PLUGIN_IMMUTABLE
from function.kinds.kubernetescluster.settings import KubernetesClusterSettings
from function.naming import provider_config_name
from function.observed import text
from function.settings import AddOnChart
from function.structs import JSON

KUBECONFIG_KEY = "value"  # Cluster API's key in <cluster>-kubeconfig

# Composition resource names.
HELM_PROVIDER_CONFIG = "helm-provider-config"
CNI = "cni"
ADD_ONS = (HELM_PROVIDER_CONFIG, CNI)
RELEASES = (CNI,)  # what the ProviderConfig must outlive


def _plugins(settings: KubernetesClusterSettings) -> dict[str, AddOnChart]:
    plugins = settings.networkPlugins
    return {"kube-ovn": plugins.kubeOvn, "calico": plugins.calico, "cilium": plugins.cilium}


def installed_plugin(ctx: ClusterContext) -> str | None:
    """The network plugin the observed CNI release installs, by its release name."""
    release = ctx.observed.get(CNI)
    name = text(release, "metadata", "annotations", EXTERNAL_NAME)
    return name if name is not None and name in _plugins(ctx.settings) else None


def add_ons(
    ctx: ClusterContext, cluster: str, kubeconfig: JSON | None, secret_name: str
) -> dict[str, JSON]:
    """The add-on releases and their ProviderConfig, once the kubeconfig Secret exists."""
    plugin = ctx.params.networkPlugin
    # The XRD refuses the change too (immutable); this catches XRs created before.
    refuse_change("networkPlugin", installed_plugin(ctx), plugin, NETWORK_PLUGIN_IMMUTABLE)
    if not compose_once_input_exists(kubeconfig is not None, ctx.observed, ADD_ONS):
        return {}
    settings = ctx.settings
    provider_config = provider_config_name(
        ctx.observed.name_of(HELM_PROVIDER_CONFIG),
        ctx.xr.namespace,
        cluster,
        settings.helmProviderConfigSuffix,
    )
    cni = _plugins(settings)[plugin]
    return {
        HELM_PROVIDER_CONFIG: kubeconfig_provider_config(
            provider_config, ctx.xr.namespace, secret_name, KUBECONFIG_KEY
        ),
        CNI: add_on_release(plugin, cni, provider_config, _cni_values(plugin, settings)),
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
