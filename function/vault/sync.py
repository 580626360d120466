"""Apply a composer's Vault intents: read, compare, write only what differs.

Called by the runner after composing, in the worker thread that runs the
request. The outcome is plain data the runner adds to the response: the
VaultSynced condition, a warning per problem and a shorter TTL on failure.
status.vault depends on the intents alone (status_of), so the desired state is
the same whether or not Vault is healthy.
"""

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crossplane.function import resource
from pydantic import ValidationError

from function.context import Composite, WarningResult
from function.platform import PlatformSettings
from function.structs import JSON
from function.vault import tenancy
from function.vault.errors import VaultSyncError
from function.vault.intents import (
    DatabaseConnection,
    DatabaseDelete,
    DatabaseRole,
    KVDelete,
    KVWrite,
    Pending,
    VaultIntent,
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
    # Whether it depends on more than the request (Vault was asked, or was busy): such an
    # answer is never cached (function/response_cache.py).
    volatile: bool = False

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


def where(intent: VaultIntent, settings: PlatformSettings) -> str:
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


# KV values at least this long are cut out of Vault's error text: passwords,
# URLs and kubeconfigs are; host names, ports and database names mostly not.
_REDACT_KV_MIN = 12


def secrets_of(intents: Sequence[VaultIntent]) -> list[str]:
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
        outcome = Outcome(retry_seconds=settings.vault.retrySeconds, volatile=True)
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
            where(i, settings)
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
    outcome.volatile = True  # from here the answer depends on Vault
    # hvac and requests are imported with the first Vault step, not at start-up.
    from function.vault import apply  # noqa: PLC0415

    if not apply.send(xr, intents, work, settings, credentials, outcome, deadline):
        _log(log, xr, outcome)
        return outcome
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
