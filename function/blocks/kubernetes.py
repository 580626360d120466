"""provider-kubernetes: an Object placing a manifest through a ProviderConfig, namespaced.

A namespaced XR composes only into its own namespace; a namespaced Object
(kubernetes.m.crossplane.io) lives there but applies its manifest wherever its
ProviderConfig reaches: another namespace of the host cluster (Argo CD's) or a
virtual cluster. CRDs: crossplane-contrib/provider-kubernetes v1.2.1,
$SHARED/crds/provider-kubernetes/kubernetes.m.crossplane.io_{objects,providerconfigs}.yaml.
"""

from typing import Literal

from function import readiness
from function.blocks import kubeconfig
from function.observed import mapping
from function.settings import ProviderConfigRef
from function.structs import JSON

KUBERNETES_GROUP = "kubernetes.m.crossplane.io"
KUBERNETES_API = f"{KUBERNETES_GROUP}/v1alpha1"
OBJECT_CRDS = ("crds/provider-kubernetes/kubernetes.m.crossplane.io_objects.yaml",)
PROVIDER_CONFIG_CRDS = ("crds/provider-kubernetes/kubernetes.m.crossplane.io_providerconfigs.yaml",)

# spec.readiness.policy of the Object CRD: SuccessfulCreate (the default) is Ready
# once applied; DeriveFromObject copies the manifest's own Ready condition.
ReadinessPolicy = Literal["SuccessfulCreate", "DeriveFromObject"]
# spec.managementPolicies of the Object CRD (unset: "*", every action).
ManagementAction = Literal["Observe", "Create", "Update", "Delete", "LateInitialize"]

READINESS: readiness.Rules = {(KUBERNETES_GROUP, "ProviderConfig"): readiness.exists}


def kubernetes_object(
    manifest: JSON,
    provider_config: ProviderConfigRef,
    policy: ReadinessPolicy = "SuccessfulCreate",
    *,
    namespace: str | None = None,
    management: tuple[ManagementAction, ...] | None = None,
) -> JSON:
    """An Object applying manifest through provider_config; Crossplane names the Object and
    puts it in the XR's namespace (a cluster-scoped XR names one). management: the only
    actions the provider may take (unset: all)."""
    spec: JSON = {
        "forProvider": {"manifest": manifest},
        "providerConfigRef": provider_config.model_dump(),
    }
    if policy != "SuccessfulCreate":
        spec["readiness"] = {"policy": policy}
    if management is not None:
        spec["managementPolicies"] = list(management)
    obj: JSON = {"apiVersion": KUBERNETES_API, "kind": "Object", "spec": spec}
    if namespace is not None:
        obj["metadata"] = {"namespace": namespace}
    return obj


def observed_manifest(obj: JSON | None) -> JSON | None:
    """The object the provider last observed in the cluster (status.atProvider.manifest)."""
    return mapping(obj, "status", "atProvider", "manifest")


def kubeconfig_provider_config(name: str, namespace: str, secret: str, key: str) -> JSON:
    """A namespaced provider-kubernetes ProviderConfig applying into the cluster a kubeconfig
    reaches."""
    return kubeconfig.kubeconfig_provider_config(KUBERNETES_API, name, namespace, secret, key)
