"""Two teams, one Vault: entries of one XR are never written over by another, and the
garbage collector finds orphans in every KV v2 mount (real OpenBao, bao server -dev).

team-a's XRs `first` and `second` and team-b's `first` ask for the same vaultPath.
"""

from __future__ import annotations

from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.runner import run
from function.structs import JSON, to_dict
from harness.requests import PASSWORD_KEY, request, status, xr
from tests.integration.servers import Bao, Postgres
from tests.integration.test_vault import (
    PG,
    _operation_request,
    condition,
    policy_token,
    settings,
    warnings,
)

# The function's policy, for two KV v2 mounts (docs/vault.md).
TWO_MOUNTS = """
path "secret/data/tenants/*" { capabilities = ["create", "read", "update"] }
path "secret/metadata/tenants/*" { capabilities = ["read", "update", "delete", "list"] }
path "team-kv/data/tenants/*" { capabilities = ["create", "read", "update"] }
path "team-kv/metadata/tenants/*" { capabilities = ["read", "update", "delete", "list"] }
path "database/config/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "database/roles/*" { capabilities = ["create", "read", "update", "delete", "list"] }
"""


def _xr(namespace: str, name: str, vault_path: str) -> JSON:
    composite = xr(
        PG, "PostgreSQLInstance", {"environment": "dev", "vaultPath": vault_path}, name=name
    )
    composite["metadata"]["namespace"] = namespace
    composite["metadata"]["uid"] = f"uid-{namespace}-{name}"
    return composite


def _sync(bao: Bao, pg: Postgres, token: str, composite: JSON) -> fnv1.RunFunctionResponse:
    creds = {"platform": {"password-key": PASSWORD_KEY, "vault-token": token.encode()}}
    vault: dict[str, Any] = {"database": {"enabled": False}}
    rsp = run(request(composite, settings=settings(bao.address, pg, **vault), credentials=creds))
    composite["status"] = status(rsp)
    return rsp


def _mount(bao: Bao, path: str) -> None:
    admin = bao.client()
    if f"{path}/" not in admin.sys.list_mounted_secrets_engines()["data"]:
        admin.sys.enable_secrets_engine("kv", path=path, options={"version": "2"})


def _read(bao: Bao, mount: str, path: str) -> tuple[JSON, JSON] | None:
    """(data, metadata) of an entry, None when there is none."""
    try:
        kv = bao.client().secrets.kv.v2
        data = kv.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True)
        meta = kv.read_secret_metadata(path=path, mount_point=mount)
    except Exception:  # hvac InvalidPath: not there
        return None
    return data["data"]["data"], meta["data"]


def test_the_first_writer_keeps_a_path_the_second_is_refused(bao: Bao, postgres: Postgres) -> None:
    token = policy_token(bao, TWO_MOUNTS, "two-teams")
    first = _xr("team-a", "first", "secret/shared/db")
    second = _xr("team-a", "second", "secret/shared/db")
    other_team = _xr("team-b", "first", "secret/shared/db")

    assert condition(_sync(bao, postgres, token, first)).status == fnv1.STATUS_CONDITION_TRUE
    written = _read(bao, "secret", "tenants/team-a/shared/db")
    assert written is not None
    data, meta = written
    version = meta["current_version"]

    for _ in range(2):  # in turn, as their reconciles would come
        refused = _sync(bao, postgres, token, second)
        got = condition(refused)
        assert (got.status, got.reason) == (fnv1.STATUS_CONDITION_FALSE, "VaultPathTaken")
        assert any(w.reason == "VaultPathTaken" for w in warnings(refused))
        assert condition(_sync(bao, postgres, token, first)).status == fnv1.STATUS_CONDITION_TRUE
    after = _read(bao, "secret", "tenants/team-a/shared/db")
    assert after is not None
    assert after[0] == data, "the second XR's credentials never reached the entry"
    assert after[1]["current_version"] == version, "no flip-flop: not one write more"
    assert after[1]["custom_metadata"]["owner-uid"] == "uid-team-a-first"

    # team-b's XR of the same name and path writes its own subtree, nothing of team-a's.
    b = _sync(bao, postgres, token, other_team)
    assert condition(b).status == fnv1.STATUS_CONDITION_TRUE
    assert status(b)["vault"]["path"] == "secret/tenants/team-b/shared/db"
    theirs = _read(bao, "secret", "tenants/team-b/shared/db")
    assert theirs is not None
    assert theirs[0]["password"] != data["password"]
    assert data["password"] not in str(b)


def test_the_collector_finds_orphans_in_every_kv_mount(bao: Bao, postgres: Postgres) -> None:
    """An entry in a mount no live XR names any more is collected once its XR is gone."""
    _mount(bao, "team-kv")
    token = policy_token(bao, TWO_MOUNTS, "two-teams")
    gone = _xr("team-a", "gone", "team-kv/app/db")
    kept = _xr("team-a", "kept", "secret/app/db")
    for composite in (gone, kept):
        assert condition(_sync(bao, postgres, token, composite)).status == (
            fnv1.STATUS_CONDITION_TRUE
        )
    assert _read(bao, "team-kv", "tenants/team-a/app/db") is not None

    rsp = run(
        _operation_request(
            bao.address,
            postgres,
            token,
            {"postgresqlinstances": [kept], "kubernetesclusters": []},
        )
    )
    assert [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL] == []
    output = to_dict(rsp.output)
    assert "team-kv/tenants/team-a/app/db" in output["deleted"]
    assert {"secret", "team-kv"} <= set(output["mounts"])
    assert _read(bao, "team-kv", "tenants/team-a/app/db") is None
    assert _read(bao, "secret", "tenants/team-a/app/db") is not None, "a live XR's entry"
