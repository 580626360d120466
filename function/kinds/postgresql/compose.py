"""PostgreSQLInstance: a database on the shared server, or a dedicated CloudNativePG cluster.

Either way the XR gets a connection Secret (basic-auth type, with host, port,
database, username, password and a URL) whose password is generated once and
kept.
"""

from function.context import Desired
from function.kinds.postgresql.connection import PostgreSQLContext
from function.kinds.postgresql.dedicated import compose_dedicated
from function.kinds.postgresql.shared import compose_shared


def compose(ctx: PostgreSQLContext) -> Desired:
    """Compose a shared or dedicated PostgreSQL instance."""
    if ctx.params.deployment == "shared":
        return compose_shared(ctx)
    return compose_dedicated(ctx)
