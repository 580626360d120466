"""VClusterEnvironment: a team's isolated virtual cluster, its add-ons and GitOps registration."""

from typing import Annotated, Literal

from pydantic import Field

from function.formats import DNS_1123_LABEL, DNS_1123_SUBDOMAIN
from function.model import (
    DOMAIN,
    ENVIRONMENT_FIELD,
    KUBERNETES_VERSIONS,
    STANDARD_COLUMNS,
    VCLUSTER_KUBERNETES_VERSION,
    CompositeAPI,
    CompositeStatus,
    Environment,
    KubernetesVersion,
    Parameters,
    PrinterColumn,
    StatusModel,
    StrictModel,
    section,
)
from function.quantity import Quantity
from function.validation import named_pattern

AddOn = Literal["istio", "knative"]
ServiceKind = Literal["PostgreSQLInstance", "RedisInstance"]

# Argo CD accepts https, ssh and scp-like (git@host:path) repository URLs.
GIT_URL_PATTERN = named_pattern(
    r"^(https://[^\s/@]+(/[^\s]*)?|ssh://[^\s@]+@[^\s/]+(/[^\s]*)?|[A-Za-z0-9._-]+@[^\s:/]+:[^\s]+)$",
    "must be a Git repository URL: https://host/path, ssh://user@host/path or user@host:path",
)
KUBERNETES_VERSION_FIELD = "kubernetesVersion"
# kubernetesVersion is vX.Y.Z (the KubernetesVersion pattern): X.Y.Z compared as numbers.
_MINOR, _PATCH = "int({v}.split('.')[1])", "int({v}.split('.')[2])"
NO_DOWNGRADE_CEL = (
    f"{_MINOR.format(v='self')} > {_MINOR.format(v='oldSelf')} || "
    f"({_MINOR.format(v='self')} == {_MINOR.format(v='oldSelf')} && "
    f"{_PATCH.format(v='self')} >= {_PATCH.format(v='oldSelf')})"
)
# A namespace name (RFC 1123 label).
Namespace = Annotated[str, Field(pattern=DNS_1123_LABEL, max_length=63)]


class Quota(StrictModel):
    """The environment's ResourceQuota (the chart's policies.resourceQuota)."""

    cpu: Quantity | None = Field(
        default=None, description='Total CPU the environment\'s pods may request ("8", "500m").'
    )
    memory: Quantity | None = Field(
        default=None,
        description='Total memory the environment\'s pods may request, and their limits ("16Gi").',
    )
    pods: int | None = Field(default=None, ge=1, le=10000, description="Pods at most.")
    storage: Quantity | None = Field(
        default=None, description='Total storage its volume claims may request ("100Gi").'
    )


class LimitRange(StrictModel):
    """Per-container defaults where a pod sets none (the chart's policies.limitRange)."""

    defaultCPU: Quantity | None = Field(default=None, description="Default CPU limit.")
    defaultMemory: Quantity | None = Field(default=None, description="Default memory limit.")
    defaultRequestCPU: Quantity | None = Field(default=None, description="Default CPU request.")
    defaultRequestMemory: Quantity | None = Field(
        default=None, description="Default memory request."
    )


class Resources(StrictModel):
    """What the environment may use in the host cluster."""

    quota: Quota = section(Quota)
    limitRange: LimitRange = section(LimitRange)


class Isolation(StrictModel):
    """Network isolation of the environment's pods in the host cluster."""

    networkPolicy: bool = Field(
        default=True,
        description="NetworkPolicies (the chart's): the environment's pods reach only each "
        "other, their control plane, the replicated services and (publicEgress) the internet.",
    )
    publicEgress: bool = Field(
        default=True,
        description="With networkPolicy: allow connections to public addresses (not to "
        "private ranges). Without networkPolicy nothing is restricted.",
    )


class ServiceRef(StrictModel):
    """A platform service in this namespace whose endpoint is replicated into the vCluster."""

    kind: ServiceKind = Field(description="PostgreSQLInstance or RedisInstance.")
    name: str = Field(
        pattern=DNS_1123_SUBDOMAIN, max_length=253, description="Name of the XR in this namespace."
    )


class GitOps(StrictModel):
    """Argo CD deploys this repository into the vCluster."""

    repoURL: str = Field(pattern=GIT_URL_PATTERN, max_length=512, description="Git repository.")
    path: str = Field(
        default=".",
        pattern=r"^[^\s]+$",
        max_length=512,
        description="Directory of the manifests in the repository.",
    )
    targetRevision: str = Field(
        default="HEAD",
        pattern=r"^[^\s]+$",
        max_length=255,
        description="Branch, tag or commit.",
    )
    project: str | None = Field(
        default=None,
        pattern=DNS_1123_SUBDOMAIN,
        max_length=253,
        description="Deprecated: the platform decides the Argo CD project (its tenancy."
        "argocdProject for this namespace); leave it unset, a value other than the "
        "platform's is refused.",
    )
    namespace: Namespace = Field(
        default="default",
        description="Namespace inside the vCluster the manifests go to (created if missing).",
    )


class VClusterEnvironmentParameters(Parameters):
    """spec.parameters of a VClusterEnvironment."""

    environment: Environment = ENVIRONMENT_FIELD
    kubernetesVersion: KubernetesVersion = Field(
        default=VCLUSTER_KUBERNETES_VERSION,
        description=f"Kubernetes version of the virtual cluster, {KUBERNETES_VERSIONS}. "
        "May go up, not down.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": NO_DOWNGRADE_CEL,
                    "message": "cannot go down: Kubernetes does not downgrade a control plane; "
                    "create a new VClusterEnvironment at the older version instead",
                }
            ]
        },
    )
    resources: Resources = section(Resources)
    isolation: Isolation = section(Isolation)
    addons: list[AddOn] = Field(
        default=[],
        max_length=2,
        description="Installed inside the vCluster once it is up: istio (base and istiod), "
        "knative (Knative Serving through its operator). May be added, not removed.",
        json_schema_extra={
            "x-kubernetes-list-type": "set",
            "x-kubernetes-validations": [
                {
                    "rule": "oldSelf.all(a, a in self)",
                    "message": "an add-on cannot be removed: uninstalling it breaks what runs "
                    "on it; create a new VClusterEnvironment without it instead",
                }
            ],
        },
    )
    services: list[ServiceRef] = Field(
        default=[],
        max_length=20,
        description="PostgreSQLInstances and RedisInstances of this namespace made reachable "
        "inside the vCluster under the same host name as in their connection Secret.",
    )
    gitops: GitOps | None = Field(
        default=None, description="Register the vCluster with Argo CD and deploy a repository."
    )


class AddOnsStatus(StatusModel):
    """Readiness of each add-on asked for."""

    istio: bool | None = Field(default=None, description="Istio's releases are deployed.")
    knative: bool | None = Field(default=None, description="KnativeServing reports Ready.")


class ServiceStatus(StatusModel):
    """A host service replicated into the vCluster."""

    kind: str = Field(description="Kind of the XR.")
    name: str = Field(description="Name of the XR.")
    host: str = Field(description="Host name inside the vCluster (as in the connection Secret).")
    secret: str | None = Field(
        default=None,
        description="The instance's connection Secret inside the vCluster, as namespace/name "
        "(the same as in the host namespace), once the instance names one.",
    )


class ArgoCDStatus(StatusModel):
    """The vCluster's Argo CD registration and the Application's state."""

    registered: bool = Field(description="The cluster Secret is in Argo CD's namespace.")
    cluster: str = Field(description="Cluster name in Argo CD.")
    application: str | None = Field(default=None, description="Application name in Argo CD.")
    sync: str | None = Field(default=None, description="Sync status: Synced, OutOfSync, ...")
    health: str | None = Field(default=None, description="Health: Healthy, Progressing, ...")


class VClusterEnvironmentStatus(CompositeStatus):
    """status of a VClusterEnvironment."""

    endpoint: str | None = Field(
        default=None, description="URL of the vCluster's API server inside the host cluster."
    )
    kubeconfigSecret: str | None = Field(
        default=None,
        description="Secret in this namespace with the vCluster's kubeconfig (key config; "
        "a ServiceAccount's token, cluster-admin inside the vCluster), once vCluster has "
        "written it.",
    )
    addons: AddOnsStatus | None = Field(default=None, description=AddOnsStatus.__doc__)
    services: list[ServiceStatus] | None = Field(
        default=None, description="Host services replicated into the vCluster."
    )
    argocd: ArgoCDStatus | None = Field(default=None, description=ArgoCDStatus.__doc__)


API = CompositeAPI(
    group=f"compute.{DOMAIN}",
    kind="VClusterEnvironment",
    plural="vclusterenvironments",
    parameters=VClusterEnvironmentParameters,
    status=VClusterEnvironmentStatus,
    description="A team's isolated virtual cluster (vCluster) in its namespace, with quotas, "
    "optional Istio and Knative inside, platform services replicated in, and Argo CD "
    "registration.",
    printer_columns=(
        PrinterColumn("Environment", ".spec.parameters.environment"),
        PrinterColumn("Version", ".spec.parameters.kubernetesVersion"),
        *STANDARD_COLUMNS,
        PrinterColumn("Endpoint", ".status.endpoint"),
        PrinterColumn("Sync", ".status.argocd.sync"),
    ),
)
