"""PostgreSQLInstance: a database on the shared server, or a dedicated CloudNativePG cluster.

Either way the XR gets a connection Secret (basic-auth type, with host, port,
database, username, password and a URL) whose password is generated once and
kept.
"""

from function.blocks.immutable import refuse_change
from function.context import Composite, Desired
from function.expiry import lifetime
from function.kinds.postgresqlinstance.connection import PostgreSQLContext
from function.kinds.postgresqlinstance.dedicated import compose_dedicated
from function.kinds.postgresqlinstance.model import (
    PostgreSQLParameters,
    PostgreSQLStatus,
    is_preview,
)
from function.kinds.postgresqlinstance.settings import PostgreSQLSettings
from function.kinds.postgresqlinstance.shared import compose_shared
from function.refusal import Refusal

DEPLOYMENT_WHY = (
    "the database lives on the shared server or in the dedicated cluster and would be "
    "dropped with it, not moved; create a new PostgreSQLInstance with the other deployment, "
    "copy the data (pg_dump/pg_restore), then delete this one"
)


def compose(ctx: PostgreSQLContext) -> Desired:
    """Compose a shared or dedicated PostgreSQL instance."""
    # What is composed tells how the instance was deployed: its Cluster or its Database.
    was = (
        "dedicated"
        if "cluster" in ctx.observed
        else "shared"
        if "database" in ctx.observed
        else None
    )
    refuse_change("deployment", was, ctx.params.deployment, DEPLOYMENT_WHY)
    expiry = instance_lifetime(ctx.xr, ctx.params, ctx.settings)
    desired = compose_shared(ctx) if ctx.params.deployment == "shared" else compose_dedicated(ctx)
    if expiry is not None and isinstance(desired.status, PostgreSQLStatus):
        expires = lifetime.expires_at(ctx.xr, expiry)
        if expires is not None:
            desired.status.expiresAt = lifetime.timestamp(expires)
            lifetime.report_expiry(desired, expires)
    return desired


def instance_lifetime(
    xr: Composite, params: PostgreSQLParameters, settings: PostgreSQLSettings
) -> str | None:
    """The instance's lifetime; preview environments always have one."""
    default = settings.preview.ttl if is_preview(params.environment) else None
    expiry = lifetime.lifetime(xr, params.ttl, default)
    if expiry is not None and params.environment == "production":
        raise Refusal(
            f"metadata.annotations.{lifetime.ANNOTATION}: not allowed in production: a "
            "production database never expires"
        )
    return expiry
