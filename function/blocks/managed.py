"""A namespaced managed resource, the shape every Crossplane v2 provider's resources share."""

from typing import Any

from function.settings import ProviderConfigRef
from function.structs import JSON

EXTERNAL_NAME = "crossplane.io/external-name"
# Composed resources are named by Crossplane; one that another selects carries its
# composition resource name in this label (selected with matchControllerRef, so the
# selection stays inside its XR).
RESOURCE_LABEL = "platform.example.org/composition-resource"


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


def label_selector(resources: dict[str, JSON], name: str) -> JSON:
    """A selector for the composed resource name of this XR, which gets the label it selects by.

    The shape Crossplane's Usage resourceSelector and every upjet provider's
    <field>Selector share (matchControllerRef and matchLabels).
    """
    labels = resources[name].setdefault("metadata", {}).setdefault("labels", {})
    labels[RESOURCE_LABEL] = name
    return {"matchControllerRef": True, "matchLabels": {RESOURCE_LABEL: name}}
