"""Restoring a dedicated instance from the backups of an instance of its namespace.

CloudNativePG v1.30.0 recovery from an object store through the Barman Cloud plugin
(docs/src/recovery.md; plugin-barman-cloud v0.14.0 web/docs/usage.md "Restoring a
Cluster"): spec.bootstrap.recovery.source names an externalClusters entry whose plugin
parameters give the ObjectStore to read (barmanObjectName) and the folder of the source's
archive in it (serverName, the source cluster's name); recoveryTarget.targetTime stops
the replay at a point in time. The source's archive gets an ObjectStore of its own
(read-only use); the restored cluster archives into its own, new archive.

Tenancy: the archive read is derived here from the XR's own namespace, the source's name
and uid (archive.py), never given as a path: a team can only restore what the platform
archived for its namespace.

After recovery CloudNativePG creates the database and owner if missing and, the owner
being the connection Secret's username, sets its password to the Secret's
(recovery.md, "bootstrap from a live cluster" steps 1-4): the connection Secret names
the source's database, which holds the restored data.

Bootstrap is read once, when the cluster is created: restore cannot be set, removed or
changed afterwards (the XRD's transition rule; refuse_restore_change checks the same
against the observed cluster, for XRs created before the rule).
"""

from dataclasses import dataclass

from function.blocks.immutable import refuse_change
from function.kinds.postgresqlinstance.archive import archive_path
from function.kinds.postgresqlinstance.clone import cluster_name
from function.kinds.postgresqlinstance.connection import PostgreSQLContext
from function.kinds.postgresqlinstance.model import RestoreSource
from function.observed import mapping, text
from function.structs import JSON

RESTORE_STORE = "restore-store"  # composition resource name of the source archive's ObjectStore
EXTERNAL_CLUSTER = "backup-source"
RESTORE_WHY = (
    "the cluster restores its data once, when it is created; create a new PostgreSQLInstance "
    "to restore other backups"
)


@dataclass
class Restore:
    """What the restored Cluster needs: its recovery, the external cluster, the path read."""

    recovery: JSON
    external_cluster: JSON
    path: str


def source_path(ctx: PostgreSQLContext, base: str, source: RestoreSource) -> str:
    """The source's archive, under this namespace's part of the platform's object store."""
    return archive_path(base, ctx.xr.namespace, source.instance, source.uid)


def restore(
    source: RestoreSource, *, path: str, store: str, database: str, secret: str, plugin: str
) -> Restore:
    """The recovery of the source's archive (read through the ObjectStore store)."""
    recovery: JSON = {
        "source": EXTERNAL_CLUSTER,
        "database": database,
        "owner": database,
        "secret": {"name": secret},
    }
    if source.targetTime is not None:
        recovery["recoveryTarget"] = {"targetTime": source.targetTime}
    external = {
        "name": EXTERNAL_CLUSTER,
        "plugin": {
            "name": plugin,
            "parameters": {
                "barmanObjectName": store,
                "serverName": cluster_name(source.instance),
            },
        },
    }
    return Restore(recovery=recovery, external_cluster=external, path=path)


def _described(path: str | None, target_time: str | None) -> str:
    return f"{path or '?'} at {target_time or 'the end of its WAL'}"


def refuse_restore_change(ctx: PostgreSQLContext, wanted: str | None) -> None:
    """A FATAL when restore is not what the observed cluster was created from: added to a
    cluster created otherwise, removed, or naming other backups or another time.

    wanted: the path and time the parameters ask for, described as _described does.
    """
    cluster = ctx.observed.get("cluster")
    if cluster is None:
        return
    recovery = mapping(cluster, "spec", "bootstrap", "recovery")
    was = "none"
    if recovery is not None:
        path = text(ctx.observed.get(RESTORE_STORE), "spec", "configuration", "destinationPath")
        was = _described(path, text(recovery, "recoveryTarget", "targetTime"))
    refuse_change("restore", was, wanted or "none", RESTORE_WHY)


def wanted(path: str | None, source: RestoreSource | None) -> str | None:
    """What the parameters ask to restore, as refuse_restore_change compares it."""
    if source is None:
        return None
    return _described(path, source.targetTime)
