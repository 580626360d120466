"""provider-helm: a Release of a pinned chart, and a ProviderConfig reaching another cluster.

CRDs: crossplane-contrib/provider-helm (namespaced .m. group), in $SHARED/crds/provider-helm.
"""

from function import readiness
from function.blocks import kubeconfig
from function.blocks.managed import EXTERNAL_NAME
from function.observed import text
from function.settings import AddOnChart, HelmChart, ProviderConfigRef
from function.structs import JSON

HELM_GROUP = "helm.m.crossplane.io"
HELM_API = f"{HELM_GROUP}/v1beta1"
RELEASE_CRDS = ("crds/provider-helm/helm.m.crossplane.io_releases.yaml",)
PROVIDER_CONFIG_CRDS = ("crds/provider-helm/helm.m.crossplane.io_providerconfigs.yaml",)


def release_deployed(obj: JSON) -> bool:
    """provider-helm says Ready once it has applied; the chart is up when deployed."""
    return text(obj, "status", "atProvider", "state") == "deployed"


def _release_ready(obj: JSON) -> bool:
    return release_deployed(obj) and readiness.condition_true(obj, "Ready")


READINESS: readiness.Rules = {
    (HELM_GROUP, "Release"): _release_ready,
    (HELM_GROUP, "ProviderConfig"): readiness.exists,
}


def helm_release(
    release: str,
    chart: HelmChart,
    namespace: str,
    values: JSON,
    provider_config: ProviderConfigRef,
    *,
    wait_timeout: str,
    secret_values: dict[str, tuple[str, str]] | None = None,
    object_namespace: str | None = None,
) -> JSON:
    """A namespaced provider-helm Release installing chart as release into namespace.

    The release name is fixed through the external name, so the names the chart
    derives from it (Services, StatefulSets) are known in advance. The install
    namespace is always explicit: provider-helm creates the namespace it is given.
    wait makes Helm wait for the workloads to be ready, so a crash-looping pod
    fails the release (state failed) instead of it being deployed and Ready
    (forProvider.wait and waitTimeout, provider-helm's Release CRD).

    secret_values: chart value path -> (Secret, key) that provider-helm reads at
    install (forProvider.set[].valueFrom.secretKeyRef, a Secret in the Release's
    own namespace), so a secret never sits in the Release's values.
    object_namespace: where the Release object itself goes, for a cluster-scoped XR.
    """
    metadata: JSON = {"annotations": {EXTERNAL_NAME: release}}
    if object_namespace is not None:
        metadata["namespace"] = object_namespace
    for_provider: JSON = {
        "chart": chart.model_dump(),
        "namespace": namespace,
        "values": values,
        "wait": True,
        "waitTimeout": wait_timeout,
    }
    if secret_values:
        for_provider["set"] = [
            {"name": path, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for path, (secret, key) in sorted(secret_values.items())
        ]
    return {
        "apiVersion": HELM_API,
        "kind": "Release",
        "metadata": metadata,
        "spec": {"forProvider": for_provider, "providerConfigRef": provider_config.model_dump()},
    }


def add_on_release(release: str, add_on: AddOnChart, provider_config: str, values: JSON) -> JSON:
    """A release in another cluster, through that cluster's ProviderConfig (in the XR namespace)."""
    return helm_release(
        release,
        add_on.chart,
        add_on.namespace,
        values,
        ProviderConfigRef(kind="ProviderConfig", name=provider_config),
        wait_timeout=add_on.waitTimeout,
    )


def kubeconfig_provider_config(name: str, namespace: str, secret: str, key: str) -> JSON:
    """A namespaced provider-helm ProviderConfig installing into the cluster a kubeconfig
    reaches."""
    return kubeconfig.kubeconfig_provider_config(HELM_API, name, namespace, secret, key)
