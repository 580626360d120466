"""Vault intents, SQL quoting and the Vault step's outcomes that need no server."""

import base64

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.kinds.postgresql.vault import creation_statements, revocation_statements
from function.runner import run
from function.vault.intents import DatabaseConnection, KVWrite, split_kv_path
from function.vault.kubeconfig import kubeconfig_intent
from function.vault.sql import quote_ident, statement_ident
from harness.requests import desired, request, status, xr

PG = "database.platform.example.org/v1alpha1"
DEDICATED_DEV = {"environment": "dev", "deployment": "dedicated", "enableBackup": False}
MALICIOUS = 'x"; DROP TABLE users; --'


def test_quote_ident_keeps_any_name_one_identifier() -> None:
    assert quote_ident("app") == '"app"'
    assert quote_ident(MALICIOUS) == '"x""; DROP TABLE users; --"'
    # Outside the doubled quotes there is nothing: one token, whatever the name.
    inner = quote_ident(MALICIOUS)[1:-1]
    assert '"' not in inner.replace('""', "")
    for bad in ("", "a\x00b", "x" * 64):
        with pytest.raises(ValueError, match="identifier"):
            quote_ident(bad)


def test_vault_templates_cannot_be_smuggled_in() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        statement_ident("a{{password}}")
    stmts = creation_statements(MALICIOUS)
    assert stmts[0].endswith('IN ROLE "x""; DROP TABLE users; --";')
    assert revocation_statements("owner")[0] == 'REVOKE "owner" FROM "{{name}}";'


def test_split_kv_path() -> None:
    assert split_kv_path("secret/database/dev", None) == ("secret", "database/dev")
    assert split_kv_path("database/dev", "kv/") == ("kv", "database/dev")


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
    secret = {"data": {"value": base64.b64encode(b"kind: Config\n").decode()}}
    intent = kubeconfig_intent("secret/clusters/dev", secret, "dev-kubeconfig")
    assert intent == KVWrite("secret/clusters/dev/kubeconfig", {"value": "kind: Config\n"})
    waiting = kubeconfig_intent("secret/clusters/dev", None, "dev-kubeconfig")
    assert waiting.reason == "WaitingForKubeconfig"  # type: ignore[union-attr]


def _rsp(params: dict[str, object], **kw: object) -> fnv1.RunFunctionResponse:
    return run(request(xr(PG, "PostgreSQLInstance", params), **kw))  # type: ignore[arg-type]


def test_without_vault_path_nothing_about_vault() -> None:
    rsp = _rsp({"environment": "dev", "deployment": "dedicated", "enableBackup": False})
    assert not [c for c in rsp.conditions if c.type == "VaultSynced"]
    assert "vault" not in status(rsp)
    assert "enableSuperuserAccess" not in desired(rsp)["cluster"]["spec"]


def test_not_configured_is_a_warning_with_the_path_in_status() -> None:
    rsp = _rsp({"environment": "dev", "vaultPath": "secret/database/dev"})
    (cond,) = [c for c in rsp.conditions if c.type == "VaultSynced"]
    assert (cond.status, cond.reason) == (fnv1.STATUS_CONDITION_FALSE, "VaultNotConfigured")
    assert [r.reason for r in rsp.results if r.severity == fnv1.SEVERITY_WARNING] == [
        "VaultNotConfigured"
    ]
    assert status(rsp)["vault"] == {"path": "secret/tenants/team-a/database/dev"}
    assert rsp.meta.ttl.seconds == 30
    # The admin Secret is asked for; until it is there the engine config waits.
    assert "vault-database-admin" in rsp.requirements.resources


def test_dedicated_uses_the_cnpg_superuser() -> None:
    rsp = _rsp(
        {**DEDICATED_DEV, "vaultPath": "secret/db/x"},
        settings={"vault": {"address": "http://127.0.0.1:1"}},
        credentials={"platform": {"password-key": b"k"}},
    )
    assert desired(rsp)["cluster"]["spec"]["enableSuperuserAccess"] is True
    sel = rsp.requirements.resources["vault-database-admin"]
    assert (sel.match_name, sel.namespace) == ("app-pg-superuser", "team-a")
    (cond,) = [c for c in rsp.conditions if c.type == "VaultSynced"]
    assert cond.reason == "MissingCredentials"


def test_engine_disabled_means_kv_only() -> None:
    rsp = _rsp(
        {**DEDICATED_DEV, "vaultPath": "secret/db/x"},
        settings={"vault": {"database": {"enabled": False}}},
    )
    assert "enableSuperuserAccess" not in desired(rsp)["cluster"]["spec"]
    assert "vault-database-admin" not in rsp.requirements.resources
