"""A namespaced managed resource, the shape every Crossplane v2 provider's resources share."""

from typing import Any

from function.settings import ProviderConfigRef
from function.structs import JSON

EXTERNAL_NAME = "crossplane.io/external-name"
# Put on a composed resource another one selects (a Usage, a managed resource's
# reference), since Crossplane chooses the composed resources' names.
RESOURCE_LABEL = "platform.example.org/composition-resource"


def composed_selector(resources: dict[str, JSON], name: str) -> JSON:
    """A selector of this XR's composed resource name; labels that resource to be selected.

    matchControllerRef keeps the selection inside the XR that composed both.
    """
    labels = resources[name].setdefault("metadata", {}).setdefault("labels", {})
    labels[RESOURCE_LABEL] = name
    return {"matchControllerRef": True, "matchLabels": {RESOURCE_LABEL: name}}


def managed(
    api_version: str,
    kind: str,
    for_provider: JSON,
    provider_config: ProviderConfigRef,
    *,
    external_name: str | None = None,
    namespace: str | None = None,
) -> JSON:
    """A managed resource; Crossplane names it and puts it in the XR's namespace.

    A cluster-scoped XR has no namespace to put it in: it names one.
    """
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    metadata: JSON = {}
    if namespace is not None:
        metadata["namespace"] = namespace
    if external_name is not None:
        metadata["annotations"] = {EXTERNAL_NAME: external_name}
    if metadata:
        obj["metadata"] = metadata
    obj["spec"] = {
        "forProvider": for_provider,
        "providerConfigRef": provider_config.model_dump(),
    }
    return obj
