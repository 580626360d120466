"""Where a dedicated instance's backups go: an archive of its own, never reused.

barman-cloud refuses to archive WAL into a non-empty archive (barman-cloud-check-wal-archive,
run by the Barman Cloud plugin before the first WAL is archived), and a re-created
instance of the same name would find its predecessor's WAL there. So the path holds
the XR's uid: <destinationPath>/<namespace>/<name>-<uid>. An instance whose ObjectStore
was composed before, writing to <destinationPath>/<namespace>/<name>, keeps that path
(read from the observed ObjectStore): its archive is not moved. Plugin-barman-cloud
v0.14.0 writes under <path>/<serverName>, the serverName being the cluster's name
(docs/parameters.md).
"""

from function.context import Observed
from function.observed import text

BACKUP_STORE = "backup-store"  # composition resource name of the instance's ObjectStore


def archive_path(base: str, namespace: str, name: str, uid: str | None) -> str:
    """The archive of instance name in namespace: with its uid, or without for one written
    before archives were per instance."""
    return f"{base}/{namespace}/{name}-{uid}" if uid else f"{base}/{namespace}/{name}"


def own_archive(observed: Observed, base: str, namespace: str, name: str, uid: str) -> str:
    """This instance's archive: the one without uid if its observed ObjectStore writes there
    (created before archives were per instance), else its own with its uid. Any other
    observed path is not kept: only a path derived for this XR is ever written to."""
    before = archive_path(base, namespace, name, None)
    kept = text(observed.get(BACKUP_STORE), "spec", "configuration", "destinationPath")
    return before if kept == before else archive_path(base, namespace, name, uid)
