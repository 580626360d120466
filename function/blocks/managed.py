"""A namespaced managed resource, the shape every Crossplane v2 provider's resources share."""

from typing import Any

from function.settings import ProviderConfigRef
from function.structs import JSON

EXTERNAL_NAME = "crossplane.io/external-name"


def managed(
    api_version: str,
    kind: str,
    for_provider: JSON,
    provider_config: ProviderConfigRef,
    external_name: str | None = None,
) -> JSON:
    """A managed resource; Crossplane names it and puts it in the XR's namespace."""
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    if external_name is not None:
        obj["metadata"] = {"annotations": {EXTERNAL_NAME: external_name}}
    obj["spec"] = {
        "forProvider": for_provider,
        "providerConfigRef": provider_config.model_dump(),
    }
    return obj
