"""install/components/vault-gc in the real control plane, against a real OpenBao (`bao server
-dev`, tests/integration/servers.py): PostgreSQLInstances of two teams write their entries
through core and the function; once one team's XR is deleted, an Operation core creates from
the CronOperation removes that entry and leaves the other team's.

Vault is wired up as docs/vault.md has a platform engineer do it: the function's policy
(`function-platform.hcl`, read from the page) on a periodic token, the token in the step's
credentials Secret (`vault-token`), the address in the platform settings (EnvironmentConfig
`function-platform`). Those are cluster-wide, so they are in place only while this module
runs: the examples' XRs (tests/controlplane/test_controlplane.py) expect the unreachable
Vault of examples/credentials.yaml. Test files run in name order, so those that compose are
deleted before this module starts; the bad ones the function refuses never reach Vault.
"""

from __future__ import annotations

import base64
import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hvac import exceptions as vexc

from function.input import SETTINGS_REQUIREMENT
from harness.cases import JSON, load_yaml_docs
from harness.controlplane import ControlPlane
from harness.installation import VAULT_GC, VAULT_GC_SCHEDULE
from harness.paths import ROOT
from tests.controlplane import cluster
from tests.integration.servers import Bao

OPS_API = "ops.crossplane.io/v1alpha1"
# crossplane v2.3.4 apis/ops/v1alpha1/cronoperation_types.go LabelCronOperationName.
CRON_LABEL = "ops.crossplane.io/cronoperation"
COMPONENT = ROOT / "install" / "components" / "vault-gc" / "vault-gc.yaml"
EXAMPLE = ROOT / "examples" / "postgresqlinstance" / "dev" / "xr.yaml"
POLICY = "function-platform"
TEAMS = ("vault-gc-team-a", "vault-gc-team-b")
# The schedule's period and the Operation's own run, with room for a busy machine.
COLLECT_SECONDS = 90.0


def documented_policy() -> str:
    """The function's policy as docs/vault.md gives it (the hcl block after its file name)."""
    page = (ROOT / "docs" / "vault.md").read_text()
    found = re.search(r"`function-platform\.hcl`.*?```hcl\n(.*?)```", page, re.DOTALL)
    assert found, "docs/vault.md has no function-platform.hcl block"
    return found.group(1)


def component_step() -> JSON:
    """The vault-gc step of the component's CronOperation: what its Operations read."""
    (component,) = load_yaml_docs(COMPONENT)
    (step,) = component["spec"]["operationTemplate"]["spec"]["pipeline"]
    return dict(step)


def entry_path(namespace: str, vault_path: str) -> str:
    """Where docs/vault.md (Tenancy) says an XR's vaultPath is written, mount first."""
    mount, _, rest = vault_path.partition("/")
    return f"{mount}/tenants/{namespace}/{rest}"


def read_entry(bao: Bao, path: str) -> tuple[JSON, JSON] | None:
    """(data, metadata) of a KV v2 entry as OpenBao's API holds it; None when there is none."""
    mount, _, rest = path.partition("/")
    kv = bao.client().secrets.kv.v2
    try:
        meta = kv.read_secret_metadata(path=rest, mount_point=mount)["data"]
        data = kv.read_secret_version(path=rest, mount_point=mount, raise_on_deleted_version=True)
    except vexc.InvalidPath:
        return None
    return data["data"]["data"], meta


@pytest.fixture(scope="module")
def bao(plane: ControlPlane) -> Iterator[Bao]:
    """A real OpenBao on loopback. The function process shares the machine's network (only
    its mount namespace is its own, harness/controlplane.py), so it reaches the address."""
    server = Bao()
    try:
        yield server.start()
    finally:
        server.close()


@contextlib.contextmanager
def token_in_credentials(plane: ControlPlane, step: JSON, token: str) -> Iterator[None]:
    """The token as key vault-token of the step's credentials Secret, the key restored after."""
    (ref,) = [c["secretRef"] for c in step["credentials"]]
    secret = plane.get("v1", "Secret", ref["name"], ref["namespace"])
    assert secret is not None, "no credentials Secret: install/ generates it"
    before = (secret.get("data") or {}).get("vault-token")
    plane.patch(secret, {"stringData": {"vault-token": token}})
    try:
        yield
    finally:
        plane.patch(secret, {"data": {"vault-token": before}})


@contextlib.contextmanager
def vault_in_settings(plane: ControlPlane, step: JSON, vault: JSON) -> Iterator[None]:
    """`vault` in the platform settings the step asks for, as they were after."""
    (wanted,) = [
        r
        for r in step["requirements"]["requiredResources"]
        if r["requirementName"] == SETTINGS_REQUIREMENT
    ]
    doc = {"apiVersion": wanted["apiVersion"], "kind": wanted["kind"]}
    doc["metadata"] = {"name": wanted["name"]}
    settings = plane.get(doc["apiVersion"], doc["kind"], wanted["name"])
    if settings is None:
        plane.create(doc | {"data": {"vault": vault}})
    else:
        plane.patch(settings, {"data": {"vault": vault}})
    try:
        yield
    finally:
        if settings is None:
            plane.delete(doc)
        else:
            plane.patch(settings, {"data": {"vault": (settings.get("data") or {}).get("vault")}})


@pytest.fixture(scope="module")
def wired(plane: ControlPlane, bao: Bao) -> Iterator[Bao]:
    """docs/vault.md, Wiring it up: 1. the KV v2 mount and the function's policy, 2. token
    auth with a periodic token of that policy, 3. the token in the credentials Secret,
    4. Vault's address in the platform settings. The database engine stays off
    (`database.enabled: false`): no PostgreSQL runs for it to reach here; its roles' removal
    is tests/integration/test_vault.py's, against a real one."""
    admin = bao.client()
    mounts = admin.sys.list_mounted_secrets_engines()["data"]
    assert (mounts["secret/"]["type"], mounts["secret/"]["options"]["version"]) == ("kv", "2")
    admin.sys.create_or_update_policy(name=POLICY, policy=documented_policy())
    token = admin.auth.token.create(policies=[POLICY], period="1h")["auth"]["client_token"]
    step = component_step()
    vault = {"address": bao.address, "database": {"enabled": False}}
    with token_in_credentials(plane, step, token), vault_in_settings(plane, step, vault):
        yield bao


def team_xr(namespace: str) -> JSON:
    """examples/postgresqlinstance/dev's XR (shared server, a vaultPath) in the namespace."""
    doc = load_yaml_docs(EXAMPLE)[0]
    doc["metadata"] = {"name": doc["metadata"]["name"], "namespace": namespace}
    return doc


def _synced(plane: ControlPlane, doc: JSON) -> JSON | None:
    meta = doc["metadata"]
    xr = plane.get(doc["apiVersion"], doc["kind"], meta["name"], meta["namespace"])
    if cluster.condition(xr, "VaultSynced").get("status") != "True":
        return None
    return xr if ((xr or {}).get("status") or {}).get("vault", {}).get("path") else None


def _wait_synced(plane: ControlPlane, doc: JSON) -> JSON:
    ns = doc["metadata"]["namespace"]
    xr: JSON = cluster.wait_for(f"{ns}: VaultSynced", lambda: _synced(plane, doc), timeout=60)
    return xr


@pytest.fixture(scope="module")
def written(plane: ControlPlane, wired: Bao) -> Iterator[dict[str, JSON]]:
    """Each team's XR, created by its tenant, once Vault holds its entry (VaultSynced)."""
    docs = {ns: team_xr(ns) for ns in TEAMS}
    try:
        with plane.timed("test: vault-gc, two teams' XRs writing OpenBao"):
            for ns, doc in docs.items():
                plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                cluster.grant_tenant(plane, ns, doc)
                plane.apply(doc, user=cluster.tenant(ns))
            synced = {ns: _wait_synced(plane, doc) for ns, doc in docs.items()}
        yield synced
    finally:
        for ns, doc in docs.items():
            plane.delete(doc, user=cluster.tenant(ns))


def test_installed_as_the_component(plane: ControlPlane) -> None:
    """The CronOperation is install/components/vault-gc's, with only its schedule patched
    (the component runs every 15 minutes; the test cannot wait that long)."""
    (component,) = load_yaml_docs(COMPONENT)
    installed = plane.get(OPS_API, "CronOperation", VAULT_GC)
    assert installed is not None, f"CronOperation {VAULT_GC} not installed"
    assert component["metadata"]["name"] == VAULT_GC
    want = component["spec"] | {"schedule": VAULT_GC_SCHEDULE}
    problems = cluster.subset_problems(want, installed["spec"])
    assert not problems, problems


def test_each_team_writes_its_entry(
    plane: ControlPlane, wired: Bao, written: dict[str, JSON]
) -> None:
    """Each XR's entry is in OpenBao under its own namespace's subtree, holding its
    connection Secret's data and tagged with its owner (docs/vault.md)."""
    for ns, xr in written.items():
        path = entry_path(ns, xr["spec"]["parameters"]["vaultPath"])
        assert xr["status"]["vault"]["path"] == path
        entry = read_entry(wired, path)
        assert entry is not None, f"{path} not in OpenBao"
        data, meta = entry
        (secret,) = [o for o in cluster.composed(plane, xr).values() if o["kind"] == "Secret"]
        assert data == {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert meta["custom_metadata"] == {
            "owner-namespace": ns,
            "owner-kind": xr["kind"],
            "owner-name": xr["metadata"]["name"],
            "owner-uid": xr["metadata"]["uid"],
        }


def _collected(plane: ControlPlane, bao: Bao, path: str, since: str) -> JSON | None:
    """A finished Operation of the CronOperation created at or after since, once path is gone
    from OpenBao. Core may run an Operation's pipeline again when its status update fails
    (crossplane v2.3.4 internal/controller/ops/operation/reconciler.go returns the error and
    is requeued), and the output kept is the last run's: the run that deleted path may be
    followed by one that found nothing left, so OpenBao is the oracle, not the output."""
    if read_entry(bao, path) is not None:
        return None
    for op in plane.list(OPS_API, "Operation", labels=f"{CRON_LABEL}={VAULT_GC}"):
        if op["metadata"]["creationTimestamp"] < since:
            continue
        if cluster.condition(op, "Succeeded").get("status") == "True":
            return op
    return None


def test_deleted_xrs_entry_removed_the_other_kept(
    plane: ControlPlane, wired: Bao, written: dict[str, JSON]
) -> None:
    """Team A's XR deleted: an Operation core created on the CronOperation's schedule ran
    the function, which deleted the entry; team B's live entry is untouched."""
    gone_ns, kept_ns = TEAMS
    gone, kept = written[gone_ns], written[kept_ns]
    gone_path, kept_path = gone["status"]["vault"]["path"], kept["status"]["vault"]["path"]
    kept_before = read_entry(wired, kept_path)
    assert kept_before is not None
    with plane.timed("test: vault-gc, an Operation after an XR's deletion"):
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        plane.delete(gone, user=cluster.tenant(gone_ns))
        cluster.wait_for(
            f"{gone_ns}: XR gone",
            lambda: (
                plane.get(gone["apiVersion"], gone["kind"], gone["metadata"]["name"], gone_ns)
                is None
            ),
        )
        op = cluster.wait_for(
            f"an Operation of {VAULT_GC} deleting {gone_path}",
            lambda: _collected(plane, wired, gone_path, since),
            timeout=COLLECT_SECONDS,
        )
    cron = plane.get(OPS_API, "CronOperation", VAULT_GC)
    assert cron is not None
    owners = [o for o in op["metadata"].get("ownerReferences") or [] if o.get("controller")]
    assert [(o["kind"], o["name"], o["uid"]) for o in owners] == [
        ("CronOperation", VAULT_GC, cron["metadata"]["uid"])
    ], "the Operation is not the CronOperation's"
    succeeded = cluster.condition(op, "Succeeded")
    assert succeeded.get("reason") == "PipelineSuccess", op["status"]
    (step,) = op["status"]["pipeline"]
    assert step["step"] == "vault-gc"
    assert step["output"]["mounts"] == ["secret"]
    assert set(step["output"]["deleted"]) <= {gone_path}, step["output"]
    kept_after = read_entry(wired, kept_path)
    assert kept_after is not None, f"{kept_path}, of a live XR, deleted"
    _same_entry(kept_before, kept_after)
    assert _synced(plane, kept) is not None, f"{kept_ns}: VaultSynced no longer True"


def _same_entry(before: tuple[JSON, Any], after: tuple[JSON, Any]) -> None:
    """The same data, never written again: its metadata was created at the same time and
    holds the same version (deleting and rewriting it would create it anew)."""
    assert after[0] == before[0]
    for key in ("created_time", "current_version"):
        assert after[1][key] == before[1][key], key
