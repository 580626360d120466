"""A namespaced ProviderConfig that reaches another cluster through a kubeconfig Secret.

provider-helm and provider-kubernetes spell it the same way (spec.credentials
source Secret with a secretRef), each in its own API group:
$SHARED/crds/provider-helm/helm.m.crossplane.io_providerconfigs.yaml and
$SHARED/crds/provider-kubernetes/kubernetes.m.crossplane.io_providerconfigs.yaml.
"""

from function.structs import JSON


def kubeconfig_provider_config(
    api_version: str, name: str, namespace: str, secret: str, key: str
) -> JSON:
    """A ProviderConfig of api_version reading the kubeconfig at secret[key] in namespace."""
    return {
        "apiVersion": api_version,
        "kind": "ProviderConfig",
        "metadata": {"name": name},
        "spec": {
            "credentials": {
                "source": "Secret",
                "secretRef": {"namespace": namespace, "name": secret, "key": key},
            }
        },
    }
