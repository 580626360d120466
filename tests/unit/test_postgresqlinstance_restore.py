"""PostgreSQLInstance dedicated: an archive per instance, and restoring from one.

Expected values follow CloudNativePG v1.30.0 docs/src/recovery.md (bootstrap.recovery,
externalClusters with the Barman Cloud plugin, recoveryTarget.targetTime) and
plugin-barman-cloud v0.14.0 web/docs/usage.md "Restoring a Cluster" (barmanObjectName,
serverName: the source cluster's name).
"""

from dataclasses import replace
from typing import Any

import pytest

from function.context import Desired
from function.kinds.postgresqlinstance import KIND
from function.refusal import Refusal
from function.structs import JSON
from tests.composing import context, refused, status

BACKUP = {
    "destinationPath": "s3://platform-backups/postgresql",
    "credentials": {"clusterSecretStore": "platform-backups", "remoteKey": "postgresql-backup"},
}
WITH_BACKUP = {"postgresqlInstance": {"dedicated": {"backup": BACKUP}}}
SOURCE_UID = "5d1f0c2a-7e4b-4c39-8a6e-0b9c8d7e6f5a"
DEDICATED = {"environment": "dev", "deployment": "dedicated"}


def compose(name: str = "orders", params: JSON | None = None, **kw: Any) -> Desired:
    kw.setdefault("settings", WITH_BACKUP)
    ctx = context(KIND, DEDICATED | (params or {}), name=name, namespace="shop", **kw)
    return KIND.compose(ctx)


def _store_path(d: Desired, name: str) -> str:
    return str(d.resources[name]["spec"]["configuration"]["destinationPath"])


# --- an archive per instance --------------------------------------------------------------------


def test_a_new_instance_archives_under_its_uid() -> None:
    d = compose(params={"enableBackup": True})
    # The test context's uid is uid-<namespace>-<name>.
    path = "s3://platform-backups/postgresql/shop/orders-uid-shop-orders"
    assert _store_path(d, "backup-store") == path
    assert status(d)["backupPath"] == path


def test_two_instances_of_one_name_never_share_an_archive() -> None:
    """A re-created instance (same name, new uid) must not find its predecessor's WAL."""
    paths = set()
    for uid in ("0a0a0a0a-0000-4000-8000-000000000001", "0a0a0a0a-0000-4000-8000-000000000002"):
        ctx = context(
            KIND,
            DEDICATED | {"enableBackup": True},
            name="orders",
            namespace="shop",
            settings=WITH_BACKUP,
        )
        ctx = replace(ctx, xr=replace(ctx.xr, uid=uid))
        paths.add(_store_path(KIND.compose(ctx), "backup-store"))
    assert len(paths) == 2


def test_an_existing_archive_is_kept() -> None:
    """An ObjectStore composed before keeps its path: the archive is not moved."""
    old = "s3://platform-backups/postgresql/shop/orders"
    observed = {
        "backup-store": {
            "apiVersion": "barmancloud.cnpg.io/v1",
            "kind": "ObjectStore",
            "spec": {"configuration": {"destinationPath": old}},
        }
    }
    d = compose(params={"enableBackup": True}, observed=observed)
    assert _store_path(d, "backup-store") == old
    assert status(d)["backupPath"] == old


def test_an_observed_path_not_derived_for_this_instance_is_not_kept() -> None:
    """Only the path written before uids (same namespace and name) is kept, nothing else."""
    for elsewhere in (
        "s3://platform-backups/postgresql/team-b/orders",
        "s3://platform-backups/postgresql/shop/payments",
        "s3://other-bucket/shop/orders",
    ):
        observed = {
            "backup-store": {
                "apiVersion": "barmancloud.cnpg.io/v1",
                "kind": "ObjectStore",
                "spec": {"configuration": {"destinationPath": elsewhere}},
            }
        }
        d = compose(params={"enableBackup": True}, observed=observed)
        path = "s3://platform-backups/postgresql/shop/orders-uid-shop-orders"
        assert _store_path(d, "backup-store") == path, elsewhere


# --- restore ------------------------------------------------------------------------------------


def test_restore_recovers_the_source_archive_to_a_point_in_time() -> None:
    restore = {"instance": "orders", "uid": SOURCE_UID, "targetTime": "2026-03-01T09:30:00Z"}
    d = compose(name="orders-restored", params={"enableBackup": True, "restore": restore})
    r = d.resources
    spec = r["cluster"]["spec"]
    (external,) = spec["externalClusters"]
    assert spec["bootstrap"] == {
        "recovery": {
            "source": external["name"],
            "database": "orders",
            "owner": "orders",
            "secret": {"name": "orders-restored-postgresql"},
            "recoveryTarget": {"targetTime": "2026-03-01T09:30:00Z"},
        }
    }
    plugin = external["plugin"]
    assert plugin["name"] == "barman-cloud.cloudnative-pg.io"
    # The source cluster's name is the folder of its archive (the source was "orders").
    assert plugin["parameters"]["serverName"] == "orders-pg"
    (read,) = [
        n
        for n, o in r.items()
        if o["kind"] == "ObjectStore"
        and o["metadata"]["name"] == plugin["parameters"]["barmanObjectName"]
    ]
    assert _store_path(d, read) == f"s3://platform-backups/postgresql/shop/orders-{SOURCE_UID}"
    # It archives into a new archive of its own, not the one it restores.
    assert _store_path(d, "backup-store") != _store_path(d, read)
    assert spec["plugins"][0]["parameters"]["barmanObjectName"] != read
    # Applications find the restored data: the source's database, owned by their login.
    data = r["connection-secret"]["stringData"]
    assert (data["database"], data["username"]) == ("orders", "orders")


def test_restore_without_uid_reads_an_archive_written_before_uids() -> None:
    d = compose(
        name="orders-old", params={"enableBackup": False, "restore": {"instance": "orders"}}
    )
    paths = [_store_path(d, n) for n, o in d.resources.items() if o["kind"] == "ObjectStore"]
    assert paths == ["s3://platform-backups/postgresql/shop/orders"]
    assert "recoveryTarget" not in d.resources["cluster"]["spec"]["bootstrap"]["recovery"]
    assert "plugins" not in d.resources["cluster"]["spec"]


@pytest.mark.parametrize(
    ("restore", "field"),
    [
        ({"instance": "../team-b/orders"}, "restore.instance"),
        ({"instance": "orders", "uid": "x/../../team-b"}, "restore.uid"),
        ({"instance": "orders", "targetTime": "yesterday"}, "restore.targetTime"),
    ],
)
def test_restore_names_only_archives_of_its_own_namespace(restore: JSON, field: str) -> None:
    """No path, namespace or traversal can be given: the path is derived from the namespace."""
    got = refused(KIND.api.parameters, DEDICATED | {"restore": restore})
    assert got is not None
    assert any(p.startswith(f"spec.parameters.{field}:") for p in got), got


def test_restore_needs_dedicated_and_no_clone() -> None:
    got = refused(KIND.api.parameters, {"environment": "dev", "restore": {"instance": "a"}})
    assert got is not None
    assert got[0].startswith("spec.parameters.restore: needs deployment")


def test_restore_without_backup_settings_is_a_fatal_naming_them() -> None:
    with pytest.raises(
        Refusal,
        match=r"spec.parameters.restore needs a backup destination.*"
        r"postgresqlInstance.dedicated.backup.destinationPath",
    ):
        compose(params={"enableBackup": False, "restore": {"instance": "orders"}}, settings={})


def _observed_cluster(bootstrap: JSON) -> JSON:
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "spec": {"bootstrap": bootstrap},
    }


def test_restore_cannot_be_added_to_an_existing_instance() -> None:
    observed = {"cluster": _observed_cluster({"initdb": {"database": "orders"}})}
    with pytest.raises(Refusal, match=r"spec.parameters.restore cannot change from 'none'"):
        compose(params={"restore": {"instance": "orders", "uid": SOURCE_UID}}, observed=observed)


def test_restore_cannot_change_or_go_once_restored() -> None:
    read = f"s3://platform-backups/postgresql/shop/orders-{SOURCE_UID}"
    observed = {
        "cluster": _observed_cluster({"recovery": {"source": "backup-source"}}),
        "restore-store": {
            "apiVersion": "barmancloud.cnpg.io/v1",
            "kind": "ObjectStore",
            "spec": {"configuration": {"destinationPath": read}},
        },
    }
    same = {"instance": "orders", "uid": SOURCE_UID}
    compose(name="orders-restored", params={"restore": same}, observed=observed)  # unchanged
    for changed in ({"instance": "orders"}, same | {"targetTime": "2026-03-01T09:30:00Z"}, None):
        params = {"restore": changed} if changed else {}
        with pytest.raises(Refusal, match=r"spec.parameters.restore cannot change from"):
            compose(name="orders-restored", params=params, observed=observed)


def test_the_xrd_refuses_adding_changing_or_removing_restore() -> None:
    """The transition rule on spec.parameters, as the generated XRD carries it."""
    rules = [t for t in KIND.api.parameters.transitions if t.field == "restore"]
    assert [r.cel for r in rules] == [
        "has(oldSelf.restore) == has(self.restore) && "
        "(!has(self.restore) || self.restore == oldSelf.restore)"
    ]
