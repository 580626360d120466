"""PostgreSQLInstance: a database on the shared server, or a dedicated PostgreSQL cluster."""

from typing import Annotated, Literal, get_args

from pydantic import Field

from function.expiry.model import ExpiringParameters, ExpiringStatus
from function.formats import DNS_1123_LABEL
from function.model import (
    DOMAIN,
    ENVIRONMENT_FIELD,
    STANDARD_COLUMNS,
    CompositeAPI,
    CompositeStatus,
    ConnectionSecret,
    Environment,
    Parameters,
    PrinterColumn,
    Rule,
    StrictModel,
    immutable,
    unchanged_presence,
)
from function.validation import named_pattern
from function.vault.model import VaultParameters, VaultReporting

Size = Literal["small", "medium", "large"]
Deployment = Literal["shared", "dedicated"]
PostgresMajor = Literal[15, 16, 17]

# Preview environments are named after their pull request (pr-1234): the environment of a
# pull request's preview is pr-<number>.
PREVIEW_PREFIX = "pr-"
PostgreSQLEnvironment = Annotated[
    str,
    Field(
        pattern=named_pattern(
            rf"^({'|'.join(get_args(Environment))}|{PREVIEW_PREFIX}[1-9][0-9]{{0,8}})$",
            "must be one of "
            + ", ".join(repr(e) for e in get_args(Environment))
            + f" or {PREVIEW_PREFIX}<pull request number>",
        ),
        max_length=20,
        description=f"{ENVIRONMENT_FIELD.description} A preview environment is "
        f"{PREVIEW_PREFIX}<pull request number>: size small, no backups, and a lifetime "
        "(ttl, or the platform's default for previews).",
    ),
]


def is_preview(environment: str) -> bool:
    return environment.startswith(PREVIEW_PREFIX)


class CloneSource(StrictModel):
    """The dedicated PostgreSQLInstance a sandbox is cloned from."""

    namespace: str = Field(pattern=DNS_1123_LABEL, max_length=63, description="Its namespace.")
    name: str = Field(pattern=DNS_1123_LABEL, max_length=63, description="Its name.")


class Cloning(StrictModel):
    """Who may clone this instance, and what runs on every clone's data after the import."""

    namespaces: list[Annotated[str, Field(pattern=DNS_1123_LABEL, max_length=63)]] = Field(
        min_length=1,
        max_length=20,
        description="Namespaces whose PostgreSQLInstances may name this one in cloneFrom. "
        "Nobody else may; leave cloning unset to allow no one.",
    )
    anonymizationSQL: list[Annotated[str, Field(min_length=1, max_length=10000)]] = Field(
        default=[],
        max_length=100,
        description="SQL run as superuser in each clone's database right after the import "
        "(CloudNativePG postImportApplicationSQL), before anyone can connect: where personal "
        "data is anonymized. Required in production.",
    )


# metadata.uid as the API server writes it (a UUID, lower case).
UID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# CloudNativePG recoveryTarget.targetTime: RFC 3339 (a timestamp without zone is UTC).
TARGET_TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?$"
)


class RestoreSource(StrictModel):
    """The backups of a dedicated instance of this namespace to create this one from."""

    instance: str = Field(
        pattern=DNS_1123_LABEL,
        max_length=63,
        description="Name of the PostgreSQLInstance, in this namespace, whose backups are "
        "restored (it may have been deleted since).",
    )
    uid: str | None = Field(
        default=None,
        pattern=UID_PATTERN,
        description="Its metadata.uid, the end of its status.backupPath: each instance has an "
        "archive of its own. Unset: the archive of an instance that has none in its "
        "backupPath (written before archives were per instance).",
    )
    targetTime: str | None = Field(
        default=None,
        pattern=TARGET_TIME_PATTERN,
        max_length=40,
        description="Point in time to recover to (RFC 3339, e.g. 2026-03-01T09:30:00Z); "
        "unset: the end of the archived WAL.",
    )


class PostgreSQLParameters(Parameters, VaultParameters, ExpiringParameters):
    """spec.parameters of a PostgreSQLInstance."""

    environment: PostgreSQLEnvironment
    size: Size = Field(
        default="small",
        description="Compute size: connection limit on the shared server, CPU and memory of a "
        "dedicated one.",
    )
    storageGB: int = Field(
        default=20, ge=1, le=16384, description="Volume size of a dedicated server, in GiB."
    )
    enableBackup: bool = Field(
        default=True,
        description="Scheduled backups and WAL archiving of a dedicated server to the platform's "
        "object store. The shared server is backed up by the platform.",
    )
    deployment: Deployment = Field(
        default="shared",
        description="shared: a database and login role on the platform's shared server; "
        "dedicated: its own PostgreSQL cluster run by CloudNativePG. Immutable.",
        json_schema_extra=immutable(
            "switching drops the database; create a new instance and copy the data"
        ),
    )
    version: PostgresMajor = Field(
        default=16, description="PostgreSQL major version of a dedicated server."
    )
    cloneFrom: CloneSource | None = Field(
        default=None,
        description="Create this dedicated instance as a copy of another one's database "
        "(CloudNativePG import at bootstrap), anonymized by the source's "
        "cloning.anonymizationSQL. The source must list this namespace in its "
        "cloning.namespaces, and keep listing it for its credentials to stay copied. Read "
        "once, when the cluster is created: cannot be set, removed or changed afterwards.",
    )
    restore: RestoreSource | None = Field(
        default=None,
        description="Create this dedicated instance from the backups of an instance of this "
        "namespace (CloudNativePG recovery from the Barman Cloud archive), up to targetTime. "
        "Read once, when the cluster is created: cannot be set, removed or changed afterwards.",
    )
    cloning: Cloning | None = Field(
        default=None,
        description="Allow sandboxes in the namespaces listed to clone this dedicated "
        "instance: a read-only login role (pg_read_all_data) is created for them. Removing "
        "it drops that role.",
    )

    # Checked by the composer against the observed cluster (clone.refuse_source_change).
    transitions = (
        unchanged_presence("cloneFrom", "the data was imported when the cluster was created"),
        unchanged_presence("restore", "the data was restored when the cluster was created"),
    )
    rules = (
        Rule(
            field="enableBackup",
            cel="self.environment != 'production' || self.enableBackup",
            message="must be true in production",
            check=lambda p: p.environment != "production" or p.enableBackup,
            form={
                "if": {"properties": {"environment": {"const": "production"}}},
                "then": {"properties": {"enableBackup": {"const": True}}},
            },
        ),
        Rule(
            field="ttl",
            cel="self.environment != 'production' || !has(self.ttl)",
            message="not allowed in production: a production database never expires",
            check=lambda p: p.environment != "production" or p.ttl is None,
        ),
        Rule(
            field="cloneFrom",
            cel="!has(self.cloneFrom) || (self.deployment == 'dedicated' && "
            "self.environment != 'production')",
            message="needs deployment: dedicated, and a clone is never production",
            check=lambda p: (
                p.cloneFrom is None
                or (p.deployment == "dedicated" and p.environment != "production")
            ),
        ),
        Rule(
            field="restore",
            cel="!has(self.restore) || (self.deployment == 'dedicated' && !has(self.cloneFrom))",
            message="needs deployment: dedicated, and not cloneFrom (a cluster is created one way)",
            check=lambda p: (
                p.restore is None or (p.deployment == "dedicated" and p.cloneFrom is None)
            ),
        ),
        Rule(
            field="cloning",
            cel="!has(self.cloning) || (self.deployment == 'dedicated' && "
            "(self.environment != 'production' || (has(self.cloning.anonymizationSQL) && "
            "size(self.cloning.anonymizationSQL) > 0)))",
            message="needs deployment: dedicated, and in production anonymizationSQL: "
            "production data leaves only anonymized",
            check=lambda p: (
                p.cloning is None
                or (
                    p.deployment == "dedicated"
                    and (p.environment != "production" or bool(p.cloning.anonymizationSQL))
                )
            ),
        ),
        Rule(
            field="size",
            cel=f"!self.environment.startsWith('{PREVIEW_PREFIX}') || self.size == 'small'",
            message="must be small in a preview environment (pr-<number>)",
            check=lambda p: not is_preview(p.environment) or p.size == "small",
        ),
        Rule(
            field="enableBackup",
            cel=f"!self.environment.startsWith('{PREVIEW_PREFIX}') || !self.enableBackup",
            message="must be false in a preview environment (pr-<number>): previews are "
            "thrown away",
            check=lambda p: not is_preview(p.environment) or not p.enableBackup,
        ),
    )


class PostgreSQLStatus(CompositeStatus, VaultReporting, ExpiringStatus):
    """status of a PostgreSQLInstance."""

    endpoint: str | None = Field(default=None, description="host:port of the read-write service.")
    database: str | None = Field(default=None, description="Name of the database.")
    username: str | None = Field(default=None, description="Login role owning the database.")
    backupPath: str | None = Field(
        default=None,
        description="Where a dedicated instance's backups and WAL go: the object store path of "
        "its archive, which restore names by instance and uid.",
    )


CONNECTION = ConnectionSecret(
    suffix="postgresql",
    keys=("database", "host", "password", "port", "uri", "username"),
    workload_property="database",
)

API = CompositeAPI(
    group=f"database.{DOMAIN}",
    kind="PostgreSQLInstance",
    plural="postgresqlinstances",
    parameters=PostgreSQLParameters,
    status=PostgreSQLStatus,
    description="A PostgreSQL database with its login role and a connection Secret.",
    printer_columns=(
        PrinterColumn("Environment", ".spec.parameters.environment"),
        PrinterColumn("Deployment", ".spec.parameters.deployment"),
        PrinterColumn("Size", ".spec.parameters.size"),
        *STANDARD_COLUMNS,
        PrinterColumn("Endpoint", ".status.endpoint"),
    ),
    connection=CONNECTION,
)
