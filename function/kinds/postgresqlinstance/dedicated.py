"""A dedicated PostgreSQL cluster run by CloudNativePG, backed up by the Barman Cloud plugin.

CRDs: cloudnative-pg (Cluster, ScheduledBackup) and plugin-barman-cloud (ObjectStore).
Each instance archives into its own path (archive.py); one may be created from another's
backups (restore.py).
"""

from function.blocks.storage import storage_class
from function.context import Desired, Selector, WarningResult
from function.kinds.postgresqlinstance import clone, restore, vault
from function.kinds.postgresqlinstance.archive import BACKUP_STORE, own_archive
from function.kinds.postgresqlinstance.connection import (
    SECRET,
    PostgreSQLContext,
    connection,
    status,
)
from function.kinds.postgresqlinstance.settings import Backup, BackupCredentials
from function.naming import dns_label, sql_identifier, starts_with_letter
from function.refusal import Refusal
from function.settings import SETTINGS_WHERE
from function.structs import JSON

CNPG_API = "postgresql.cnpg.io/v1"
MONITORING_API = "monitoring.coreos.com/v1"
ESO_API = "external-secrets.io/v1"
BARMAN_API = "barmancloud.cnpg.io/v1"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
PORT = 5432
CRDS = (
    "crds/cloudnative-pg/postgresql.cnpg.io_clusters.yaml",
    "crds/cloudnative-pg/postgresql.cnpg.io_scheduledbackups.yaml",
    "crds/plugin-barman-cloud/barmancloud.cnpg.io_objectstores.yaml",
    "crds/external-secrets/external-secrets.io_externalsecrets.yaml",
    "crds/prometheus-operator/monitoring.coreos.com_podmonitors.yaml",
)
BACKUP_SETTINGS = "postgresqlInstance.dedicated.backup"
# The keys plugin-barman-cloud's ObjectStore reads (s3Credentials.accessKeyId and
# secretAccessKey are Secret key selectors; the names follow its documentation).
ACCESS_KEY_ID = "ACCESS_KEY_ID"
ACCESS_SECRET_KEY = "ACCESS_SECRET_KEY"


def compose_dedicated(ctx: PostgreSQLContext) -> Desired:
    """A CloudNativePG Cluster (with backups when enabled) and the connection Secret."""
    params, dedicated = ctx.params, ctx.settings.dedicated
    # CloudNativePG derives pod and Service names (<cluster>-rw) from the
    # cluster name, so it is fixed here and kept short enough for suffixes.
    if not starts_with_letter(ctx.xr.name):
        raise Refusal(
            f"metadata.name {ctx.xr.name!r} must start with a letter: CloudNativePG names the "
            "cluster's Services after it (<cluster>-rw), and a Service name starts with a letter"
        )
    cluster_name = clone.cluster_name(ctx.xr.name)
    host = f"{cluster_name}-rw.{ctx.xr.namespace}.svc"
    restored_path = _restored_path(ctx)
    # A restored cluster holds the source's database (named after the source instance).
    database = sql_identifier(params.restore.instance if params.restore else ctx.xr.name)
    secret = connection(ctx, host=host, port=PORT, database=database, ssl="require")
    superuser = Selector("v1", "Secret", f"{cluster_name}-superuser", ctx.xr.namespace)
    warnings: list[WarningResult] = []
    requirements = vault.requirements(ctx, superuser)
    source = params.cloneFrom
    clone.refuse_source_change(ctx, source)
    imported = clone.clone(ctx, source, cluster_name, warnings, requirements) if source else None
    if source and imported is None:
        # No cluster before its data can be imported: it would start empty and never import.
        return Desired(
            resources={SECRET: secret},
            status=status(ctx, secret, "cluster", host, PORT),
            warnings=warnings,
            vault=vault.intents(ctx, secret=secret, ssl_mode="require", admin=superuser),
            requirements=requirements,
        )
    compute = dedicated.resources[params.size]
    storage: JSON = {"size": f"{params.storageGB}Gi"}
    storage |= storage_class("storageClass", dedicated.storageClass)
    image = dedicated.images.get(str(params.version))
    if image is None:
        raise Refusal(
            f"spec.parameters.version {params.version} is not offered: the platform setting "
            f"postgresqlInstance.dedicated.images has no image for it (offered: "
            f"{', '.join(sorted(dedicated.images)) or 'none'})"
        )
    spec: JSON = {
        "instances": dedicated.instances.get(params.environment, 1),
        "imageName": image,
        "storage": storage,
        # Limits equal to the requests: the Guaranteed QoS CloudNativePG recommends for
        # PostgreSQL (docs resource_management.md, v1.30), and no container left for a
        # namespace LimitRange to default: a default CPU limit below the request makes
        # every new instance pod invalid, and failover and rolling updates stop.
        "resources": {
            "requests": {"cpu": compute.cpu, "memory": compute.memory},
            "limits": {"cpu": compute.cpu, "memory": compute.memory},
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
    if imported is not None:
        spec["bootstrap"]["initdb"]["import"] = imported.bootstrap_import
        spec["externalClusters"] = [imported.external_cluster]
        if imported.copy is not None:
            resources[clone.COPY] = imported.copy
    role, role_secret = clone.source_role(ctx, cluster_name, database)
    if role is not None:
        spec["managed"] = {"roles": [role]}
    if role_secret is not None:
        resources[clone.ROLE_SECRET] = role_secret
    backup_path = _archives(
        ctx, spec, resources, cluster_name, database=database, restored_path=restored_path
    )
    if dedicated.metrics.enabled:
        resources["pod-monitor"] = _pod_monitor(cluster_name)
    resources["cluster"] = {
        "apiVersion": CNPG_API,
        "kind": "Cluster",
        "metadata": {"name": cluster_name},
        "spec": spec,
    }
    instance_status = status(ctx, secret, "cluster", host, PORT)
    instance_status.backupPath = backup_path
    return Desired(
        resources=resources,
        status=instance_status,
        warnings=warnings,
        vault=vault.intents(ctx, secret=secret, ssl_mode="require", admin=superuser),
        requirements=requirements,
    )


def _restored_path(ctx: PostgreSQLContext) -> str | None:
    """The archive restore reads (None without restore); a FATAL when restore changed."""
    source = ctx.params.restore
    path = None
    if source is not None:
        base, _ = _backup_settings(ctx, "restore")
        path = restore.source_path(ctx, base.destinationPath or "", source)
    restore.refuse_restore_change(ctx, restore.wanted(path, source))
    return path


def _archives(
    ctx: PostgreSQLContext,
    spec: JSON,
    resources: dict[str, JSON],
    cluster_name: str,
    *,
    database: str,
    restored_path: str | None,
) -> str | None:
    """The recovery from restored_path and the instance's own backups, added to spec and
    resources; the path of its own archive (None without backups)."""
    params = ctx.params
    if not params.enableBackup and params.restore is None:
        return None
    backup, credentials = _backup_settings(
        ctx, "enableBackup" if params.enableBackup else "restore"
    )
    credentials_name = dns_label(cluster_name, "backup-credentials")
    resources["backup-credentials"] = _external_secret(credentials_name, credentials)
    if params.restore is not None and restored_path is not None:
        store = dns_label(cluster_name, "restore")
        restored = restore.restore(
            params.restore,
            path=restored_path,
            store=store,
            database=database,
            secret=resources[SECRET]["metadata"]["name"],
            plugin=BARMAN_PLUGIN,
        )
        spec["bootstrap"] = {"recovery": restored.recovery}
        spec["externalClusters"] = [restored.external_cluster]
        resources[restore.RESTORE_STORE] = _object_store(
            store, backup, credentials_name, restored.path
        )
    if not params.enableBackup:
        return None
    store_name = dns_label(cluster_name, "backup")
    spec["plugins"] = [
        {
            "name": BARMAN_PLUGIN,
            "isWALArchiver": True,
            "parameters": {"barmanObjectName": store_name},
        }
    ]
    base = backup.destinationPath or ""
    path = own_archive(ctx.observed, base, ctx.xr.namespace, ctx.xr.name, ctx.xr.uid)
    resources[BACKUP_STORE] = _object_store(store_name, backup, credentials_name, path)
    resources["scheduled-backup"] = _scheduled_backup(ctx, cluster_name)
    return path


def _pod_monitor(cluster_name: str) -> JSON:
    """A PodMonitor for the cluster's instances, as CloudNativePG's docs (monitoring.md,
    "Creating a PodMonitor") write it: spec.monitoring.enablePodMonitor is deprecated
    in CloudNativePG 1.30. Instances carry cnpg.io/cluster and serve port 9187, named metrics."""
    return {
        "apiVersion": MONITORING_API,
        "kind": "PodMonitor",
        "metadata": {"name": cluster_name},
        "spec": {
            "selector": {"matchLabels": {"cnpg.io/cluster": cluster_name}},
            "podMetricsEndpoints": [{"port": "metrics"}],
        },
    }


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


def _backup_settings(ctx: PostgreSQLContext, field: str) -> tuple[Backup, BackupCredentials]:
    """The backup settings an instance with enableBackup (or restore) needs; a FATAL naming
    what is unset.

    There is no default destination: backups to a made-up bucket would fail
    silently while WAL piles up on the volume.
    """
    backup = ctx.settings.dedicated.backup
    missing = [
        f"{BACKUP_SETTINGS}.{name}"
        for name, value in (
            ("destinationPath", backup.destinationPath),
            ("credentials", backup.credentials),
        )
        if value is None
    ]
    if backup.credentials is None or backup.destinationPath is None or missing:
        instead = " (or set enableBackup: false outside production)"
        raise Refusal(
            f"spec.parameters.{field} needs a backup destination the platform has not "
            f"configured: set {' and '.join(missing)} in {SETTINGS_WHERE}"
            + (instead if field == "enableBackup" else "")
        )
    return backup, backup.credentials


def _external_secret(name: str, credentials: BackupCredentials) -> JSON:
    """The ExternalSecret writing the object store's access keys into the XR's namespace.

    Shape: external-secrets v1 ExternalSecret (spec.secretStoreRef, target, data[].remoteRef),
    $SHARED/crds/external-secrets/external-secrets.io_externalsecrets.yaml.
    """
    return {
        "apiVersion": ESO_API,
        "kind": "ExternalSecret",
        "metadata": {"name": name},
        "spec": {
            "refreshInterval": credentials.refreshInterval,
            "secretStoreRef": {
                "kind": "ClusterSecretStore",
                "name": credentials.clusterSecretStore,
            },
            "target": {"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
            "data": [
                {"secretKey": key, "remoteRef": {"key": credentials.remoteKey, "property": prop}}
                for key, prop in (
                    (ACCESS_KEY_ID, credentials.accessKeyIdProperty),
                    (ACCESS_SECRET_KEY, credentials.secretAccessKeyProperty),
                )
            ],
        },
    }


def _object_store(name: str, backup: Backup, secret: str, path: str) -> JSON:
    """The Barman Cloud ObjectStore (plugin-barman-cloud barmancloud.cnpg.io/v1) of an archive."""
    configuration: JSON = {
        "destinationPath": path,
        "s3Credentials": {
            "accessKeyId": {"name": secret, "key": ACCESS_KEY_ID},
            "secretAccessKey": {"name": secret, "key": ACCESS_SECRET_KEY},
        },
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
