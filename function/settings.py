"""The function input: platform-wide settings a platform engineer tunes without code.

It is the ``input`` of the Composition's pipeline step (kind Input). Every
field has a default, so an empty input works; the CRD in package/input is
generated from these models.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class TTL(_Settings):
    """How soon Crossplane calls the function again."""

    provisioningSeconds: int = Field(
        default=30, ge=5, le=3600, description="While anything is not ready yet."
    )
    readySeconds: int = Field(default=600, ge=30, le=86400, description="Once all is ready.")


class FunctionSettings(_Settings):
    """Spec of the Input: every platform setting, all defaulted."""

    credentials: Credentials = Field(default=Credentials(), description=Credentials.__doc__)
    sharedPostgreSQL: SharedPostgreSQL = Field(
        default=SharedPostgreSQL(), description=SharedPostgreSQL.__doc__
    )
    dedicatedPostgreSQL: DedicatedPostgreSQL = Field(
        default=DedicatedPostgreSQL(), description=DedicatedPostgreSQL.__doc__
    )
    redis: Redis = Field(default=Redis(), description=Redis.__doc__)
    ttl: TTL = Field(default=TTL(), description=TTL.__doc__)
