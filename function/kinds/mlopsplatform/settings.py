"""The MLOpsPlatform section of the function input: where the platform's ML services are."""

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from function.formats import DNS_1123_LABEL
from function.model import section
from function.quantity import Quantity
from function.settings import (
    HelmChart,
    ProviderConfigRef,
    SettingsModel,
    StorageClass,
    WaitTimeout,
)

# The hosts of AWS S3's endpoints: regional, FIPS, dual-stack, and VPC interface
# endpoints (*.vpce.amazonaws.com), in every partition (amazonaws.com.cn in China).
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")


def _aws_endpoint(url: str | None) -> str | None:
    """What urlsplit refuses and a pattern cannot tell (an IPv6 host's brackets, a port out
    of range), refused here rather than when composing (storage.endpoint splits it); and a
    store other than AWS S3.

    The workspace's key is made by AWS IAM (provider-upjet-aws iam User, Policy,
    UserPolicyAttachment, AccessKey), and only AWS S3 accepts it: an S3-compatible store
    such as MinIO has no AWS IAM API, so its workloads would be handed a key it never issued.
    """
    if url is None:
        return url
    host = urlsplit(url).hostname or ""
    _ = urlsplit(url).port  # ValueError, which the input's FATAL names
    if not host.endswith(AWS_HOST_SUFFIXES):
        raise ValueError(
            "must be an AWS S3 endpoint (a host under amazonaws.com or amazonaws.com.cn): the "
            "workspace's key is an AWS IAM access key, which an S3-compatible store such as "
            "MinIO does not accept"
        )
    return url


class ObjectStoreSettings(SettingsModel):
    """The object store buckets are made in: AWS S3, whose IAM makes the workspaces' keys."""

    region: str = Field(default="us-east-1", min_length=1, description="Bucket region.")
    endpoint: Annotated[str | None, AfterValidator(_aws_endpoint)] = Field(
        default=None,
        pattern=r"^https?://[^/\s]+$",
        description="AWS S3 endpoint URL the workloads use, e.g. a VPC interface endpoint "
        "(https://bucket.vpce-<id>.s3.<region>.vpce.amazonaws.com); unset: AWS S3 of the "
        "region (https://s3.<region>.amazonaws.com). Only AWS S3: the key is an AWS IAM one.",
    )
    forcePathStyle: bool = Field(
        default=False,
        description="Address buckets by path (<endpoint>/<bucket>), as a VPC interface "
        "endpoint can; else by virtual-hosted names (<bucket>.<endpoint>).",
    )
    arnPartition: str = Field(
        default="aws", pattern=r"^aws(-[a-z]+)*$", description="ARN partition of the buckets."
    )
    namespace: str = Field(
        default="crossplane-system",
        pattern=DNS_1123_LABEL,
        max_length=63,
        description="Namespace of the Bucket and IAM objects and of the access key's "
        "connection Secret: the platform's, out of the data scientists' reach.",
    )
    providerConfigRef: ProviderConfigRef = Field(
        default=ProviderConfigRef(name="default"), description="provider-upjet-aws configuration."
    )


class QdrantSettings(SettingsModel):
    """Qdrant, from its official chart through provider-helm."""

    chart: HelmChart = Field(
        default=HelmChart(
            repository="https://qdrant.github.io/qdrant-helm", name="qdrant", version="1.19.0"
        ),
        description="The Qdrant chart, pinned (its appVersion pins the image).",
    )
    providerConfigRef: ProviderConfigRef = Field(
        default=ProviderConfigRef(name="default"), description="provider-helm configuration."
    )
    cpu: Quantity = Field(default="500m", description="CPU request of each Qdrant server.")
    memory: Quantity = Field(default="2Gi", description="Memory request and limit of each server.")
    storageClass: StorageClass = None
    waitTimeout: WaitTimeout = "10m"


class NamespaceLabelsSettings(SettingsModel):
    """How the governance labels reach the workspace namespace: a provider-kubernetes Object
    in that namespace, updating the Namespace the Kubeflow profile controller created."""

    providerConfigRef: ProviderConfigRef = Field(
        default=ProviderConfigRef(name="default"),
        description="provider-kubernetes configuration reaching the host cluster, allowed to "
        "get and patch Namespaces (a ProviderConfig: one in each workspace namespace).",
    )


class MLOpsPlatformSettings(SettingsModel):
    """ML workspaces: Kubeflow profiles wired to an object store, KServe and Qdrant."""

    objectStore: ObjectStoreSettings = section(ObjectStoreSettings)
    vectorDatabase: QdrantSettings = section(QdrantSettings)
    namespaceLabels: NamespaceLabelsSettings = section(NamespaceLabelsSettings)
    notebookStorageClass: StorageClass = None
    notebookImage: str = Field(
        default="ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:v1.10.0",
        min_length=1,
        description="Notebook image when an XR names none, pinned.",
    )
    dashboardURL: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+[^/\s]$",
        description="The Kubeflow central dashboard, e.g. https://kubeflow.example.org; "
        "notebook URLs are under it. Unset: status shows the path only.",
    )
    pipelineRootPath: str = Field(
        default="pipelines",
        pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
        description="Folder of the bucket Kubeflow Pipelines writes artifacts under.",
    )
