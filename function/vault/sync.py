"""Apply a composer's Vault intents: read, compare, write only what differs.

Called by the runner after composing, in the worker thread that runs the
request. The outcome is plain data the runner adds to the response: the
VaultSynced condition, a warning per problem and a shorter TTL on failure.
status.vault depends on the intents alone (status_of), so the desired state is
the same whether or not Vault is healthy.
"""

import dataclasses
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import hvac
from crossplane.function import resource
from hvac import exceptions as vexc
from pydantic import ValidationError

from function.context import Composite, WarningResult
from function.platform import PlatformSettings
from function.structs import JSON
from function.vault import client as vclient
from function.vault import tenancy
from function.vault.client import VaultSyncError
from function.vault.intents import (
    DatabaseConnection,
    DatabaseDelete,
    DatabaseRole,
    KVDelete,
    KVWrite,
    Pending,
    VaultIntent,
    split_kv_path,
)
from function.vault.model import VaultStatus

CONDITION = "VaultSynced"


@dataclass
class Outcome:
    """What applying the intents gave."""

    problems: list[VaultSyncError] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # what was written, by path (no data)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # paths removed (the XR left them)
    paths: list[str] = field(default_factory=list)
    retry_seconds: int = 30

    @property
    def ok(self) -> bool:
        return not self.problems

    def condition(self) -> resource.Condition:
        if self.ok:
            where = ", ".join(self.paths)
            return resource.Condition(
                typ=CONDITION,
                status="True",
                reason="Synced",
                message=f"registered in Vault: {where}" if where else "nothing left in Vault",
            )
        first = self.problems[0]
        return resource.Condition(
            typ=CONDITION, status="False", reason=first.reason, message=first.message
        )

    def warnings(self) -> list[WarningResult]:
        """One warning per problem."""
        return [WarningResult(p.message, reason=p.reason) for p in self.problems]

    @property
    def retry_after(self) -> int | None:
        """Call again this soon when something is not synced; None when all is."""
        return None if self.ok else self.retry_seconds


def status_of(intents: Sequence[VaultIntent], settings: PlatformSettings) -> VaultStatus:
    """status.vault: where things are registered (paths only), from the intents alone."""
    kv = [i.path for i in intents if isinstance(i, KVWrite) or (isinstance(i, Pending) and i.path)]
    roles = [i.name for i in intents if isinstance(i, DatabaseRole)]
    return VaultStatus(
        path=kv[0] if kv else None,
        credentialsPath=f"{settings.vault.database.mount}/creds/{roles[0]}" if roles else None,
    )


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


def recorded(observed: JSON | None) -> VaultStatus | None:
    """The observed status.vault, or None when absent or not what this function writes."""
    if not isinstance(observed, dict):
        return None
    try:
        return VaultStatus.model_validate(
            {k: v for k, v in observed.items() if k in VaultStatus.model_fields}
        )
    except ValidationError:
        return None


def stale(
    xr: Composite,
    observed: JSON | None,
    intents: Sequence[VaultIntent],
    settings: PlatformSettings,
) -> list[VaultIntent]:
    """Deletions of what the observed status.vault names and the intents no longer want.

    status.vault is the record of what the last call registered; a path is only
    deleted when it is inside the XR's own namespace subtree, so a forged status
    cannot reach another tenant's entries.
    """
    before = recorded(observed)
    if before is None:
        return []
    now = status_of(intents, settings)
    out: list[VaultIntent] = []
    if (
        before.path
        and before.path != now.path
        and tenancy.inside(settings.vault, xr.namespace, before.path)
    ):
        out.append(KVDelete(before.path))
    prefix = f"{settings.vault.database.mount}/creds/"
    if before.credentialsPath and before.credentialsPath != now.credentialsPath:
        role = before.credentialsPath.removeprefix(prefix)
        connection = tenancy.engine_name(xr.namespace, xr.name)
        if role == tenancy.role_name(connection):  # only this XR's own role
            out.append(DatabaseDelete(connection, role))
    return out


def _apply_kv(client: hvac.Client, intent: KVWrite, kv_mount: str | None, xr: Composite) -> bool:
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


def _where(intent: VaultIntent, settings: PlatformSettings) -> str:
    mount = settings.vault.database.mount
    if isinstance(intent, KVWrite):
        return intent.path
    if isinstance(intent, DatabaseConnection):
        return f"{mount}/config/{intent.name}"
    if isinstance(intent, DatabaseRole):
        return f"{mount}/roles/{intent.name}"
    if isinstance(intent, KVDelete):
        return intent.path
    if isinstance(intent, DatabaseDelete):
        return f"{mount}/roles/{intent.role}"
    return intent.what


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


# KV values at least this long are cut out of Vault's error text: passwords,
# URLs and kubeconfigs are; host names, ports and database names mostly not.
_REDACT_KV_MIN = 12


def _secrets_of(intents: Sequence[VaultIntent]) -> list[str]:
    out: list[str] = []
    for i in intents:
        if isinstance(i, KVWrite):
            out.extend(v for v in i.data.values() if len(v) >= _REDACT_KV_MIN)
        elif isinstance(i, DatabaseConnection):
            out.append(i.password)
    return out


# Vault steps one process runs at once. Each holds a server thread while it waits
# on Vault; keeping them well under the server's threads (function/server.py) means
# a slow Vault never leaves calls that do not need it waiting for a thread.
MAX_CONCURRENT_SYNCS = 4
_SYNC_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_SYNCS)


def sync(
    xr: Composite,
    intents: Sequence[VaultIntent],
    settings: PlatformSettings,
    credentials: Mapping[str, Mapping[str, bytes]],
    log: Any = None,
    *,
    deadline: float | None = None,
) -> Outcome:
    """Apply the intents within settings.vault.budgetSeconds and before `deadline` (the
    call's, time.monotonic()); never raises. When MAX_CONCURRENT_SYNCS are already
    running, nothing is sent and the outcome says so: the next call retries."""
    if not _SYNC_SLOTS.acquire(blocking=False):
        outcome = Outcome(retry_seconds=settings.vault.retrySeconds)
        outcome.problems.append(
            VaultSyncError(
                "VaultBusy",
                f"{MAX_CONCURRENT_SYNCS} Vault syncs already in progress in this function "
                "process; Vault is synced on a later call",
            )
        )
        _log(log, xr, outcome)
        return outcome
    try:
        return _sync(xr, intents, settings, credentials, log=log, deadline=deadline)
    finally:
        _SYNC_SLOTS.release()


def _sync(
    xr: Composite,
    intents: Sequence[VaultIntent],
    settings: PlatformSettings,
    credentials: Mapping[str, Mapping[str, bytes]],
    *,
    log: Any,
    deadline: float | None,
) -> Outcome:
    vault = settings.vault
    outcome = Outcome(
        retry_seconds=vault.retrySeconds,
        paths=[
            _where(i, settings)
            for i in intents
            if not isinstance(i, (Pending, KVDelete, DatabaseDelete))
        ],
    )
    pending = [i for i in intents if isinstance(i, Pending)]
    work = [i for i in intents if not isinstance(i, Pending)]
    budget_end = time.monotonic() + vault.budgetSeconds
    deadline = budget_end if deadline is None else min(budget_end, deadline)
    if not work:  # only waiting: nothing to ask Vault
        outcome.problems.extend(VaultSyncError(p.reason, p.message) for p in pending)
        return outcome
    try:
        login = vclient.resolve(settings, credentials)
    except VaultSyncError as f:
        outcome.problems.append(f)
        _log(log, xr, outcome)
        return outcome
    secrets = [*login.secrets, *_secrets_of(intents)]
    login = dataclasses.replace(login, secrets=tuple(secrets))
    try:
        client = vclient.connect(login, settings, credentials, deadline)
    except Exception as e:  # classified; secrets never in the message
        outcome.problems.append(vclient.classify(e, login.address, secrets))
        _log(log, xr, outcome)
        return outcome
    for intent in work:
        where = _where(intent, settings)
        try:
            if isinstance(intent, KVWrite):
                changed = _apply_kv(client, intent, vault.kvMount, xr)
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
    outcome.problems.extend(VaultSyncError(p.reason, p.message) for p in pending)
    _log(log, xr, outcome)
    return outcome


def _log(log: Any, xr: Composite, outcome: Outcome) -> None:
    if log is None:
        return
    if outcome.ok:
        log.debug(
            "vault synced",
            name=xr.name,
            namespace=xr.namespace,
            written=outcome.written,
            unchanged=outcome.unchanged,
            deleted=outcome.deleted,
        )
    else:
        log.info(
            "vault not synced",
            name=xr.name,
            namespace=xr.namespace,
            reasons=[p.reason for p in outcome.problems],
            written=outcome.written,
        )
