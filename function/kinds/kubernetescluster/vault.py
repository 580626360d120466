"""Vault intents of a KubernetesCluster with a vaultPath: its admin kubeconfig."""

from function.kinds.kubernetescluster.addons import KUBECONFIG_KEY
from function.kinds.kubernetescluster.clusterapi import ClusterContext
from function.structs import JSON
from function.vault.intents import VaultIntent
from function.vault.kubeconfig import kubeconfig_intent


def intents(ctx: ClusterContext, kubeconfig: JSON | None, secret_name: str) -> list[VaultIntent]:
    """KV v2 at <vaultPath>/kubeconfig, from Cluster API's kubeconfig Secret."""
    if not ctx.params.vaultPath:
        return []
    return [kubeconfig_intent(ctx.params.vaultPath, kubeconfig, secret_name, KUBECONFIG_KEY)]
