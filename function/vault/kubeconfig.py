"""Vault intent for a workload cluster's kubeconfig, for every kind that has one."""

from function.observed import SecretDataError, secret_value
from function.structs import JSON
from function.vault.intents import KVWrite, Pending, VaultIntent

KUBECONFIG_KEY = "value"  # the key Cluster API writes the kubeconfig under


def kubeconfig_intent(
    vault_path: str, secret: JSON | None, secret_name: str, key: str = KUBECONFIG_KEY
) -> VaultIntent:
    """KV v2 at <vaultPath>/kubeconfig with {"value": kubeconfig}, from the kubeconfig Secret.

    secret is the ``<cluster>-kubeconfig`` Secret as read with ctx.require (None
    until Crossplane has fetched it or Cluster API has written it).
    """
    try:
        kubeconfig = secret_value(secret, key)
    except SecretDataError as e:  # only the Vault entry waits; the cluster is composed
        return Pending("kubeconfig", "InvalidKubeconfig", str(e), path=f"{vault_path}/kubeconfig")
    if kubeconfig is None:
        return Pending(
            what="kubeconfig",
            reason="WaitingForKubeconfig",
            message=f"the kubeconfig goes to Vault once Secret {secret_name} has key {key!r}",
            path=f"{vault_path}/kubeconfig",
        )
    return KVWrite(f"{vault_path}/kubeconfig", {"value": kubeconfig})
