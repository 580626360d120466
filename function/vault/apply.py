"""Sending a Vault step's work to Vault with hvac: the part of function/vault/sync.py that
talks to Vault, imported with the first step that has something to send."""

import dataclasses
import hashlib
import hmac
import os
import threading
from collections.abc import Mapping, Sequence

import hvac
from hvac import exceptions as vexc

from function.context import Composite
from function.platform import PlatformSettings
from function.vault import client as vclient
from function.vault import sync, tenancy
from function.vault.errors import VaultSyncError
from function.vault.intents import (
    DatabaseConnection,
    DatabaseDelete,
    DatabaseRole,
    KVDelete,
    KVWrite,
    VaultIntent,
    split_kv_path,
)


def send(  # noqa: PLR0917 (the step's state, passed on from sync._sync)
    xr: Composite,
    intents: Sequence[VaultIntent],
    work: Sequence[VaultIntent],
    settings: PlatformSettings,
    credentials: Mapping[str, Mapping[str, bytes]],
    outcome: sync.Outcome,
    deadline: float,
) -> bool:
    """Log in and apply work, recording each path in outcome; False when Vault could not be
    reached or logged in to (outcome says why), True when every intent was tried."""
    vault = settings.vault
    try:
        login = vclient.resolve(settings, credentials)
    except VaultSyncError as f:
        outcome.problems.append(f)
        return False
    secrets = [*login.secrets, *sync.secrets_of(intents)]
    login = dataclasses.replace(login, secrets=tuple(secrets))
    try:
        client = vclient.connect(login, settings, credentials, deadline)
    except Exception as e:  # classified; secrets never in the message
        outcome.problems.append(vclient.classify(e, login.address, secrets))
        return False
    for intent in work:
        where = sync.where(intent, settings)
        try:
            if isinstance(intent, KVWrite):
                changed = _apply_kv(client, intent, vault.kvMount, xr)
                if changed is None:
                    outcome.problems.append(_taken(where))
                    continue
            elif isinstance(intent, KVDelete):
                changed = _delete_kv(client, intent, vault.kvMount, xr)
                (outcome.deleted if changed else outcome.unchanged).append(where)
                continue
            elif isinstance(intent, DatabaseDelete):
                _delete_database(client, intent, vault.database.mount)
                outcome.deleted.append(where)
                continue
            elif isinstance(intent, DatabaseConnection):
                changed = _apply_connection(client, intent, vault.database.mount, login.address)
            else:
                assert isinstance(intent, DatabaseRole)
                changed = _apply_role(client, intent, vault.database.mount)
        except Exception as e:  # classified; secrets never in the message
            failure = _path_failure(e, where, client, login, settings)
            outcome.problems.append(failure)
            if failure.reason not in ("PermissionDenied", "VaultRejected"):
                break  # Vault itself or the login is the problem: the rest would fail alike
            continue
        (outcome.written if changed else outcome.unchanged).append(where)
    return True


# A keyed fingerprint of each database connection config written by this
# process: Vault never returns the admin password, so this is how a re-run
# knows it is unchanged. The key never leaves memory; after a restart every
# connection is written once more.
_FINGERPRINT_KEY = os.urandom(32)
_WRITTEN: dict[str, bytes] = {}
_WRITTEN_LOCK = threading.Lock()


def _fingerprint(address: str, mount: str, c: DatabaseConnection) -> tuple[str, bytes]:
    key = f"{address}\x00{mount}\x00{c.name}"
    msg = "\x00".join(
        [c.plugin_name, c.connection_url, c.username, c.password, *c.allowed_roles]
    ).encode()
    return key, hmac.new(_FINGERPRINT_KEY, msg, hashlib.sha256).digest()


def _taken(where: str) -> VaultSyncError:
    return VaultSyncError(
        "VaultPathTaken",
        f"{where} holds another XR's entry: it is not written over; choose another "
        "vaultPath (it is free once that XR stops naming it, or is deleted and its entry "
        "collected)",
    )


def _apply_kv(
    client: hvac.Client, intent: KVWrite, kv_mount: str | None, xr: Composite
) -> bool | None:
    """Write the entry where it differs; None, writing nothing, when another XR owns it.

    The owner tag (tenancy.OWNER_KEYS) says which XR wrote an entry; the first writer
    keeps it, so two XRs naming one path do not overwrite each other in turn.
    """
    mount, path = split_kv_path(intent.path, kv_mount)
    data, version, tags = None, 0, None
    try:
        current = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=False
        )
        data = (current.get("data") or {}).get("data")
        meta = (current.get("data") or {}).get("metadata") or {}
        version = int(meta.get("version") or 0)
        tags = meta.get("custom_metadata")
    except vexc.InvalidPath:
        # No secret yet; or, with 404 and a KV version number, a deleted one.
        pass
    if not tenancy.owned_by(tags, xr):
        return None
    owner = tenancy.owner_of(xr)
    changed = False
    if data != dict(intent.data):
        # cas: write only over the version just read, so concurrent writers cannot lose updates.
        client.secrets.kv.v2.create_or_update_secret(
            path=path, secret=dict(intent.data), cas=version, mount_point=mount
        )
        changed = True
    if tags != owner:  # the owner tag the garbage collector goes by (gc.py)
        client.secrets.kv.v2.update_metadata(path=path, mount_point=mount, custom_metadata=owner)
        changed = True
    return changed


def _delete_kv(client: hvac.Client, intent: KVDelete, kv_mount: str | None, xr: Composite) -> bool:
    """Remove an entry and all its versions, unless another owner's tag says it is not ours."""
    mount, path = split_kv_path(intent.path, kv_mount)
    try:
        meta = client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)
    except vexc.InvalidPath:
        return False  # already gone
    if not tenancy.owned_by((meta.get("data") or {}).get("custom_metadata"), xr):
        return False
    client.secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point=mount)
    return True


def _delete_database(client: hvac.Client, intent: DatabaseDelete, mount: str) -> bool:
    """Role first (its leases are revoked with it), then the connection; both idempotent."""
    client.secrets.database.delete_role(name=intent.role, mount_point=mount)
    client.secrets.database.delete_connection(name=intent.connection, mount_point=mount)
    return True


def _apply_connection(client: hvac.Client, c: DatabaseConnection, mount: str, address: str) -> bool:
    key, fp = _fingerprint(address, mount, c)
    try:
        current = client.secrets.database.read_connection(name=c.name, mount_point=mount)["data"]
    except vexc.InvalidPath:
        current = None
    if current is not None:
        details = current.get("connection_details") or {}
        same = (
            current.get("plugin_name") == c.plugin_name
            and details.get("connection_url") == c.connection_url
            and details.get("username") == c.username
            and sorted(current.get("allowed_roles") or []) == sorted(c.allowed_roles)
        )
        with _WRITTEN_LOCK:
            known = _WRITTEN.get(key)
        if same and known is not None and hmac.compare_digest(known, fp):
            return False
    client.secrets.database.configure(
        name=c.name,
        plugin_name=c.plugin_name,
        verify_connection=True,
        allowed_roles=list(c.allowed_roles),
        mount_point=mount,
        connection_url=c.connection_url,
        username=c.username,
        password=c.password,
    )
    with _WRITTEN_LOCK:
        _WRITTEN[key] = fp
    return True


def _apply_role(client: hvac.Client, r: DatabaseRole, mount: str) -> bool:
    try:
        current = client.secrets.database.read_role(name=r.name, mount_point=mount)["data"]
    except vexc.InvalidPath:
        current = None
    if current is not None and (
        current.get("db_name") == r.db_name
        and list(current.get("creation_statements") or []) == list(r.creation_statements)
        and list(current.get("revocation_statements") or []) == list(r.revocation_statements)
        and int(current.get("default_ttl") or 0) == r.default_ttl
        and int(current.get("max_ttl") or 0) == r.max_ttl
    ):
        return False
    client.secrets.database.create_role(
        name=r.name,
        db_name=r.db_name,
        creation_statements=list(r.creation_statements),
        revocation_statements=list(r.revocation_statements),
        default_ttl=r.default_ttl,
        max_ttl=r.max_ttl,
        mount_point=mount,
    )
    return True


def _path_failure(
    e: Exception, where: str, client: hvac.Client, login: vclient.Login, settings: PlatformSettings
) -> VaultSyncError:
    """Why a request on one path failed: a bad token, a policy, or Vault itself."""
    if isinstance(e, vexc.Forbidden):
        # 403 is both "this token is no good" and "the policy does not allow it".
        try:
            client.auth.token.lookup_self()
        except vexc.Forbidden:
            vclient.forget(login, settings.vault)
            return VaultSyncError(
                "AuthenticationFailed", "the Vault token is invalid, expired or revoked"
            )
        except Exception as inner:  # anything else: report the first error
            return vclient.classify(inner, login.address, login.secrets)
        return VaultSyncError(
            "PermissionDenied", f"the Vault policy does not allow writing {where}"
        )
    if isinstance(e, vexc.InvalidRequest):
        detail = vclient.vault_errors(e, login.secrets)
        return VaultSyncError(
            "VaultRejected", f"Vault rejected {where}" + (f": {detail}" if detail else "")
        )
    if isinstance(e, vexc.InvalidPath):
        return VaultSyncError("VaultRejected", f"no such mount or path in Vault: {where}")
    return vclient.classify(e, login.address, login.secrets)
