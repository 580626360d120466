"""PostgreSQLInstance: a database on the shared server, or a dedicated CloudNativePG cluster.

Either way the XR gets a connection Secret (basic-auth type, with host, port,
database, username, password and a URL) whose password is generated once and
kept. On the shared server, database and role are named after the XR's
namespace and name so no two instances collide.
"""

from urllib.parse import quote

from function import readiness
from function.api.postgresql import PostgreSQLParameters, PostgreSQLStatus
from function.composers.common import managed
from function.context import Context, Desired, Selector
from function.naming import dns_label, sql_identifier
from function.secrets import connection_secret, stable_password
from function.structs import JSON
from function.vault import postgresql as vault

SQL_API = "postgresql.sql.m.crossplane.io/v1alpha1"
CNPG_API = "postgresql.cnpg.io/v1"
BARMAN_API = "barmancloud.cnpg.io/v1"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
PORT = 5432

# Composition resource names: stable keys Crossplane tracks resources by.
SECRET = "connection-secret"


def compose(ctx: Context[PostgreSQLParameters]) -> Desired:
    """Compose a shared or dedicated PostgreSQL instance."""
    if ctx.params.deployment == "shared":
        return _shared(ctx)
    return _dedicated(ctx)


def _connection(
    ctx: Context[PostgreSQLParameters], *, host: str, port: int, database: str, ssl: str
) -> JSON:
    """The connection Secret; the login role is named like its database."""
    user = database
    password = stable_password(ctx, SECRET)
    url = (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
        f"{quote(database, safe='')}?sslmode={ssl}"
    )
    return connection_secret(
        ctx,
        dns_label(ctx.xr.name, "postgresql"),
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


def _status(
    ctx: Context[PostgreSQLParameters], secret: JSON, serving: str, host: str, port: int
) -> PostgreSQLStatus:
    data = secret["stringData"]
    serving_ready = readiness.is_ready(ctx.observed.get(serving))
    return PostgreSQLStatus(
        connectionSecret=secret["metadata"]["name"],
        database=data["database"],
        username=data["username"],
        endpoint=f"{host}:{port}" if serving_ready else None,
    )


def _shared(ctx: Context[PostgreSQLParameters]) -> Desired:
    shared = ctx.settings.sharedPostgreSQL
    admin = shared.adminConnectionSecret
    # One identifier for database and role: unique per namespace and XR name.
    name = sql_identifier(ctx.xr.namespace, ctx.xr.name)
    secret = _connection(ctx, host=shared.host, port=shared.port, database=name, ssl=shared.sslMode)
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
        status=_status(ctx, secret, "database", shared.host, shared.port),
        vault=vault.intents(
            ctx,
            secret=secret,
            ssl_mode=shared.sslMode,
            admin=Selector("v1", "Secret", admin.name, admin.namespace),
        ),
    )


def _dedicated(ctx: Context[PostgreSQLParameters]) -> Desired:
    params, dedicated = ctx.params, ctx.settings.dedicatedPostgreSQL
    # CloudNativePG derives pod and Service names (<cluster>-rw) from the
    # cluster name, so it is fixed here and kept short enough for suffixes.
    cluster_name = dns_label(ctx.xr.name, "pg", limit=50)
    host = f"{cluster_name}-rw.{ctx.xr.namespace}.svc"
    database = sql_identifier(ctx.xr.name)
    secret = _connection(ctx, host=host, port=PORT, database=database, ssl="require")
    compute = dedicated.resources[params.size]
    storage: JSON = {"size": f"{params.storageGB}Gi"}
    if dedicated.storageClass:
        storage["storageClass"] = dedicated.storageClass
    spec: JSON = {
        "instances": dedicated.instances.get(params.environment, 1),
        "imageName": dedicated.images[str(params.version)],
        "storage": storage,
        "resources": {
            "requests": {"cpu": compute.cpu, "memory": compute.memory},
            "limits": {"memory": compute.memory},
        },
        "bootstrap": {
            "initdb": {
                "database": database,
                "owner": database,
                "secret": {"name": secret["metadata"]["name"]},
            }
        },
    }
    if vault.wants_engine(ctx):
        # Vault's database engine logs in as the superuser (<cluster>-superuser).
        spec["enableSuperuserAccess"] = True
    resources: dict[str, JSON] = {SECRET: secret}
    if params.enableBackup:
        store_name = dns_label(cluster_name, "backup")
        spec["plugins"] = [
            {
                "name": BARMAN_PLUGIN,
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": store_name},
            }
        ]
        resources["backup-store"] = _object_store(ctx, store_name)
        resources["scheduled-backup"] = {
            "apiVersion": CNPG_API,
            "kind": "ScheduledBackup",
            "metadata": {"name": dns_label(cluster_name, "daily")},
            "spec": {
                "schedule": dedicated.backup.schedule,
                "cluster": {"name": cluster_name},
                "method": "plugin",
                "pluginConfiguration": {"name": BARMAN_PLUGIN},
                "backupOwnerReference": "self",
                "immediate": True,
            },
        }
    resources["cluster"] = {
        "apiVersion": CNPG_API,
        "kind": "Cluster",
        "metadata": {"name": cluster_name},
        "spec": spec,
    }
    status = _status(ctx, secret, "cluster", host, PORT)
    superuser = Selector("v1", "Secret", f"{cluster_name}-superuser", ctx.xr.namespace)
    intents = vault.intents(ctx, secret=secret, ssl_mode="require", admin=superuser)
    return Desired(resources=resources, status=status, vault=intents)


def _object_store(ctx: Context[PostgreSQLParameters], name: str) -> JSON:
    backup = ctx.settings.dedicatedPostgreSQL.backup
    credentials: JSON = (
        {
            "accessKeyId": {"name": backup.credentialsSecret, "key": "ACCESS_KEY_ID"},
            "secretAccessKey": {"name": backup.credentialsSecret, "key": "ACCESS_SECRET_KEY"},
        }
        if backup.credentialsSecret
        else {"inheritFromIAMRole": True}
    )
    configuration: JSON = {
        "destinationPath": f"{backup.destinationPath}/{ctx.xr.namespace}/{ctx.xr.name}",
        "s3Credentials": credentials,
        "wal": {"compression": "gzip"},
        "data": {"compression": "gzip"},
    }
    if backup.endpointURL:
        configuration["endpointURL"] = backup.endpointURL
    return {
        "apiVersion": BARMAN_API,
        "kind": "ObjectStore",
        "metadata": {"name": name},
        "spec": {"configuration": configuration, "retentionPolicy": backup.retentionPolicy},
    }
