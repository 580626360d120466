"""A dedicated PostgreSQL cluster run by CloudNativePG, backed up by the Barman Cloud plugin.

CRDs: cloudnative-pg (Cluster, ScheduledBackup) and plugin-barman-cloud (ObjectStore).
"""

from function.blocks.storage import storage_class
from function.context import Desired, Selector
from function.kinds.postgresql import vault
from function.kinds.postgresql.connection import SECRET, PostgreSQLContext, connection, status
from function.naming import dns_label, sql_identifier
from function.structs import JSON

CNPG_API = "postgresql.cnpg.io/v1"
BARMAN_API = "barmancloud.cnpg.io/v1"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
PORT = 5432
CRDS = (
    "crds/cloudnative-pg/postgresql.cnpg.io_clusters.yaml",
    "crds/cloudnative-pg/postgresql.cnpg.io_scheduledbackups.yaml",
    "crds/plugin-barman-cloud/barmancloud.cnpg.io_objectstores.yaml",
)


def compose_dedicated(ctx: PostgreSQLContext) -> Desired:
    """A CloudNativePG Cluster (with backups when enabled) and the connection Secret."""
    params, dedicated = ctx.params, ctx.settings.dedicated
    # CloudNativePG derives pod and Service names (<cluster>-rw) from the
    # cluster name, so it is fixed here and kept short enough for suffixes.
    cluster_name = dns_label(ctx.xr.name, "pg", limit=50)
    host = f"{cluster_name}-rw.{ctx.xr.namespace}.svc"
    database = sql_identifier(ctx.xr.name)
    secret = connection(ctx, host=host, port=PORT, database=database, ssl="require")
    compute = dedicated.resources[params.size]
    storage: JSON = {"size": f"{params.storageGB}Gi"}
    storage |= storage_class("storageClass", dedicated.storageClass)
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
        resources["scheduled-backup"] = _scheduled_backup(ctx, cluster_name)
    resources["cluster"] = {
        "apiVersion": CNPG_API,
        "kind": "Cluster",
        "metadata": {"name": cluster_name},
        "spec": spec,
    }
    superuser = Selector("v1", "Secret", f"{cluster_name}-superuser", ctx.xr.namespace)
    return Desired(
        resources=resources,
        status=status(ctx, secret, "cluster", host, PORT),
        vault=vault.intents(ctx, secret=secret, ssl_mode="require", admin=superuser),
    )


def _scheduled_backup(ctx: PostgreSQLContext, cluster_name: str) -> JSON:
    return {
        "apiVersion": CNPG_API,
        "kind": "ScheduledBackup",
        "metadata": {"name": dns_label(cluster_name, "daily")},
        "spec": {
            "schedule": ctx.settings.dedicated.backup.schedule,
            "cluster": {"name": cluster_name},
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN_PLUGIN},
            "backupOwnerReference": "self",
            "immediate": True,
        },
    }


def _object_store(ctx: PostgreSQLContext, name: str) -> JSON:
    backup = ctx.settings.dedicated.backup
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
