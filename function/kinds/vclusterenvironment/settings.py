"""The VClusterEnvironment section of the function input: charts, quotas, Argo CD."""

from typing import Literal

from pydantic import Field

from function.context import Context
from function.kinds.vclusterenvironment.model import (
    Namespace,
    Quota,
    VClusterEnvironmentParameters,
)
from function.model import Environment, section
from function.quantity import Quantity
from function.settings import AddOnChart, HelmChart, ProviderConfigRef, SettingsModel, WaitTimeout


class QuotaDefaults(SettingsModel):
    """Quota where neither the XR nor its environment's preset sets one (limits: twice)."""

    cpu: Quantity = Field(default="4", description="Total CPU requests.")
    memory: Quantity = Field(default="8Gi", description="Total memory requests.")
    pods: int = Field(default=30, ge=1, le=10000, description="Pods at most.")
    storage: Quantity = Field(default="50Gi", description="Total storage of volume claims.")


class LimitRangeDefaults(SettingsModel):
    """Per-container defaults where the XR sets none; unset, each is derived from the
    environment's quota: what it leaves after the pods the environment knows of (the
    vCluster's, its add-ons', the namespace's instances'), shared by the other pods it allows."""

    defaultCPU: Quantity | None = Field(default=None, description="Default CPU limit.")
    defaultMemory: Quantity | None = Field(default=None, description="Default memory limit.")
    defaultRequestCPU: Quantity | None = Field(default=None, description="Default CPU request.")
    defaultRequestMemory: Quantity | None = Field(
        default=None, description="Default memory request."
    )


def _add_on(repository: str, chart: str, version: str, namespace: str) -> AddOnChart:
    return AddOnChart(
        chart=HelmChart(repository=repository, name=chart, version=version), namespace=namespace
    )


# istio/istio 1.30.3 manifests/charts/base and manifests/charts/istiod; the CRDs the
# base chart installs are $SHARED/crds/istio/crd-all.gen.yaml of that tag.
_ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts"


class Istio(SettingsModel):
    """Istio's charts, installed into the vCluster in this order: base (CRDs), then istiod."""

    base: AddOnChart = Field(
        default=_add_on(_ISTIO_CHARTS, "base", "1.30.3", "istio-system"),
        description="istio/base (CRDs and cluster roles).",
    )
    istiod: AddOnChart = Field(
        default=_add_on(_ISTIO_CHARTS, "istiod", "1.30.3", "istio-system"),
        description="istio/istiod (the control plane).",
    )


class Knative(SettingsModel):
    """Knative Serving through the Knative operator: its chart, then a KnativeServing object."""

    operator: AddOnChart = Field(
        default=_add_on(
            "https://knative.github.io/operator", "knative-operator", "v1.23.0", "knative-operator"
        ),
        description="The knative-operator chart (knative/operator knative-v1.23.0).",
    )
    servingNamespace: Namespace = Field(
        default="knative-serving",
        description="Namespace of the KnativeServing object (and Knative Serving) in the vCluster.",
    )


class Image(SettingsModel):
    """The vCluster control plane's image, pinned (the chart's default tag is its own version)."""

    registry: str = Field(default="ghcr.io", description="Image registry.")
    repository: str = Field(
        default="loft-sh/vcluster-pro", description="Image repository (the chart's default)."
    )
    tag: str = Field(
        default="0.36.1",
        pattern=r"^[0-9]+\.[0-9]+\.[0-9]+",
        description="Image tag: an exact version, the chart's.",
    )


class ArgoCD(SettingsModel):
    """Where Argo CD runs, and how the function reaches its namespace."""

    namespace: Namespace = Field(
        default="argocd",
        description="Argo CD's namespace in the host cluster.",
    )
    providerConfigRef: ProviderConfigRef = Field(
        default=ProviderConfigRef(name="default"),
        description="provider-kubernetes configuration reaching the host cluster, allowed to "
        "manage Secrets and Applications in Argo CD's namespace.",
    )


class VClusterEnvironmentSettings(SettingsModel):
    """VClusterEnvironment: vCluster releases, their add-ons and their Argo CD registration."""

    chart: HelmChart = Field(
        default=HelmChart(repository="https://charts.loft.sh", name="vcluster", version="0.36.1"),
        description="The vCluster chart, pinned.",
    )
    image: Image = section(Image)
    providerConfigRef: ProviderConfigRef = Field(
        default=ProviderConfigRef(name="default"),
        description="provider-helm configuration installing into the host cluster.",
    )
    waitTimeout: WaitTimeout = "10m"
    dataVolumeOnDeletion: Literal["Keep", "Delete"] = Field(
        default="Keep",
        description="What becomes of a vCluster's data volume (its control plane's "
        "PersistentVolumeClaim, which holds the virtual cluster's datastore) when its "
        "environment is deleted: Keep it (an environment created again with the same name in "
        "the same namespace finds its data again), or Delete it with the environment.",
    )
    quota: QuotaDefaults = section(QuotaDefaults)
    quotaPresets: dict[Environment, Quota] = Field(
        default={
            "dev": Quota(cpu="2", memory="4Gi", pods=20, storage="20Gi"),
            "sandbox": Quota(cpu="2", memory="4Gi", pods=20, storage="20Gi"),
            "production": Quota(cpu="16", memory="32Gi", pods=100, storage="500Gi"),
        },
        description="Quota by environment, used where the XR sets none; unset fields fall "
        "back to quota.",
    )
    limitRange: LimitRangeDefaults = section(LimitRangeDefaults)
    istio: Istio = section(Istio)
    knative: Knative = section(Knative)
    argocd: ArgoCD = section(ArgoCD)


EnvironmentContext = Context[VClusterEnvironmentParameters, VClusterEnvironmentSettings]
