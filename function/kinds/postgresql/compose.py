"""PostgreSQLInstance: a database on the shared server, or a dedicated CloudNativePG cluster.

Either way the XR gets a connection Secret (basic-auth type, with host, port,
database, username, password and a URL) whose password is generated once and
kept.
"""

from function.blocks.immutable import refuse_change
from function.context import Desired
from function.kinds.postgresql.connection import PostgreSQLContext
from function.kinds.postgresql.dedicated import compose_dedicated
from function.kinds.postgresql.shared import compose_shared

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
    if ctx.params.deployment == "shared":
        return compose_shared(ctx)
    return compose_dedicated(ctx)
