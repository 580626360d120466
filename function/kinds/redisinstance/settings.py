"""The RedisInstance section of the function input."""

from pydantic import Field

from function.model import section
from function.settings import (
    HelmChart,
    Metrics,
    ProviderConfigRef,
    SettingsModel,
    StorageClass,
    WaitTimeout,
)


class Image(SettingsModel):
    """A container image, pinned by version (never a floating tag)."""

    registry: str = Field(default="docker.io", description="Image registry.")
    repository: str = Field(default="valkey/valkey", description="Image repository.")
    tag: str = Field(
        default="9.1.1",
        pattern=r"^[0-9]+\.[0-9]+\.[0-9]+",
        description="Image tag: an exact version (the chart's default follows its appVersion).",
    )


class RedisSettings(SettingsModel):
    """Redis-compatible servers, from the official Valkey chart through provider-helm."""

    chart: HelmChart = Field(
        default=HelmChart(
            repository="https://valkey.io/valkey-helm/", name="valkey", version="0.11.0"
        ),
        description="The Valkey chart, pinned.",
    )
    image: Image = section(Image, "The Valkey image, pinned by version.")
    providerConfigRef: ProviderConfigRef = Field(
        default=ProviderConfigRef(name="default"), description="provider-helm configuration."
    )
    storageClass: StorageClass = None
    waitTimeout: WaitTimeout = "10m"
    metrics: Metrics = section(
        Metrics,
        "The chart's redis_exporter sidecar and its PodMonitor (values metrics.enabled and "
        "metrics.podMonitor.enabled).",
    )
