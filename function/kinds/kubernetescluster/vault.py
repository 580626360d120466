"""Vault intents of a KubernetesCluster with a vaultPath: its admin kubeconfig."""

from function.kinds.kubernetescluster.addons import KUBECONFIG_KEY
from function.kinds.kubernetescluster.clusterapi import ClusterContext
from function.structs import JSON
from function.vault.intents import VaultIntent
from function.vault.kubeconfig import kubeconfig_intent
from function.vault.tenancy import tenant_path


def intents(ctx: ClusterContext, kubeconfig: JSON | None, secret_name: str) -> list[VaultIntent]:
    """KV v2 at <vaultPath>/kubeconfig in the namespace's subtree, from Cluster API's Secret."""
    if not ctx.params.vaultPath:
        return []
    path = tenant_path(ctx.platform.vault, ctx.xr.namespace, ctx.params.vaultPath)
    return [kubeconfig_intent(path, kubeconfig, secret_name, KUBECONFIG_KEY)]
