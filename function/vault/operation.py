"""The Vault garbage collector as an Operation step (install/components/vault-gc).

An Operation's RunFunctionRequest has no observed composite; the CronOperation
pre-populates the live XRs as required resources (one requirement per kind in
REQUIREMENTS). Only when every one of them is present does this delete
anything: a missing list must never read as "no XR is alive".
"""

import time
from collections.abc import Mapping, Sequence
from typing import Any

from hvac import exceptions as vexc

from function.observed import text
from function.platform import PlatformSettings
from function.structs import JSON
from function.vault import client as vclient
from function.vault import gc, tenancy

# requirementName -> the XR kind it lists; install/components/vault-gc uses the same names.
REQUIREMENTS = {
    "postgresqlinstances": "PostgreSQLInstance",
    "kubernetesclusters": "KubernetesCluster",
}


def collect(
    settings: PlatformSettings,
    credentials: Mapping[str, Mapping[str, bytes]],
    required: Mapping[str, Sequence[JSON]],
    log: Any = None,
) -> tuple[JSON, str | None]:
    """(output, problem): the Operation's output (paths deleted) or why nothing was done."""
    missing = sorted(set(REQUIREMENTS) - set(required))
    if missing:
        return {"deleted": []}, "required resources missing: " + ", ".join(missing)
    live = [xr for name in sorted(REQUIREMENTS) for xr in required[name]]
    login: vclient.Login | None = None
    try:
        login = vclient.resolve(settings, credentials)
        deadline = time.monotonic() + settings.vault.budgetSeconds
        client = vclient.connect(login, settings, credentials, deadline)
        mounts = gc.kv_mounts(client, settings.vault)
        deleted, unreadable = [], []
        for mount in mounts:
            try:
                deleted += [f"{mount}/{p}" for p in gc.collect(client, settings.vault, mount, live)]
            except vexc.Forbidden:  # visible, but the policy lets it list no tenants there
                unreadable.append(mount)
        if settings.vault.database.enabled:
            engines = {
                tenancy.engine_name(
                    text(xr, "metadata", "namespace") or "", text(xr, "metadata", "name") or ""
                )
                for xr in required["postgresqlinstances"]
            }
            deleted += gc.collect_database(client, settings.vault.database.mount, engines)
    except Exception as e:  # classified; secrets never in the message
        # The address resolved, which may come from the credentials; and every secret value
        # redacted from what Vault answers, as the composers' Vault step does.
        address, secrets = (login.address, login.secrets) if login else ("", ())
        failure = vclient.classify(e, address, secrets)
        return {"deleted": []}, f"{failure.reason}: {failure.message}"
    if log is not None:
        log.info("vault gc", live=len(live), mounts=mounts, deleted=deleted)
    return {"deleted": deleted, "mounts": [m for m in mounts if m not in unreadable]}, None
