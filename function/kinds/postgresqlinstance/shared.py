"""A database and login role on the platform's shared server, through provider-sql.

CRDs: crossplane-contrib/provider-sql (namespaced postgresql.sql.m.crossplane.io).
Database and role are named after the XR's namespace and name, so no two
instances collide.
"""

from function.blocks.managed import managed
from function.context import Desired, Selector
from function.kinds.postgresqlinstance import vault
from function.kinds.postgresqlinstance.connection import (
    SECRET,
    PostgreSQLContext,
    connection,
    status,
)
from function.naming import sql_identifier

SQL_API = "postgresql.sql.m.crossplane.io/v1alpha1"
CRDS = (
    "crds/provider-sql/postgresql.sql.m.crossplane.io_roles.yaml",
    "crds/provider-sql/postgresql.sql.m.crossplane.io_databases.yaml",
    "crds/provider-sql/postgresql.sql.m.crossplane.io_grants.yaml",
)


def compose_shared(ctx: PostgreSQLContext) -> Desired:
    """Role, Database and Grant on the shared server, and the connection Secret."""
    shared = ctx.settings.shared
    admin_secret = shared.adminConnectionSecret
    admin = Selector("v1", "Secret", admin_secret.name, admin_secret.namespace)
    # One identifier for database and role: unique per namespace and XR name.
    name = sql_identifier(ctx.xr.namespace, ctx.xr.name)
    secret = connection(ctx, host=shared.host, port=shared.port, database=name, ssl=shared.sslMode)
    role = managed(
        SQL_API,
        "Role",
        {
            "privileges": {"login": True, "inherit": True},
            "connectionLimit": shared.connectionLimits[ctx.params.size],
            "passwordSecretRef": {"name": secret["metadata"]["name"], "key": "password"},
        },
        shared.providerConfigRef,
        external_name=name,
    )
    database = managed(
        SQL_API,
        "Database",
        {"owner": name, "encoding": "UTF8"},
        shared.providerConfigRef,
        external_name=name,
    )
    grant = managed(
        SQL_API,
        "Grant",
        {"privileges": ["ALL"], "role": name, "database": name, "revokePublicOnDb": True},
        shared.providerConfigRef,
    )
    return Desired(
        resources={SECRET: secret, "role": role, "database": database, "grant": grant},
        status=status(ctx, secret, "database", shared.host, shared.port),
        vault=vault.intents(ctx, secret=secret, ssl_mode=shared.sslMode, admin=admin),
        requirements=vault.requirements(ctx, admin),
    )
