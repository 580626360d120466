"""The RedisInstance section of the function input."""

from pydantic import Field

from function.settings import HelmChart, ProviderConfigRef, SettingsModel, StorageClass


class RedisSettings(SettingsModel):
    """Redis-compatible servers, from the official Valkey chart through provider-helm."""

    chart: HelmChart = Field(
        default=HelmChart(
            repository="https://valkey.io/valkey-helm/", name="valkey", version="0.11.0"
        ),
        description="The Valkey chart, pinned.",
    )
    providerConfigRef: ProviderConfigRef = Field(
        default=ProviderConfigRef(name="default"), description="provider-helm configuration."
    )
    storageClass: StorageClass = None
