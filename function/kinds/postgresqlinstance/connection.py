"""The connection Secret and status every PostgreSQLInstance gets, shared or dedicated."""

from urllib.parse import quote

from function.context import Context
from function.kinds.postgresqlinstance.model import (
    CONNECTION,
    PostgreSQLParameters,
    PostgreSQLStatus,
)
from function.kinds.postgresqlinstance.settings import PostgreSQLSettings
from function.secrets import connection_secret, stable_password
from function.structs import JSON

PostgreSQLContext = Context[PostgreSQLParameters, PostgreSQLSettings]

# Composition resource names: stable keys Crossplane tracks resources by.
SECRET = "connection-secret"


def connection(ctx: PostgreSQLContext, *, host: str, port: int, database: str, ssl: str) -> JSON:
    """The connection Secret (basic-auth type); the login role is named like its database."""
    user = database
    password = stable_password(ctx, SECRET)
    url = (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
        f"{quote(database, safe='')}?sslmode={ssl}"
    )
    return connection_secret(
        ctx,
        CONNECTION.name(ctx.xr.name),
        {
            "host": host,
            "port": str(port),
            "database": database,
            "username": user,
            "password": password,
            "uri": url,
        },
        secret_type="kubernetes.io/basic-auth",
    )


def status(
    ctx: PostgreSQLContext, secret: JSON, serving: str, host: str, port: int
) -> PostgreSQLStatus:
    """Status from the connection Secret; the endpoint once the serving resource is ready."""
    data = secret["stringData"]
    serving_ready = ctx.observed.ready(serving)
    return PostgreSQLStatus(
        connectionSecret=secret["metadata"]["name"],
        database=data["database"],
        username=data["username"],
        endpoint=f"{host}:{port}" if serving_ready else None,
    )
