"""Vault intents: SQL quoting, KV paths, kubeconfig, and what a PostgreSQLInstance asks of Vault."""

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest

from function.context import Selector
from function.kinds.postgresqlinstance import KIND
from function.kinds.postgresqlinstance.connection import SECRET
from function.kinds.postgresqlinstance.vault import (
    ADMIN_SECRET,
    creation_statements,
    revocation_statements,
)
from function.structs import JSON
from function.vault.intents import (
    DatabaseConnection,
    DatabaseRole,
    KVWrite,
    Pending,
    VaultIntent,
    split_kv_path,
)
from function.vault.kubeconfig import kubeconfig_intent
from function.vault.model import VaultStatus
from function.vault.sql import quote_ident, statement_ident
from function.vault.sync import status_of
from function.vault.tenancy import role_name
from tests.composing import context

MALICIOUS = 'x"; DROP TABLE users; --'


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


# --- SQL quoting and statements ---------------------------------------------------------------


def test_quote_ident_keeps_any_name_one_identifier() -> None:
    assert quote_ident("app") == '"app"'
    assert quote_ident(MALICIOUS) == '"x""; DROP TABLE users; --"'
    # Outside the doubled quotes there is nothing: one token, whatever the name.
    inner = quote_ident(MALICIOUS)[1:-1]
    assert '"' not in inner.replace('""', "")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("", id="empty: no identifier at all"),
        pytest.param("a\x00b", id="NUL: cannot be in an identifier"),
        pytest.param("x" * 64, id="over 63 bytes: PostgreSQL would truncate it"),
    ],
)
def test_quote_ident_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        quote_ident(bad)


def test_vault_templates_cannot_be_smuggled_in() -> None:
    for bad in ("a{{password}}", "a}}b"):
        with pytest.raises(ValueError, match="must not contain"):
            statement_ident(bad)
    with pytest.raises(ValueError, match="must not contain"):
        creation_statements("a{{name}}")
    stmts = creation_statements(MALICIOUS)
    assert stmts[0].endswith('IN ROLE "x""; DROP TABLE users; --";')
    assert revocation_statements("owner")[0] == 'REVOKE "owner" FROM "{{name}}";'


def test_statements_act_as_the_owner_and_drop_only_the_login_role() -> None:
    assert creation_statements("app") == (
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
        "VALID UNTIL '{{expiration}}' IN ROLE \"app\";",
        'ALTER ROLE "{{name}}" SET role TO "app";',
    )
    assert revocation_statements("app") == (
        'REVOKE "app" FROM "{{name}}";',
        'DROP ROLE IF EXISTS "{{name}}";',
    )
    assert role_name("team-a_app") == "team-a_app-readwrite"


# --- KV paths, secrets in repr, kubeconfig ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "mount", "want"),
    [
        pytest.param(
            "secret/database/dev", None, ("secret", "database/dev"), id="no mount: first segment"
        ),
        pytest.param(
            "database/dev", "kv/", ("kv", "database/dev"), id="configured mount: the whole path"
        ),
    ],
)
def test_split_kv_path(path: str, mount: str | None, want: tuple[str, str]) -> None:
    assert split_kv_path(path, mount) == want


def test_intents_hide_secrets_in_repr() -> None:
    text = repr(
        [
            KVWrite("p", {"password": "hunter2-secret"}),
            DatabaseConnection("c", "u", "admin", "admin-secret"),
        ]
    )
    assert "hunter2" not in text
    assert "admin-secret" not in text


def test_kubeconfig_intent() -> None:
    secret = {"data": {"value": b64("kind: Config\n")}}
    intent = kubeconfig_intent("secret/clusters/dev", secret, "dev-kubeconfig")
    assert intent == KVWrite("secret/clusters/dev/kubeconfig", {"value": "kind: Config\n"})
    waiting = kubeconfig_intent("secret/clusters/dev", None, "dev-kubeconfig")
    assert isinstance(waiting, Pending)
    assert waiting.reason == "WaitingForKubeconfig"
    assert waiting.path == "secret/clusters/dev/kubeconfig"
    assert "dev-kubeconfig" in waiting.message


# --- a PostgreSQLInstance's intents -----------------------------------------------------------

SHARED_ADMIN = Selector("v1", "Secret", "shared-postgresql-admin", "crossplane-system")
SUPERUSER = Selector("v1", "Secret", "app-pg-superuser", "team-a")
SHARED_URL = (
    "postgresql://{{username}}:{{password}}@postgresql.platform-data.svc.cluster.local:5432/"
    "team_a_app_e5bdc8?sslmode=require"
)
DEDICATED_URL = (
    "postgresql://{{username}}:{{password}}@app-pg-rw.team-a.svc:5432/app?sslmode=require"
)

# Given the connection Secret's stringData, the intents the composer should give.
Want = Callable[[Mapping[str, str]], list[VaultIntent]]


def admin_secret(username: str | None = "postgres", password: str | None = "admin-pw") -> JSON:
    data = {k: b64(v) for k, v in (("username", username), ("password", password)) if v}
    return {"apiVersion": "v1", "kind": "Secret", "data": data}


def kv_only(path: str) -> Want:
    return lambda data: [KVWrite(path, dict(data))]


def waiting(path: str, admin: Selector) -> Want:
    return lambda data: [
        KVWrite(path, dict(data)),
        Pending(
            what="database connection team-a_app",
            reason="WaitingForAdminSecret",
            message=f"dynamic credentials wait for the admin Secret "
            f"{admin.namespace}/{admin.name} (username and password)",
        ),
    ]


def engine(path: str, url: str, default_ttl: int = 3600, max_ttl: int = 86400) -> Want:
    return lambda data: [
        KVWrite(path, dict(data)),
        DatabaseConnection(
            "team-a_app", url, "postgres", "admin-pw", allowed_roles=("team-a_app-readwrite",)
        ),
        DatabaseRole(
            name="team-a_app-readwrite",
            db_name="team-a_app",
            creation_statements=creation_statements(data["username"]),
            revocation_statements=revocation_statements(data["username"]),
            default_ttl=default_ttl,
            max_ttl=max_ttl,
        ),
    ]


@dataclass(frozen=True)
class Case:
    reason: str
    params: JSON
    want: Want
    requirements: dict[str, Selector] = field(default_factory=dict)
    # status.vault the runner would write (function.vault.sync.status_of of the intents).
    where: VaultStatus = field(default_factory=VaultStatus)
    # spec.enableSuperuserAccess of a dedicated cluster (None: not set; shared: no cluster).
    superuser: bool | None = None
    settings: JSON = field(default_factory=dict)
    required: dict[str, list[JSON]] = field(default_factory=dict)


# Backups need the platform's object store wiring; these cases are about Vault.
DEDICATED = {"deployment": "dedicated", "enableBackup": False}
# vaultPath and the KV path written for it: inside the namespace's subtree (tenancy.py).
KV, KV_WRITTEN = "secret/database/dev", "secret/tenants/team-a/database/dev"
X, X_WRITTEN = "secret/db/x", "secret/tenants/team-a/db/x"

CASES = {
    "SharedWithoutVaultPath": Case(
        reason="Without a vaultPath there are no intents and nothing is required.",
        params={},
        want=lambda _: [],
    ),
    "DedicatedWithoutVaultPath": Case(
        reason="Without a vaultPath a dedicated cluster publishes no superuser Secret.",
        params=DEDICATED,
        want=lambda _: [],
    ),
    "SharedWaitingForAdminSecret": Case(
        reason="The KV write goes ahead; the engine config waits for the admin Secret it asks for.",
        params={"vaultPath": KV},
        want=waiting(KV_WRITTEN, SHARED_ADMIN),
        requirements={ADMIN_SECRET: SHARED_ADMIN},
        where=VaultStatus(path=KV_WRITTEN),
    ),
    "SharedAdminSecretFromInput": Case(
        reason="The shared server's admin Secret is the one named in postgresqlInstance.shared.",
        params={"vaultPath": KV},
        settings={
            "postgresqlInstance": {
                "shared": {"adminConnectionSecret": {"namespace": "db", "name": "adm"}}
            }
        },
        want=waiting(KV_WRITTEN, Selector("v1", "Secret", "adm", "db")),
        requirements={ADMIN_SECRET: Selector("v1", "Secret", "adm", "db")},
        where=VaultStatus(path=KV_WRITTEN),
    ),
    "SharedAdminSecretWithoutPassword": Case(
        reason="An admin Secret without a password is waited for like a missing one.",
        params={"vaultPath": KV},
        required={ADMIN_SECRET: [admin_secret(password=None)]},
        want=waiting(KV_WRITTEN, SHARED_ADMIN),
        requirements={ADMIN_SECRET: SHARED_ADMIN},
        where=VaultStatus(path=KV_WRITTEN),
    ),
    "SharedAdminSecretFetched": Case(
        reason="With the admin Secret there is a connection and a read-write role, so status "
        "names where dynamic credentials are read.",
        params={"vaultPath": KV},
        required={ADMIN_SECRET: [admin_secret()]},
        want=engine(KV_WRITTEN, SHARED_URL),
        requirements={ADMIN_SECRET: SHARED_ADMIN},
        where=VaultStatus(path=KV_WRITTEN, credentialsPath="database/creds/team-a_app-readwrite"),
    ),
    "DedicatedUsesTheCNPGSuperuser": Case(
        reason="A dedicated cluster publishes its superuser Secret, which Vault logs in with.",
        params=DEDICATED | {"vaultPath": X},
        want=waiting(X_WRITTEN, SUPERUSER),
        requirements={ADMIN_SECRET: SUPERUSER},
        where=VaultStatus(path=X_WRITTEN),
        superuser=True,
    ),
    "DedicatedSuperuserFetched": Case(
        reason="With the superuser Secret, the engine's TTLs and mount come from the input.",
        params=DEDICATED | {"vaultPath": X},
        settings={
            "vault": {"database": {"mount": "dbs", "defaultTTLSeconds": 600, "maxTTLSeconds": 7200}}
        },
        required={ADMIN_SECRET: [admin_secret()]},
        want=engine(X_WRITTEN, DEDICATED_URL, default_ttl=600, max_ttl=7200),
        requirements={ADMIN_SECRET: SUPERUSER},
        where=VaultStatus(path=X_WRITTEN, credentialsPath="dbs/creds/team-a_app-readwrite"),
        superuser=True,
    ),
    "SharedEngineDisabled": Case(
        reason="With the database engine disabled only the KV entry is written.",
        params={"vaultPath": KV},
        settings={"vault": {"database": {"enabled": False}}},
        want=kv_only(KV_WRITTEN),
        where=VaultStatus(path=KV_WRITTEN),
    ),
    "DedicatedEngineDisabled": Case(
        reason="With the database engine disabled a dedicated cluster needs no superuser.",
        params=DEDICATED | {"vaultPath": X},
        settings={"vault": {"database": {"enabled": False}}},
        want=kv_only(X_WRITTEN),
        where=VaultStatus(path=X_WRITTEN),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_postgresql_intents(case: Case) -> None:
    ctx = context(
        KIND,
        {"environment": "dev"} | case.params,
        settings=case.settings,
        required=case.required,
    )
    d = KIND.compose(ctx)
    assert d.vault == case.want(d.resources[SECRET]["stringData"]), case.reason
    assert d.requirements == case.requirements, case.reason
    assert status_of(d.vault, ctx.platform) == case.where, case.reason
    if "cluster" in d.resources:
        spec = d.resources["cluster"]["spec"]
        assert spec.get("enableSuperuserAccess") is case.superuser, case.reason
    else:
        assert case.superuser is None, case.reason
    # Pending intents become warnings in the runner, not here.
    assert not d.warnings
    assert not d.conditions
