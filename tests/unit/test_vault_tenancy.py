"""Vault tenancy: paths inside the namespace's subtree, collision-free engine names, cleanup."""

import base64
from pathlib import Path

import pytest
import yaml

from function import catalogue
from function.context import Composite
from function.input import SETTINGS_REQUIREMENT
from function.kinds.postgresqlinstance import KIND as POSTGRESQL
from function.platform import PlatformSettings
from function.vault import operation, tenancy
from function.vault import sync as vaultsync
from function.vault.intents import (
    DatabaseConnection,
    DatabaseDelete,
    DatabaseRole,
    KVDelete,
    KVWrite,
    VaultIntent,
)
from function.vault.model import VaultParameters
from function.vault.settings import Vault
from tests.composing import context

ROOT = Path(__file__).resolve().parents[2]

ADMIN = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"namespace": "crossplane-system", "name": "shared-postgresql-admin"},
    "data": {
        k: base64.b64encode(b"admin-" + k.encode()).decode() for k in ("username", "password")
    },
}


def _vault_intents(namespace: str, name: str, vault_path: str = "secret/db") -> list[VaultIntent]:
    ctx = context(
        POSTGRESQL,
        {"environment": "dev", "vaultPath": vault_path},
        name=name,
        namespace=namespace,
        required={"vault-database-admin": [ADMIN]},
    )
    return list(POSTGRESQL.compose(ctx).vault)


def test_the_colliding_pair_gets_distinct_engine_names() -> None:
    """team-a/db and team/a-db once both gave team-a-db: one could take the other's engine."""
    a = _vault_intents("team-a", "db")
    b = _vault_intents("team", "a-db")
    names = [
        {i.name for i in intents if isinstance(i, (DatabaseConnection, DatabaseRole))}
        for intents in (a, b)
    ]
    assert names[0] == {"team-a_db", "team-a_db-readwrite"}
    assert names[1] == {"team_a-db", "team_a-db-readwrite"}
    assert not names[0] & names[1]


@pytest.mark.parametrize(
    ("vault", "vault_path", "written"),
    [
        pytest.param(
            {},
            "secret/database/dev",
            "secret/tenants/team-a/database/dev",
            id="mount-first-path-placed-under-the-namespace",
        ),
        pytest.param(
            {"kvMount": "kv"},
            "database/dev",
            "tenants/team-a/database/dev",
            id="with-kvMount-the-path-is-in-mount",
        ),
        pytest.param(
            {"tenantPrefix": "ns/{namespace}/apps"},
            "secret/x",
            "secret/ns/team-a/apps/x",
            id="custom-prefix",
        ),
        pytest.param(
            {},
            "secret/tenants/team-b/db",
            "secret/tenants/team-a/tenants/team-b/db",
            id="naming-another-tenant-still-lands-in-own-subtree",
        ),
    ],
)
def test_written_path_is_inside_the_namespace(
    vault: dict[str, str], vault_path: str, written: str
) -> None:
    settings = Vault.model_validate(vault)
    assert tenancy.tenant_path(settings, "team-a", vault_path) == written
    assert tenancy.inside(settings, "team-a", written)
    assert not tenancy.inside(settings, "team-b", written)


def test_kv_intent_and_status_show_the_written_path() -> None:
    intents = _vault_intents("team-a", "app", "secret/database/dev")
    kv = [i for i in intents if isinstance(i, KVWrite)]
    assert [i.path for i in kv] == ["secret/tenants/team-a/database/dev"]
    status = vaultsync.status_of(intents, PlatformSettings())
    assert status.path == "secret/tenants/team-a/database/dev"
    assert status.credentialsPath == "database/creds/team-a_app-readwrite"


XR = Composite(
    "database.platform.example.org/v1alpha1", "PostgreSQLInstance", "app", "team-a", "u1"
)


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        pytest.param(None, [], id="nothing-recorded-nothing-to-delete"),
        pytest.param(
            {
                "path": "secret/tenants/team-a/old",
                "credentialsPath": "database/creds/team-a_app-readwrite",
            },
            [
                KVDelete("secret/tenants/team-a/old"),
                DatabaseDelete("team-a_app", "team-a_app-readwrite"),
            ],
            id="vaultPath-removed-deletes-kv-and-engine",
        ),
        pytest.param(
            {"path": "secret/tenants/team-b/theirs"},
            [],
            id="forged-status-outside-own-subtree-ignored",
        ),
        pytest.param(
            {"credentialsPath": "database/creds/team-b_x-readwrite"},
            [],
            id="another-xrs-role-is-never-deleted",
        ),
    ],
)
def test_stale_deletions(observed: dict[str, str] | None, expected: list[object]) -> None:
    assert vaultsync.stale(XR, observed, [], PlatformSettings()) == expected


def test_unchanged_path_is_not_deleted() -> None:
    intents = [KVWrite("secret/tenants/team-a/db", {"k": "v"})]
    assert (
        vaultsync.stale(XR, {"path": "secret/tenants/team-a/db"}, intents, PlatformSettings()) == []
    )


def test_owner_tag_names_the_xr() -> None:
    assert tenancy.owner_of(XR) == {
        "owner-namespace": "team-a",
        "owner-kind": "PostgreSQLInstance",
        "owner-name": "app",
        "owner-uid": "u1",
    }
    assert tenancy.owned_by({"owner-uid": "u1"}, XR)
    assert not tenancy.owned_by({"owner-uid": "u2"}, XR)


def test_the_cronoperation_lists_every_kind_with_vault_entries() -> None:
    """A kind missing from install/components/vault-gc would never be reported alive: its entries
    would all be collected. The manifest, operation.REQUIREMENTS and the catalogue agree."""
    manifest = yaml.safe_load((ROOT / "install/components/vault-gc/vault-gc.yaml").read_text())
    (step,) = manifest["spec"]["operationTemplate"]["spec"]["pipeline"]
    listed = {
        r["requirementName"]: (r["apiVersion"], r["kind"])
        for r in step["requirements"]["requiredResources"]
        if r["requirementName"] != SETTINGS_REQUIREMENT
    }
    with_vault = {
        k.api.plural: (k.api.api_version, k.api.kind)
        for k in catalogue.kinds()
        if issubclass(k.api.parameters, VaultParameters)
    }
    assert listed == with_vault
    assert {n: kind for n, (_, kind) in listed.items()} == operation.REQUIREMENTS


@pytest.mark.parametrize(
    "observed",
    [
        pytest.param({"path": 5}, id="wrong-type"),
        pytest.param("secret/tenants/team-a/x", id="not-an-object"),
    ],
)
def test_a_malformed_recorded_status_deletes_nothing(observed: object) -> None:
    assert vaultsync.recorded(observed) is None  # type: ignore[arg-type]
    assert vaultsync.stale(XR, observed, [], PlatformSettings()) == []  # type: ignore[arg-type]
