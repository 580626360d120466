"""The function input: platform-wide settings a platform engineer tunes without code.

It is the ``input`` of the Composition's pipeline step (kind Input). Every
field has a default, so an empty input works; the CRD in package/input is
generated from these models.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from function.quantity import Quantity

INPUT_GROUP = "fn.platform.example.org"
INPUT_VERSION = "v1beta1"
INPUT_KIND = "Input"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProviderConfigRef(_Settings):
    """Which provider configuration a managed resource uses."""

    kind: Literal["ClusterProviderConfig", "ProviderConfig"] = Field(
        default="ClusterProviderConfig",
        description="ClusterProviderConfig (cluster-wide) or ProviderConfig (in the XR namespace).",
    )
    name: str = Field(description="Name of the provider configuration.")


class HelmChart(_Settings):
    """A Helm chart, pinned."""

    repository: str = Field(description="Chart repository URL.")
    name: str = Field(description="Chart name.")
    version: str = Field(description="Chart version, pinned.")


class SecretReference(_Settings):
    """A Secret in a given namespace."""

    namespace: str = Field(description="Namespace of the Secret.")
    name: str = Field(description="Name of the Secret.")


class Credentials(_Settings):
    """The Composition step's credentials the function reads."""

    name: str = Field(
        default="platform", description="Name of the step credentials (a Secret) to read."
    )
    passwordKeyField: str = Field(
        default="password-key",
        description="Key of the Secret holding the secret key from which generated passwords "
        "are derived (HMAC of the XR's UID). Keep it stable: a changed key changes only "
        "passwords not yet created.",
    )


class SharedPostgreSQL(_Settings):
    """The platform's shared PostgreSQL server, reached through provider-sql."""

    host: str = Field(
        default="postgresql.platform-data.svc.cluster.local",
        description="Host applications connect to.",
    )
    port: int = Field(default=5432, ge=1, le=65535, description="Port applications connect to.")
    sslMode: Literal["disable", "require", "verify-ca", "verify-full"] = Field(
        default="require", description="sslmode in the connection URL."
    )
    providerConfigRef: ProviderConfigRef = Field(
        default=ProviderConfigRef(name="shared-postgresql"),
        description="provider-sql configuration for the shared server.",
    )
    adminConnectionSecret: SecretReference = Field(
        default=SecretReference(namespace="crossplane-system", name="shared-postgresql-admin"),
        description="The admin connection Secret provider-sql uses (read by the Vault "
        "integration to configure dynamic credentials).",
    )
    connectionLimits: dict[str, int] = Field(
        default={"small": 20, "medium": 50, "large": 100},
        description="Connection limit of the login role, by size.",
    )


class ComputeResources(_Settings):
    """CPU and memory of a server."""

    cpu: str = Field(description="CPU request.")
    memory: str = Field(description="Memory request and limit.")


class Backup(_Settings):
    """Backups of dedicated servers (CloudNativePG with the Barman Cloud plugin)."""

    schedule: str = Field(
        default="0 0 2 * * *",
        description="Backup schedule, six-field cron with seconds first (CloudNativePG).",
    )
    destinationPath: str = Field(
        default="s3://platform-backups/postgresql",
        description="Object store prefix; each instance writes under <namespace>/<name>.",
    )
    endpointURL: str | None = Field(
        default=None, description="S3 endpoint URL, for stores other than AWS S3."
    )
    credentialsSecret: str | None = Field(
        default=None,
        description="Secret in the XR namespace with ACCESS_KEY_ID and ACCESS_SECRET_KEY; "
        "unset to use the pod's IAM role.",
    )
    retentionPolicy: str = Field(
        default="30d", pattern=r"^[1-9][0-9]*[dwm]$", description="How long backups are kept."
    )


class DedicatedPostgreSQL(_Settings):
    """Dedicated PostgreSQL servers, run by the CloudNativePG operator."""

    images: dict[str, str] = Field(
        default={
            "15": "ghcr.io/cloudnative-pg/postgresql:15-minimal-trixie",
            "16": "ghcr.io/cloudnative-pg/postgresql:16-minimal-trixie",
            "17": "ghcr.io/cloudnative-pg/postgresql:17-minimal-trixie",
        },
        description="Operand image by PostgreSQL major version (minimal images: backups run in "
        "the Barman Cloud plugin's sidecar).",
    )
    storageClass: str | None = Field(default=None, description="Storage class of the volumes.")
    instances: dict[str, int] = Field(
        default={"production": 3, "preprod": 2},
        description="PostgreSQL instances (primary + standbys) by environment; 1 elsewhere.",
    )
    resources: dict[str, ComputeResources] = Field(
        default={
            "small": ComputeResources(cpu="500m", memory="1Gi"),
            "medium": ComputeResources(cpu="1", memory="4Gi"),
            "large": ComputeResources(cpu="2", memory="8Gi"),
        },
        description="CPU and memory of each instance, by size.",
    )
    backup: Backup = Field(default=Backup(), description="Backups when enableBackup is on.")


class Redis(_Settings):
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
    storageClass: str | None = Field(default=None, description="Storage class of the volumes.")


class ClusterSize(_Settings):
    """Machine counts and sizes of a KubernetesCluster; unset fields fall back further."""

    controlPlaneNodes: Literal[1, 3, 5] | None = Field(
        default=None, description="Control plane machines (odd: etcd needs a quorum)."
    )
    workerNodes: int | None = Field(default=None, ge=1, le=10, description="Worker machines.")
    controlPlaneCPU: Quantity | None = Field(
        default=None, description="CPU per control plane machine."
    )
    controlPlaneMemory: Quantity | None = Field(
        default=None, description="Memory per control plane machine."
    )
    workerCPU: Quantity | None = Field(default=None, description="CPU per worker machine.")
    workerMemory: Quantity | None = Field(default=None, description="Memory per worker machine.")
    workerStorage: Quantity | None = Field(
        default=None, description="System disk per worker machine."
    )


class AddOnChart(_Settings):
    """A Helm chart installed into every workload cluster, and the namespace it goes to."""

    chart: HelmChart = Field(description="The chart, pinned.")
    namespace: str = Field(description="Namespace in the workload cluster.")


class NetworkPlugins(_Settings):
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


class MachineHealth(_Settings):
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


class KubernetesClusters(_Settings):
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
        default="docker://quay.io/capk/ubuntu-2204-container-disk",
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
    podCIDR: str = Field(default="10.244.0.0/16", description="Pod network of workload clusters.")
    serviceCIDR: str = Field(
        default="10.96.0.0/12", description="Service network of workload clusters."
    )
    controlPlaneServiceType: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        default="LoadBalancer", description="Service type of the API server in the host cluster."
    )
    machineHealth: MachineHealth = Field(default=MachineHealth(), description=MachineHealth.__doc__)
    networkPlugins: NetworkPlugins = Field(
        default=NetworkPlugins(), description=NetworkPlugins.__doc__
    )
    cloudControllerManager: AddOnChart = Field(
        default=AddOnChart(
            chart=HelmChart(
                repository="oci://ghcr.io/kubevirt/kubevirt-cloud-controller-manager-helm",
                name="kubevirt-cloud-controller-manager",
                version="0.7.0",
            ),
            namespace="kube-system",
        ),
        description="The KubeVirt cloud controller manager chart.",
    )
    helmProviderConfigSuffix: str = Field(
        default="helm",
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=20,
        description="The provider-helm ProviderConfig reaching a workload cluster is named "
        "<cluster>-<suffix>, in the XR's namespace.",
    )


class TTL(_Settings):
    """How soon Crossplane calls the function again."""

    provisioningSeconds: int = Field(
        default=30, ge=5, le=3600, description="While anything is not ready yet."
    )
    readySeconds: int = Field(default=600, ge=30, le=86400, description="Once all is ready.")


class VaultTokenAuth(_Settings):
    """Token auth: a Vault token kept in the step's credentials."""

    tokenKey: str = Field(
        default="vault-token", description="Credentials key holding the Vault token."
    )


class VaultAppRoleAuth(_Settings):
    """AppRole auth: role ID (input or credentials) and secret ID (credentials)."""

    mount: str = Field(default="approle", description="Mount path of the AppRole auth method.")
    roleId: str | None = Field(
        default=None, description="The role ID; unset to read it from the credentials."
    )
    roleIdKey: str = Field(
        default="vault-approle-role-id",
        description="Credentials key holding the role ID when roleId is unset.",
    )
    secretIdKey: str = Field(
        default="vault-approle-secret-id", description="Credentials key holding the secret ID."
    )


class VaultKubernetesAuth(_Settings):
    """Kubernetes auth: a service account token (JWT) exchanged for a Vault token."""

    mount: str = Field(
        default="kubernetes", description="Mount path of the Kubernetes auth method."
    )
    role: str = Field(default="crossplane", description="Vault role to log in as.")
    jwtKey: str = Field(
        default="vault-kubernetes-jwt",
        description="Credentials key holding the JWT; when absent, tokenFile is read.",
    )
    tokenFile: str | None = Field(
        default="/var/run/secrets/kubernetes.io/serviceaccount/token",
        description="The function pod's own service account token, used when the credentials "
        "have no JWT; unset to require the JWT in the credentials.",
    )


class VaultAuth(_Settings):
    """How the function logs in to Vault."""

    method: Literal["token", "approle", "kubernetes"] = Field(
        default="token", description="token, approle or kubernetes."
    )
    token: VaultTokenAuth = Field(default=VaultTokenAuth(), description=VaultTokenAuth.__doc__)
    appRole: VaultAppRoleAuth = Field(
        default=VaultAppRoleAuth(), description=VaultAppRoleAuth.__doc__
    )
    kubernetes: VaultKubernetesAuth = Field(
        default=VaultKubernetesAuth(), description=VaultKubernetesAuth.__doc__
    )


class VaultDatabase(_Settings):
    """Dynamic PostgreSQL credentials through Vault's database secrets engine."""

    enabled: bool = Field(
        default=True, description="Configure a connection and a read-write role per database."
    )
    mount: str = Field(default="database", description="Mount path of the database engine.")
    defaultTTLSeconds: int = Field(
        default=3600, ge=60, le=31536000, description="Default lease of issued credentials."
    )
    maxTTLSeconds: int = Field(
        default=86400, ge=60, le=31536000, description="Maximum lease of issued credentials."
    )


class Vault(_Settings):
    """Vault (or OpenBao): where XRs with spec.parameters.vaultPath register credentials.

    Address, mounts and auth come only from here and from the step's
    credentials, never from the XR.
    """

    address: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/.*)?$",
        description="Vault URL, e.g. https://vault.vault.svc:8200; unset to read it from the "
        "credentials (addressKey).",
    )
    addressKey: str = Field(
        default="vault-address", description="Credentials key with the URL when address is unset."
    )
    credentials: str | None = Field(
        default=None,
        description="Name of the step credentials holding the Vault secrets; unset for the same "
        "ones as credentials.name.",
    )
    namespace: str | None = Field(default=None, description="Vault Enterprise namespace.")
    kvMount: str | None = Field(
        default=None,
        description="KV v2 mount the vaultPath is inside; unset when a vaultPath starts with "
        "its mount (secret/database/dev: mount secret, path database/dev).",
    )
    database: VaultDatabase = Field(default=VaultDatabase(), description=VaultDatabase.__doc__)
    auth: VaultAuth = Field(default=VaultAuth(), description=VaultAuth.__doc__)
    requestTimeoutSeconds: int = Field(
        default=5, ge=1, le=30, description="Timeout of each Vault request."
    )
    budgetSeconds: int = Field(
        default=20,
        ge=1,
        le=40,
        description="Time the whole Vault step may take per call, well under Crossplane's "
        "function timeout; what is left undone is retried on the next call.",
    )
    retrySeconds: int = Field(
        default=30, ge=5, le=600, description="Call again this soon when Vault could not be synced."
    )
    tlsVerify: bool = Field(default=True, description="Verify Vault's TLS certificate.")
    caCertKey: str = Field(
        default="vault-ca.crt",
        description="Credentials key with a PEM CA bundle for Vault's certificate (optional).",
    )


class FunctionSettings(_Settings):
    """Spec of the Input: every platform setting, all defaulted."""

    credentials: Credentials = Field(default=Credentials(), description=Credentials.__doc__)
    sharedPostgreSQL: SharedPostgreSQL = Field(
        default=SharedPostgreSQL(), description=SharedPostgreSQL.__doc__
    )
    dedicatedPostgreSQL: DedicatedPostgreSQL = Field(
        default=DedicatedPostgreSQL(), description=DedicatedPostgreSQL.__doc__
    )
    kubernetesClusters: KubernetesClusters = Field(
        default=KubernetesClusters(), description=KubernetesClusters.__doc__
    )
    redis: Redis = Field(default=Redis(), description=Redis.__doc__)
    vault: Vault = Field(default=Vault(), description=Vault.__doc__)
    ttl: TTL = Field(default=TTL(), description=TTL.__doc__)
