"""KubernetesCluster: a Kubernetes cluster on KubeVirt virtual machines, run by Cluster API."""

from typing import Literal

from pydantic import Field

from function.model import (
    CLUSTER_API_KUBERNETES_VERSION,
    DOMAIN,
    ENVIRONMENT_FIELD,
    KUBERNETES_VERSIONS,
    STANDARD_COLUMNS,
    CompositeAPI,
    CompositeStatus,
    Environment,
    KubernetesVersion,
    Parameters,
    PrinterColumn,
    Rule,
    immutable,
)
from function.quantity import CpuQuantity, Quantity
from function.vault.model import VaultParameters, VaultReporting

NetworkPlugin = Literal["kube-ovn", "calico", "cilium"]

NETWORK_PLUGIN_IMMUTABLE = (
    "a second network plugin would be installed next to the first; create a new cluster "
    "with the other plugin and move the workloads"
)

# Unset sizes come from the environment's preset in the function input
# (kubernetesCluster.presets), else from kubernetesCluster.defaults.
_PRESET = " Unset: the environment's preset (dev is small, production larger)."


class KubernetesClusterParameters(Parameters, VaultParameters):
    """spec.parameters of a KubernetesCluster."""

    environment: Environment = ENVIRONMENT_FIELD
    controlPlaneNodes: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description="Control plane machines; odd, so etcd keeps a quorum." + _PRESET,
    )
    workerNodes: int | None = Field(
        default=None, ge=1, le=10, description="Worker machines." + _PRESET
    )
    controlPlaneCPU: CpuQuantity | None = Field(
        default=None,
        description='CPU of each control plane machine, a Kubernetes quantity ("4", '
        '"1500m"); the VM gets that many cores, rounded up.' + _PRESET,
    )
    controlPlaneMemory: Quantity | None = Field(
        default=None,
        description='Memory of each control plane machine, a Kubernetes quantity ("8Gi").'
        + _PRESET,
    )
    workerCPU: CpuQuantity | None = Field(
        default=None,
        description="CPU of each worker machine, a Kubernetes quantity; the VM gets that many "
        "cores, rounded up." + _PRESET,
    )
    workerMemory: Quantity | None = Field(
        default=None, description="Memory of each worker machine, a Kubernetes quantity." + _PRESET
    )
    workerStorage: Quantity | None = Field(
        default=None,
        description='System disk of each worker machine, a Kubernetes quantity ("100Gi").'
        + _PRESET,
    )
    kubernetesVersion: KubernetesVersion = Field(
        default=CLUSTER_API_KUBERNETES_VERSION,
        description=f"Kubernetes version, {KUBERNETES_VERSIONS}; also picks the machines' "
        "disk image.",
    )
    enableLiveMigration: bool = Field(
        default=True,
        description="Let KubeVirt live-migrate the machines when their host is drained "
        "(ReadWriteMany disks, LiveMigrate eviction).",
    )
    networkPlugin: NetworkPlugin = Field(
        default="kube-ovn",
        description="CNI installed into the cluster once its API server is up; immutable.",
        json_schema_extra=immutable(NETWORK_PLUGIN_IMMUTABLE),
    )

    rules = (
        Rule(
            field="controlPlaneNodes",
            cel="!has(self.controlPlaneNodes) || self.controlPlaneNodes % 2 == 1",
            message="must be odd (etcd needs a quorum)",
            check=lambda p: p.controlPlaneNodes is None or p.controlPlaneNodes % 2 == 1,
            form={"properties": {"controlPlaneNodes": {"not": {"multipleOf": 2}}}},
        ),
    )


class KubernetesClusterStatus(CompositeStatus, VaultReporting):
    """status of a KubernetesCluster."""

    clusterEndpoint: str | None = Field(
        default=None, description="URL of the cluster's API server, once known."
    )
    clusterReady: bool | None = Field(
        default=None, description="Cluster API reports the cluster Available."
    )
    kubeconfigSecret: str | None = Field(
        default=None,
        description="Name of the Secret in this namespace holding the admin kubeconfig "
        "(key value), once Cluster API has written it.",
    )
    readyControlPlaneNodes: int | None = Field(
        default=None, description="Control plane machines ready."
    )
    readyWorkerNodes: int | None = Field(default=None, description="Worker machines ready.")


API = CompositeAPI(
    group=f"compute.{DOMAIN}",
    kind="KubernetesCluster",
    plural="kubernetesclusters",
    parameters=KubernetesClusterParameters,
    status=KubernetesClusterStatus,
    description="A Kubernetes cluster on KubeVirt virtual machines (Cluster API), with its "
    "network plugin and cloud controller manager installed.",
    printer_columns=(
        PrinterColumn("Environment", ".spec.parameters.environment"),
        PrinterColumn("Version", ".spec.parameters.kubernetesVersion"),
        PrinterColumn("Control plane", ".status.readyControlPlaneNodes", "integer"),
        PrinterColumn("Workers", ".status.readyWorkerNodes", "integer"),
        *STANDARD_COLUMNS,
        PrinterColumn("Endpoint", ".status.clusterEndpoint"),
    ),
)
