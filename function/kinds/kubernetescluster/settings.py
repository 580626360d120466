"""The KubernetesCluster section of the function input: sizes, images, networks, add-ons."""

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from function.formats import DNS_1123_LABEL, DNS_1123_SUBDOMAIN
from function.model import section
from function.quantity import CpuQuantity, Quantity
from function.settings import AddOnChart, HelmChart, SettingsModel

# Pod and service networks of workload clusters as in CAPK's templates
# (kubernetes-sigs/cluster-api-provider-kubevirt v0.11.2, templates/cluster-template-kccm.yaml):
# apart from the host cluster's usual 10.244.0.0/16 and 10.96.0.0/12, since the
# machines resolve through the host's DNS and an overlap loops CoreDNS.
POD_CIDR = "10.243.0.0/16"
SERVICE_CIDR = "10.95.0.0/16"


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"


def _network(value: str) -> str:
    IPv4Network(value)  # ValueError (a field error) for 10.243.0.1/16 or a bad address
    return value


def _prefix_between(shortest: int, longest: int, why: str) -> AfterValidator:
    def check(value: str) -> str:
        if not shortest <= IPv4Network(value).prefixlen <= longest:
            raise ValueError(f"must have a prefix between /{shortest} and /{longest}: {why}")
        return value

    return AfterValidator(check)


Cidr = Annotated[
    str,
    Field(pattern=rf"^({_OCTET}\.){{3}}{_OCTET}/([0-9]|[12][0-9]|3[0-2])$"),
    AfterValidator(_network),
]
# Each node gets a /24 of the pod network (kube-controller-manager's --node-cidr-mask-size).
PodCidr = Annotated[Cidr, _prefix_between(8, 24, "each node takes a /24 of it")]
# kube-apiserver refuses a --service-cluster-ip-range larger than /12 (IPv4).
ServiceCidr = Annotated[Cidr, _prefix_between(12, 28, "kube-apiserver allows at most a /12")]


class ClusterSize(SettingsModel):
    """Machine counts and sizes of a KubernetesCluster; unset fields fall back further."""

    controlPlaneNodes: Literal[1, 3, 5] | None = Field(
        default=None, description="Control plane machines (odd: etcd needs a quorum)."
    )
    workerNodes: int | None = Field(default=None, ge=1, le=10, description="Worker machines.")
    controlPlaneCPU: CpuQuantity | None = Field(
        default=None, description="CPU per control plane machine."
    )
    controlPlaneMemory: Quantity | None = Field(
        default=None, description="Memory per control plane machine."
    )
    workerCPU: CpuQuantity | None = Field(default=None, description="CPU per worker machine.")
    workerMemory: Quantity | None = Field(default=None, description="Memory per worker machine.")
    workerStorage: Quantity | None = Field(
        default=None, description="System disk per worker machine."
    )


class NetworkPlugins(SettingsModel):
    """Chart of each network plugin a KubernetesCluster may ask for (networkPlugin)."""

    kubeOvn: AddOnChart = Field(
        default=AddOnChart(
            chart=HelmChart(
                repository="https://kubeovn.github.io/kube-ovn/", name="kube-ovn", version="v1.14.4"
            ),
            namespace="kube-system",
        ),
        description="kube-ovn.",
    )
    calico: AddOnChart = Field(
        default=AddOnChart(
            chart=HelmChart(
                repository="https://docs.tigera.io/calico/charts",
                name="tigera-operator",
                version="v3.29.3",
            ),
            namespace="tigera-operator",
        ),
        description="calico, through the Tigera operator.",
    )
    cilium: AddOnChart = Field(
        default=AddOnChart(
            chart=HelmChart(repository="https://helm.cilium.io/", name="cilium", version="1.17.4"),
            namespace="kube-system",
        ),
        description="cilium.",
    )


class MachineHealth(SettingsModel):
    """When a worker machine counts as unhealthy and is replaced (MachineHealthCheck)."""

    nodeStartupTimeoutSeconds: int = Field(
        default=1200, ge=0, le=86400, description="Time a new machine has to become a node."
    )
    unhealthyNodeTimeoutSeconds: int = Field(
        default=300,
        ge=0,
        le=86400,
        description="Time a node may be NotReady or Unknown before its machine is replaced.",
    )
    maxUnhealthy: str = Field(
        default="40%",
        pattern=r"^([0-9]+|[0-9]+%)$",
        description="Remediate only while at most this many (or this share of) workers are "
        "unhealthy, so an outage of the host cluster does not replace every machine.",
    )


class CloudControllerManager(SettingsModel):
    """The KubeVirt cloud controller manager, run in the host cluster next to the machines."""

    enabled: bool = Field(
        default=True,
        description="Run it: it initialises the nodes (kubelets start with cloud-provider "
        "external) and serves LoadBalancer Services through the host cluster. Off: kubelets "
        "start without an external cloud provider.",
    )
    image: str = Field(
        default="quay.io/kubevirt/kubevirt-cloud-controller-manager:v0.6.0",
        pattern=r"^[^\s@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$",
        description="Image, pinned by tag or digest (kubevirt/cloud-provider-kubevirt releases).",
    )
    cpuRequest: Quantity = Field(default="100m", description="CPU request of its container.")


class ClusterAPIController(SettingsModel):
    """Cluster API's controller Deployment, whose image tag tells its version."""

    namespace: str = Field(
        default="capi-system", pattern=DNS_1123_LABEL, max_length=63, description="Namespace."
    )
    name: str = Field(
        default="capi-controller-manager",
        pattern=DNS_1123_SUBDOMAIN,
        max_length=253,
        description="Deployment name (clusterctl's and the Cluster API Operator's). A cluster "
        "is refused while its image is tagged older than v1.13.0; not found, or pinned by "
        "digest alone: not checked.",
    )


class KubernetesClusterSettings(SettingsModel):
    """KubernetesCluster: Cluster API clusters on KubeVirt, and their add-ons."""

    defaults: ClusterSize = Field(
        default=ClusterSize(
            controlPlaneNodes=3,
            workerNodes=3,
            controlPlaneCPU="4",
            controlPlaneMemory="8Gi",
            workerCPU="4",
            workerMemory="8Gi",
            workerStorage="100Gi",
        ),
        description="Sizes used when neither the XR nor its environment's preset sets them; "
        "every field must be set here.",
    )
    presets: dict[str, ClusterSize] = Field(
        default={
            "dev": ClusterSize(
                controlPlaneNodes=1,
                workerNodes=2,
                controlPlaneCPU="2",
                controlPlaneMemory="4Gi",
                workerCPU="2",
                workerMemory="4Gi",
                workerStorage="50Gi",
            ),
            "sandbox": ClusterSize(
                controlPlaneNodes=1,
                workerNodes=1,
                controlPlaneCPU="2",
                controlPlaneMemory="4Gi",
                workerCPU="2",
                workerMemory="4Gi",
                workerStorage="50Gi",
            ),
            "production": ClusterSize(
                controlPlaneNodes=3,
                workerNodes=5,
                controlPlaneCPU="4",
                controlPlaneMemory="8Gi",
                workerCPU="8",
                workerMemory="16Gi",
                workerStorage="200Gi",
            ),
        },
        description="Sizes by environment, used where the XR sets none.",
    )
    diskImage: str = Field(
        # The image CAPK v0.11.2's own e2e boots (hack/functest.sh).
        default="docker://quay.io/capk/ubuntu-2404-container-disk",
        description="Machine disk image (CDI registry source) without tag; the tag is the "
        "cluster's kubernetesVersion.",
    )
    controlPlaneStorage: Quantity = Field(
        default="50Gi", description="System disk of each control plane machine."
    )
    storageClass: str | None = Field(
        default=None,
        description="Storage class of machine disks; it must offer ReadWriteMany for live "
        "migration. Unset: the host cluster's default.",
    )
    podCIDR: PodCidr = Field(
        default=POD_CIDR,
        description="Pod network of workload clusters; must not overlap the host cluster's.",
    )
    serviceCIDR: ServiceCidr = Field(
        default=SERVICE_CIDR,
        description="Service network of workload clusters; must not overlap the host cluster's.",
    )
    controlPlaneServiceType: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        default="LoadBalancer", description="Service type of the API server in the host cluster."
    )
    machineHealth: MachineHealth = section(MachineHealth)
    networkPlugins: NetworkPlugins = section(NetworkPlugins)
    cloudControllerManager: CloudControllerManager = section(CloudControllerManager)
    clusterAPIController: ClusterAPIController = section(
        ClusterAPIController, "Where Cluster API's version is read."
    )
    helmProviderConfigSuffix: str = Field(
        default="helm",
        pattern=DNS_1123_LABEL,
        max_length=20,
        description="The provider-helm ProviderConfig reaching a workload cluster is named "
        "<namespace>-<cluster>-<suffix>, in the XR's namespace (one made before keeps its name).",
    )

    @model_validator(mode="after")
    def _networks_apart(self) -> "KubernetesClusterSettings":
        if IPv4Network(self.podCIDR).overlaps(IPv4Network(self.serviceCIDR)):
            raise ValueError(
                f"podCIDR {self.podCIDR} and serviceCIDR {self.serviceCIDR} overlap: "
                "a Service address would also be a pod's"
            )
        return self
