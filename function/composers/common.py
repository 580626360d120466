"""Pieces several composers use."""

from typing import Any

from function.settings import HelmChart, ProviderConfigRef
from function.structs import JSON

EXTERNAL_NAME = "crossplane.io/external-name"
HELM_API = "helm.m.crossplane.io/v1beta1"


def managed(
    api_version: str,
    kind: str,
    for_provider: JSON,
    provider_config: ProviderConfigRef,
    external_name: str | None = None,
) -> JSON:
    """A namespaced managed resource; Crossplane names it and puts it in the XR's namespace."""
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    if external_name is not None:
        obj["metadata"] = {"annotations": {EXTERNAL_NAME: external_name}}
    obj["spec"] = {
        "forProvider": for_provider,
        "providerConfigRef": provider_config.model_dump(),
    }
    return obj


def helm_release(
    release: str, chart: HelmChart, namespace: str, values: JSON, provider_config: ProviderConfigRef
) -> JSON:
    """A namespaced provider-helm Release installing chart as release into namespace.

    The release name is fixed through the external name, so the names the chart
    derives from it (Services, StatefulSets) are known in advance. The install
    namespace is always explicit: provider-helm creates the namespace it is given.
    """
    return {
        "apiVersion": HELM_API,
        "kind": "Release",
        "metadata": {"annotations": {EXTERNAL_NAME: release}},
        "spec": {
            "forProvider": {"chart": chart.model_dump(), "namespace": namespace, "values": values},
            "providerConfigRef": provider_config.model_dump(),
        },
    }


def status_field(obj: JSON | None, *path: str) -> Any:
    """A value under obj.status, or None if any step is missing."""
    node: Any = (obj or {}).get("status")
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node
