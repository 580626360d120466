"""PostgreSQLInstance: a database on the shared server, or a dedicated PostgreSQL cluster."""

from typing import Annotated, Literal, get_args

from pydantic import Field

from function.expiry.model import ExpiringParameters, ExpiringStatus
from function.model import (
    DOMAIN,
    ENVIRONMENT_FIELD,
    STANDARD_COLUMNS,
    CompositeAPI,
    CompositeStatus,
    Environment,
    Parameters,
    PrinterColumn,
    Rule,
    immutable,
)
from function.validation import named_pattern
from function.vault.model import VaultParameters, VaultReporting

Size = Literal["small", "medium", "large"]
Deployment = Literal["shared", "dedicated"]
PostgresMajor = Literal[15, 16, 17]

# Preview environments are named after their pull request, as seed 003 section 7 writes them.
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

    rules = (
        Rule(
            field="enableBackup",
            cel="self.environment != 'production' || self.enableBackup",
            message="must be true in production",
            check=lambda p: p.environment != "production" or p.enableBackup,
        ),
        Rule(
            field="ttl",
            cel="self.environment != 'production' || !has(self.ttl)",
            message="not allowed in production: a production database never expires",
            check=lambda p: p.environment != "production" or p.ttl is None,
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
)
