"""PostgreSQLInstance: a database on the shared server, or a dedicated PostgreSQL cluster."""

from typing import Literal

from pydantic import Field

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
    immutable,
)
from function.vault.model import VaultParameters, VaultReporting

Size = Literal["small", "medium", "large"]
Deployment = Literal["shared", "dedicated"]
PostgresMajor = Literal[15, 16, 17]


class PostgreSQLParameters(Parameters, VaultParameters):
    """spec.parameters of a PostgreSQLInstance."""

    environment: Environment = ENVIRONMENT_FIELD
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
    )


class PostgreSQLStatus(CompositeStatus, VaultReporting):
    """status of a PostgreSQLInstance."""

    endpoint: str | None = Field(default=None, description="host:port of the read-write service.")
    database: str | None = Field(default=None, description="Name of the database.")
    username: str | None = Field(default=None, description="Login role owning the database.")


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
