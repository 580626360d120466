"""The PostgreSQLInstance section of the function input: the shared server and dedicated ones."""

from typing import Literal

from pydantic import Field

from function.settings import ProviderConfigRef, SecretReference, SettingsModel, StorageClass


class SharedServer(SettingsModel):
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


class ComputeResources(SettingsModel):
    """CPU and memory of a server."""

    cpu: str = Field(description="CPU request.")
    memory: str = Field(description="Memory request and limit.")


class Backup(SettingsModel):
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


class DedicatedServers(SettingsModel):
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
    storageClass: StorageClass = None
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


class PostgreSQLSettings(SettingsModel):
    """PostgreSQLInstance: the platform's shared server and dedicated CloudNativePG clusters."""

    shared: SharedServer = Field(default=SharedServer(), description=SharedServer.__doc__)
    dedicated: DedicatedServers = Field(
        default=DedicatedServers(), description=DedicatedServers.__doc__
    )
