"""Garbage collection of Vault entries whose owner XR is gone (run by a CronOperation).

Deleting an XR does not run the composition pipeline, so its entries are
removed later: every entry the function writes carries its owner in
custom_metadata (tenancy.OWNER_KEYS); this walks the tenants' subtrees of
every KV v2 mount and deletes each entry whose owner uid is not among the live
XRs, or whose live owner's status.vault.path no longer names it (a path change
whose cleanup failed). Entries without an owner tag are not the function's and
are kept.

A vaultPath names its mount when kvMount is unset, so entries may be in any KV
v2 mount, and an orphan's mount may be named by no live XR any more: the mounts
walked are every KV v2 mount the function's token can see (sys/internal/ui/mounts,
which Vault's and OpenBao's default policy lets every token read, listing the
mounts the token has a capability on), plus kvMount or "secret".
"""

from collections.abc import Iterator, Sequence

import hvac
from hvac import exceptions as vexc

from function.observed import text
from function.structs import JSON
from function.vault import tenancy
from function.vault.settings import Vault


def _walk(client: hvac.Client, mount: str, folder: str) -> Iterator[str]:
    try:
        keys = client.secrets.kv.v2.list_secrets(path=folder, mount_point=mount)["data"]["keys"]
    except vexc.InvalidPath:
        return
    for key in sorted(keys):
        if key.endswith("/"):
            yield from _walk(client, mount, f"{folder}{key}")
        else:
            yield f"{folder}{key}"


def kv_mounts(client: hvac.Client, vault: Vault) -> list[str]:
    """Every KV v2 mount the token can see, and the configured one, sorted (no slashes)."""
    found = {vault.kvMount or "secret"}
    listed = client.adapter.get("/v1/sys/internal/ui/mounts")
    engines = ((listed or {}).get("data") or {}).get("secret") or {}
    for path, engine in engines.items():
        options = (engine or {}).get("options") or {}
        if (engine or {}).get("type") == "kv" and str(options.get("version")) == "2":
            found.add(path.rstrip("/"))
    return sorted(found)


def collect(client: hvac.Client, vault: Vault, mount: str, live: Sequence[JSON]) -> list[str]:
    """Delete orphaned entries under <mount>/<tenants root>; the paths deleted, in mount."""
    wanted: dict[str, set[str]] = {}  # live owner uid -> <mount>/<path> its status names
    for xr in live:
        uid = text(xr, "metadata", "uid") or ""
        recorded = text(xr, "status", "vault", "path")
        wanted.setdefault(uid, set())
        if recorded:
            wanted[uid].add(f"{vault.kvMount}/{recorded}" if vault.kvMount else recorded)
    root = vault.tenantPrefix.split("{namespace}")[0]
    deleted: list[str] = []
    for entry in list(_walk(client, mount, root)):
        meta = client.secrets.kv.v2.read_secret_metadata(path=entry, mount_point=mount)["data"]
        owner = (meta.get("custom_metadata") or {}).get("owner-uid")
        if owner is None:
            continue  # not the function's
        # A live owner with no path in its status yet may have just written it: keep.
        if owner in wanted and (not wanted[owner] or f"{mount}/{entry}" in wanted[owner]):
            continue
        client.secrets.kv.v2.delete_metadata_and_all_versions(path=entry, mount_point=mount)
        deleted.append(entry)
    return deleted


def collect_database(client: hvac.Client, mount: str, live: set[str]) -> list[str]:
    """Delete database-engine roles and connections of PostgreSQLInstances that are gone.

    live holds the engine names (tenancy.engine_name) of the live XRs. Only
    what carries the function's signature goes: a role <name>-readwrite
    whose db_name is <name> (tenancy.role_name), <name> of the <namespace>_<xr> form, and its
    connection when that allows only this role. The paths deleted, with mount.
    """
    try:
        roles = client.secrets.database.list_roles(mount_point=mount)["data"]["keys"]
    except vexc.InvalidPath:
        return []
    deleted: list[str] = []
    for role in sorted(roles):
        name = role.removesuffix(tenancy.ROLE_SUFFIX)
        if name == role or "_" not in name or name in live:
            continue
        data = client.secrets.database.read_role(name=role, mount_point=mount)["data"]
        if data.get("db_name") != name:
            continue  # not the function's
        client.secrets.database.delete_role(name=role, mount_point=mount)
        deleted.append(f"{mount}/roles/{role}")
        try:
            connection = client.secrets.database.read_connection(name=name, mount_point=mount)
        except vexc.InvalidPath:
            continue
        if list(connection["data"].get("allowed_roles") or []) == [role]:
            client.secrets.database.delete_connection(name=name, mount_point=mount)
            deleted.append(f"{mount}/config/{name}")
    return deleted
