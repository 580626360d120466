"""Garbage collection of KV entries whose owner XR is gone (run by a CronOperation).

Deleting an XR does not run the composition pipeline, so its entries are
removed later: every entry the function writes carries its owner in
custom_metadata (tenancy.OWNER_KEYS); this walks the tenants' subtrees and
deletes each entry whose owner uid is not among the live XRs, or whose live
owner's status.vault.path no longer names it (a path change whose cleanup
failed). Entries without an owner tag are not the function's and are kept.
"""

from collections.abc import Iterator, Sequence

import hvac
from hvac import exceptions as vexc

from function.structs import JSON
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


def collect(client: hvac.Client, vault: Vault, mount: str, live: Sequence[JSON]) -> list[str]:
    """Delete orphaned entries under <mount>/<tenants root>; the paths deleted, in mount."""
    wanted: dict[str, set[str]] = {}  # live owner uid -> KV paths its status names
    for xr in live:
        uid = str(xr.get("metadata", {}).get("uid", ""))
        recorded = ((xr.get("status") or {}).get("vault") or {}).get("path")
        wanted.setdefault(uid, set())
        if recorded:
            wanted[uid].add(recorded if vault.kvMount else str(recorded).partition("/")[2])
    root = vault.tenantPrefix.split("{namespace}")[0]
    deleted: list[str] = []
    for entry in list(_walk(client, mount, root)):
        meta = client.secrets.kv.v2.read_secret_metadata(path=entry, mount_point=mount)["data"]
        owner = (meta.get("custom_metadata") or {}).get("owner-uid")
        if owner is None:
            continue  # not the function's
        # A live owner with no path in its status yet may have just written it: keep.
        if owner in wanted and (not wanted[owner] or entry in wanted[owner]):
            continue
        client.secrets.kv.v2.delete_metadata_and_all_versions(path=entry, mount_point=mount)
        deleted.append(entry)
    return deleted
