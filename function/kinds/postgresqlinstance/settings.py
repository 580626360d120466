"""The PostgreSQLInstance section of the function input: the shared server and dedicated ones."""

from typing import Annotated, Literal

from pydantic import Field

from function.expiry.model import Lifetime
from function.formats import GoDuration
from function.kinds.postgresqlinstance.model import PostgresMajor, Size
from function.model import section
from function.quantity import Quantity
from function.settings import (
    Metrics,
    ProviderConfigRef,
    SecretReference,
    SettingsModel,
    StorageClass,
    keyed_by,
    literal_values,
)

SIZES = keyed_by(literal_values(Size))
# provider-sql's Role connectionLimit is an int32; -1 is PostgreSQL's "no limit".
ConnectionLimit = Annotated[int, Field(ge=-1, le=2**31 - 1)]


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
    connectionLimits: Annotated[dict[str, ConnectionLimit], SIZES] = Field(
        default={"small": 20, "medium": 50, "large": 100},
        description="Connection limit of the login role, by size.",
    )


class ComputeResources(SettingsModel):
    """CPU and memory of a server."""

    cpu: Quantity = Field(description="CPU request and limit.")
    memory: Quantity = Field(description="Memory request and limit.")


class BackupCredentials(SettingsModel):
    """The object store's access keys, brought into each XR's namespace by external-secrets.

    The function composes an ExternalSecret (external-secrets.io/v1) reading them
    from a ClusterSecretStore the platform runs; the Secret it writes has the keys
    ACCESS_KEY_ID and ACCESS_SECRET_KEY the Barman Cloud ObjectStore refers to.
    """

    clusterSecretStore: str = Field(
        description="Name of the ClusterSecretStore holding the access keys; it must allow "
        "the namespaces of PostgreSQLInstances (its spec.conditions)."
    )
    remoteKey: str = Field(description="Key of the entry in that store holding both keys.")
    accessKeyIdProperty: str = Field(
        default="ACCESS_KEY_ID", description="Property of the entry with the access key ID."
    )
    secretAccessKeyProperty: str = Field(
        default="ACCESS_SECRET_KEY",
        description="Property of the entry with the secret access key.",
    )
    refreshInterval: GoDuration = Field(
        default="1h",
        description="How often external-secrets refreshes the Secret (a Go duration).",
    )


class Backup(SettingsModel):
    """Backups of dedicated servers (CloudNativePG with the Barman Cloud plugin).

    No default destination: a platform engineer sets destinationPath and
    credentials; until then an instance with enableBackup gets a FATAL naming them.
    """

    schedule: str = Field(
        default="0 0 2 * * *",
        description="Backup schedule, six-field cron with seconds first (CloudNativePG).",
    )
    destinationPath: str | None = Field(
        default=None,
        pattern=r"^s3://[^/]+(/.*)?$",
        description="Object store prefix (s3://bucket/prefix); each instance writes an archive "
        "of its own under <namespace>/<name>-<uid> (one created before keeps "
        "<namespace>/<name>). Required for instances with enableBackup or restore.",
    )
    endpointURL: str | None = Field(
        default=None, description="S3 endpoint URL, for stores other than AWS S3."
    )
    credentials: BackupCredentials | None = Field(
        default=None,
        description="Where the access keys come from. Required for instances with enableBackup "
        "or restore.",
    )
    retentionPolicy: str = Field(
        default="30d", pattern=r"^[1-9][0-9]*[dwm]$", description="How long backups are kept."
    )


# An image pinned to a minor release (tag <major>.<minor>...) or a digest, never a major-only tag.
PinnedImage = Annotated[str, Field(pattern=r"(:[0-9]+\.[0-9]+[-.a-z0-9]*|@sha256:[0-9a-f]{64})$")]


class DedicatedServers(SettingsModel):
    """Dedicated PostgreSQL servers, run by the CloudNativePG operator."""

    images: Annotated[
        dict[str, PinnedImage], keyed_by(literal_values(PostgresMajor), every=False)
    ] = Field(
        default={
            "15": "ghcr.io/cloudnative-pg/postgresql:15.14-minimal-trixie",
            "16": "ghcr.io/cloudnative-pg/postgresql:16.10-minimal-trixie",
            "17": "ghcr.io/cloudnative-pg/postgresql:17.6-minimal-trixie",
        },
        description="Operand image by PostgreSQL major version, pinned to a minor release "
        "(minimal images: backups run in the Barman Cloud plugin's sidecar). A version left "
        "out is not offered: a dedicated instance asking for it gets an error.",
    )
    storageClass: StorageClass = None
    instances: dict[str, Annotated[int, Field(ge=1, le=99)]] = Field(
        default={"production": 3, "preprod": 2},
        description="PostgreSQL instances (primary + standbys) by environment; 1 elsewhere.",
    )
    resources: Annotated[dict[str, ComputeResources], SIZES] = Field(
        default={
            "small": ComputeResources(cpu="500m", memory="1Gi"),
            "medium": ComputeResources(cpu="1", memory="4Gi"),
            "large": ComputeResources(cpu="2", memory="8Gi"),
        },
        description="CPU and memory of each instance, by size.",
    )
    backup: Backup = section(Backup, "Backups when enableBackup is on.")
    metrics: Metrics = section(
        Metrics,
        "A PodMonitor for each cluster's instances (CloudNativePG serves their metrics on the "
        "port named metrics).",
    )


class Preview(SettingsModel):
    """Preview environments (spec.parameters.environment pr-<number>)."""

    ttl: Lifetime = Field(
        default="168h",
        description="Lifetime of a preview environment's instance that sets no ttl of its own "
        "(at most 8760h, a year).",
    )


class PostgreSQLSettings(SettingsModel):
    """PostgreSQLInstance: the platform's shared server and dedicated CloudNativePG clusters."""

    preview: Preview = section(Preview)
    shared: SharedServer = section(SharedServer)
    dedicated: DedicatedServers = section(DedicatedServers)
