"""Vault integration against a real OpenBao dev server and a real PostgreSQL.

The function runs exactly as in production (function.runner.run on a real
RunFunctionRequest); the servers are started by the fixtures in conftest.py.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.context import Composite
from function.input import SETTINGS_REQUIREMENT
from function.kinds import postgresqlinstance
from function.platform import PlatformSettings
from function.runner import run
from function.structs import JSON, to_dict
from function.vault import gc
from function.vault import sync as vaultsync
from function.vault.kubeconfig import kubeconfig_intent
from function.vault.sql import quote_ident
from harness.requests import PASSWORD_KEY, desired, request, status, xr
from tests.composing import context
from tests.integration.servers import Bao, Postgres, closed_port

PG = "database.platform.example.org/v1alpha1"
NAMESPACE, NAME = "team-a", "app"
VAULT_PATH = "secret/database/dev"
WRITTEN = f"secret/tenants/{NAMESPACE}/database/dev"  # where the function puts VAULT_PATH
IN_MOUNT = WRITTEN.removeprefix("secret/")
CONNECTION = f"{NAMESPACE}_{NAME}"  # database engine connection name
ROLE = f"{CONNECTION}-readwrite"
ADMIN_SECRET = {"namespace": "crossplane-system", "name": "shared-postgresql-admin"}

POLICY = """
path "secret/data/tenants/*" { capabilities = ["create", "read", "update"] }
path "secret/metadata/tenants/*" { capabilities = ["read", "update", "delete", "list"] }
path "database/config/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "database/roles/*" { capabilities = ["create", "read", "update", "delete", "list"] }
"""
DENY = POLICY + f'\npath "secret/data/{IN_MOUNT}" {{ capabilities = ["deny"] }}\n'


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def settings(address: str, pg: Postgres, **vault: Any) -> JSON:
    return {
        "postgresqlInstance": {
            "shared": {"host": "127.0.0.1", "port": pg.port, "sslMode": "disable"}
        },
        "vault": {"address": address, "requestTimeoutSeconds": 2, "budgetSeconds": 8, **vault},
    }


def admin_secret(pg: Postgres) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": dict(ADMIN_SECRET),
        "data": {"username": b64(pg.user), "password": b64(pg.password)},
    }


def pg_request(
    address: str, pg: Postgres, creds: dict[str, bytes], **vault: Any
) -> fnv1.RunFunctionRequest:
    return request(
        xr(PG, "PostgreSQLInstance", {"environment": "dev", "vaultPath": VAULT_PATH}),
        required={"vault-database-admin": [admin_secret(pg)]},
        settings=settings(address, pg, **vault),
        credentials={"platform": {"password-key": PASSWORD_KEY, **creds}},
    )


def condition(rsp: fnv1.RunFunctionResponse) -> fnv1.Condition:
    found = [c for c in rsp.conditions if c.type == "VaultSynced"]
    assert len(found) == 1, rsp.conditions
    return found[0]


def warnings(rsp: fnv1.RunFunctionResponse) -> list[fnv1.Result]:
    return [r for r in rsp.results if r.severity == fnv1.SEVERITY_WARNING]


def desired_bytes(rsp: fnv1.RunFunctionResponse) -> bytes:
    return bytes(rsp.desired.SerializeToString(deterministic=True))


def assert_no_secrets(rsp: fnv1.RunFunctionResponse, *secrets: str) -> None:
    """Not anywhere in the response; the connection password only in the composed Secret."""
    whole = rsp.SerializeToString(deterministic=True)
    for s in secrets:
        assert s.encode() not in whole, "a secret leaked into the response"
    connection_pw = desired(rsp)["connection-secret"]["stringData"]["password"]
    outside = fnv1.RunFunctionResponse()
    outside.CopyFrom(rsp)
    del outside.desired.resources["connection-secret"]
    assert connection_pw.encode() not in outside.SerializeToString(deterministic=True)


def policy_token(bao: Bao, policy: str, name: str = "function-platform") -> str:
    admin = bao.client()
    admin.sys.create_or_update_policy(name=name, policy=policy)
    return str(admin.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"])


def enable_database(bao: Bao) -> None:
    admin = bao.client()
    if "database/" not in admin.sys.list_mounted_secrets_engines()["data"]:
        admin.sys.enable_secrets_engine("database", path="database")


def prepare_database(pg: Postgres, rsp: fnv1.RunFunctionResponse) -> dict[str, str]:
    """What provider-sql would do on the shared server: owner role and database."""
    data: dict[str, str] = desired(rsp)["connection-secret"]["stringData"]
    owner, db = data["username"], data["database"]
    if not pg.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{owner}'"):
        pw = data["password"].replace("'", "''")
        pg.psql(f"CREATE ROLE {owner} LOGIN PASSWORD '{pw}'")
        pg.psql(f"CREATE DATABASE {db} OWNER {owner}")
        pg.psql(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")
    return data


@pytest.fixture(scope="module")
def healthy(bao: Bao, postgres: Postgres) -> Iterator[dict[str, Any]]:
    """The healthy reference: token auth, policy as documented, the database in place."""
    enable_database(bao)
    token = policy_token(bao, POLICY)
    # Composed without a vaultPath first, to create what provider-sql would.
    plain = run(request(xr(PG, "PostgreSQLInstance", {"environment": "dev"})))
    prepare_database(postgres, plain)
    req = pg_request(bao.address, postgres, {"vault-token": token.encode()})
    rsp = run(req)
    return {"req": req, "rsp": rsp, "token": token}


def test_kv_and_database_engine_land_and_vault_issues_a_working_credential(
    bao: Bao, postgres: Postgres, healthy: dict[str, Any]
) -> None:
    rsp = healthy["rsp"]
    c = condition(rsp)
    assert (c.status, c.reason) == (fnv1.STATUS_CONDITION_TRUE, "Synced"), c.message
    assert warnings(rsp) == []
    assert status(rsp)["vault"] == {
        "path": WRITTEN,
        "credentialsPath": f"database/creds/{ROLE}",
    }
    assert_no_secrets(rsp, healthy["token"], postgres.password)

    admin = bao.client()
    kv = admin.secrets.kv.v2.read_secret_version(
        path=IN_MOUNT, mount_point="secret", raise_on_deleted_version=False
    )
    data = prepare_database(postgres, rsp)
    assert kv["data"]["data"] == data
    assert kv["data"]["metadata"]["version"] == 1

    config = admin.secrets.database.read_connection(CONNECTION)["data"]
    assert config["plugin_name"] == "postgresql-database-plugin"
    assert config["allowed_roles"] == [ROLE]
    assert config["connection_details"]["connection_url"] == (
        f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{postgres.port}/"
        f"{data['database']}?sslmode=disable"
    )
    assert "password" not in config["connection_details"]
    role = admin.secrets.database.read_role(ROLE)["data"]
    assert (role["default_ttl"], role["max_ttl"]) == (3600, 86400)
    assert role["db_name"] == CONNECTION

    # Vault issues a credential that logs in and can read and write the database.
    creds = admin.secrets.database.generate_credentials(ROLE)
    assert creds["lease_duration"] == 3600
    user, password = creds["data"]["username"], creds["data"]["password"]
    db = data["database"]
    postgres.psql(
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('x');",
        user=user,
        password=password,
        database=db,
    )
    assert postgres.psql("SELECT v FROM t", user=user, password=password, database=db) == "x"
    # What it creates belongs to the owner and outlives the lease.
    assert (
        postgres.psql("SELECT tableowner FROM pg_tables WHERE tablename = 't'", database=db)
        == data["username"]
    )
    admin.sys.revoke_lease(creds["lease_id"])
    assert postgres.psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{user}'") == "0"
    assert postgres.psql("SELECT count(*) FROM t", database=db) == "1"


def test_rerun_writes_nothing(bao: Bao, postgres: Postgres, healthy: dict[str, Any]) -> None:
    again = run(healthy["req"])
    assert condition(again).status == fnv1.STATUS_CONDITION_TRUE
    assert desired_bytes(again) == desired_bytes(healthy["rsp"])
    meta = bao.client().secrets.kv.v2.read_secret_metadata(path=IN_MOUNT, mount_point="secret")
    assert meta["data"]["current_version"] == 1
    # Nothing written at all: the same step, asked directly, reports only unchanged items.
    req = healthy["req"]
    creds = {n: dict(c.credential_data.data) for n, c in req.credentials.items()}
    ctx = context(
        postgresqlinstance.KIND,
        to_dict(req.observed.composite.resource)["spec"]["parameters"],
        name="app",
        namespace="team-a",
        required={"vault-database-admin": [admin_secret(postgres)]},
        settings=to_dict(req.input)["spec"],
        credentials=creds,
    )
    out = vaultsync.sync(ctx.xr, postgresqlinstance.KIND.compose(ctx).vault, ctx.platform, creds)
    assert out.ok
    assert out.written == []
    assert out.unchanged == [WRITTEN, f"database/config/{CONNECTION}", f"database/roles/{ROLE}"]


def _kube_sync(bao: Bao, token: str, kubeconfig: str) -> vaultsync.Outcome:
    s = PlatformSettings.model_validate({"vault": {"address": bao.address}})
    secret = {"data": {"value": b64(kubeconfig)}}
    intent = kubeconfig_intent("secret/tenants/team-a/clusters/dev", secret, "dev-kubeconfig")
    creds = {"platform": {"vault-token": token.encode()}}
    xr_id = Composite("compute.platform.example.org/v1alpha1", "KubernetesCluster", "dev", "t", "u")
    return vaultsync.sync(xr_id, [intent], s, creds)


def test_kubeconfig_versions(bao: Bao, healthy: dict[str, Any]) -> None:
    token = healthy["token"]
    kv = bao.client().secrets.kv.v2
    first = _kube_sync(bao, token, "apiVersion: v1\nkind: Config\n# one\n")
    assert first.ok
    assert first.written == ["secret/tenants/team-a/clusters/dev/kubeconfig"]
    version = kv.read_secret_metadata(
        "tenants/team-a/clusters/dev/kubeconfig", mount_point="secret"
    )["data"]
    assert version["current_version"] == 1
    same = _kube_sync(bao, token, "apiVersion: v1\nkind: Config\n# one\n")
    assert same.ok
    assert same.written == []
    changed = _kube_sync(bao, token, "apiVersion: v1\nkind: Config\n# two\n")
    assert changed.ok
    assert changed.written == ["secret/tenants/team-a/clusters/dev/kubeconfig"]
    meta = kv.read_secret_metadata("tenants/team-a/clusters/dev/kubeconfig", mount_point="secret")[
        "data"
    ]
    assert meta["current_version"] == 2
    stored = kv.read_secret_version(
        "tenants/team-a/clusters/dev/kubeconfig",
        mount_point="secret",
        raise_on_deleted_version=False,
    )
    assert stored["data"]["data"] == {"value": "apiVersion: v1\nkind: Config\n# two\n"}


def test_approle_auth(bao: Bao, postgres: Postgres, healthy: dict[str, Any]) -> None:
    admin = bao.client()
    if "approle/" not in admin.sys.list_auth_methods()["data"]:
        admin.sys.enable_auth_method("approle")
    admin.auth.approle.create_or_update_approle(
        "function-platform", token_policies=["function-platform"], token_ttl="10m"
    )
    role_id = admin.auth.approle.read_role_id("function-platform")["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id("function-platform")["data"]["secret_id"]
    creds = {
        "vault-approle-role-id": role_id.encode(),
        "vault-approle-secret-id": secret_id.encode(),
    }
    rsp = run(pg_request(bao.address, postgres, creds, auth={"method": "approle"}))
    c = condition(rsp)
    assert (c.status, c.reason) == (fnv1.STATUS_CONDITION_TRUE, "Synced"), c.message
    assert desired_bytes(rsp) == desired_bytes(healthy["rsp"])
    assert_no_secrets(rsp, secret_id)

    wrong = {"vault-approle-role-id": role_id.encode(), "vault-approle-secret-id": b"not-it-1234"}
    bad = run(pg_request(bao.address, postgres, wrong, auth={"method": "approle"}))
    assert condition(bad).reason == "AuthenticationFailed"
    assert desired_bytes(bad) == desired_bytes(healthy["rsp"])


def _claims(jwt: str) -> JSON:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


class _TokenReview(BaseHTTPRequestHandler):
    """A fake Kubernetes API answering TokenReviews (loopback only)."""

    authenticated = True
    seen: list[str] = []  # noqa: RUF012 (test fixture state)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(self.path + " " + body["spec"]["token"])
        review: JSON = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "status": {"authenticated": type(self).authenticated},
        }
        if type(self).authenticated:
            review["status"]["user"] = {
                "username": "system:serviceaccount:crossplane-system:function-platform",
                "uid": _claims(body["spec"]["token"])[
                    "kubernetes.io/serviceaccount/service-account.uid"
                ],
                "groups": ["system:serviceaccounts"],
            }
        out = json.dumps(review).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *_: Any) -> None:
        pass


def _self_signed_ca() -> str:
    """Any PEM certificate: Vault insists on one; the fake API is plain HTTP."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=fake-kubernetes",
                "-days",
                "1",
                "-keyout",
                f"{tmp}/key.pem",
                "-out",
                f"{tmp}/ca.pem",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return Path(tmp, "ca.pem").read_text()


def _service_account_jwt(uid: str) -> str:
    def part(obj: JSON) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims = {
        "iss": "kubernetes/serviceaccount",
        "sub": "system:serviceaccount:crossplane-system:function-platform",
        "kubernetes.io/serviceaccount/namespace": "crossplane-system",
        "kubernetes.io/serviceaccount/service-account.name": "function-platform",
        "kubernetes.io/serviceaccount/service-account.uid": uid,
    }
    signature = base64.urlsafe_b64encode(b"\x01" * 256).decode().rstrip("=")
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


@pytest.mark.parametrize("authenticated", [True, False], ids=["accepted", "rejected"])
def test_kubernetes_auth(
    bao: Bao, postgres: Postgres, healthy: dict[str, Any], authenticated: bool
) -> None:
    _TokenReview.authenticated = authenticated
    _TokenReview.seen = []
    api = HTTPServer(("127.0.0.1", 0), _TokenReview)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        admin = bao.client()
        if "kubernetes/" not in admin.sys.list_auth_methods()["data"]:
            admin.sys.enable_auth_method("kubernetes")
        admin.write_data(
            "auth/kubernetes/config",
            data={
                "kubernetes_host": f"http://127.0.0.1:{api.server_address[1]}",
                "kubernetes_ca_cert": _self_signed_ca(),
                "disable_local_ca_jwt": True,
            },
        )
        admin.write_data(
            "auth/kubernetes/role/crossplane",
            data={
                "bound_service_account_names": ["function-platform"],
                "bound_service_account_namespaces": ["crossplane-system"],
                "token_policies": ["function-platform"],
                "token_ttl": "10m",
            },
        )
        # A token of its own per case: a login's Vault token is reused while valid.
        jwt = _service_account_jwt(f"sa-uid-{authenticated}")
        rsp = run(
            pg_request(
                bao.address,
                postgres,
                {"vault-kubernetes-jwt": jwt.encode()},
                auth={"method": "kubernetes"},
            )
        )
    finally:
        api.shutdown()
        api.server_close()
    # The login request reached Vault, which asked the (fake) API server about our token.
    assert _TokenReview.seen == [f"/apis/authentication.k8s.io/v1/tokenreviews {jwt}"]
    c = condition(rsp)
    if authenticated:
        assert (c.status, c.reason) == (fnv1.STATUS_CONDITION_TRUE, "Synced"), c.message
    else:
        assert (c.status, c.reason) == (fnv1.STATUS_CONDITION_FALSE, "AuthenticationFailed")
        assert [w.reason for w in warnings(rsp)] == ["AuthenticationFailed"]
        assert "auth/kubernetes (role crossplane)" in c.message
    assert desired_bytes(rsp) == desired_bytes(healthy["rsp"])
    assert_no_secrets(rsp, jwt)


def _assert_fault(
    rsp: fnv1.RunFunctionResponse, reference: fnv1.RunFunctionResponse, reason: str
) -> None:
    c = condition(rsp)
    assert (c.status, c.reason) == (fnv1.STATUS_CONDITION_FALSE, reason), c.message
    assert reason in [w.reason for w in warnings(rsp)]
    assert desired_bytes(rsp) == desired_bytes(reference)
    assert rsp.meta.ttl.seconds == 30  # retried soon


def _healthy_on(server: Bao, postgres: Postgres) -> tuple[fnv1.RunFunctionRequest, Any, str]:
    enable_database(server)
    token = policy_token(server, POLICY)
    req = pg_request(server.address, postgres, {"vault-token": token.encode()})
    rsp = run(req)
    assert condition(rsp).status == fnv1.STATUS_CONDITION_TRUE, condition(rsp).message
    return req, rsp, token


def test_vault_stopped(fresh_bao: Bao, postgres: Postgres, healthy: dict[str, Any]) -> None:
    req, reference, token = _healthy_on(fresh_bao, postgres)
    fresh_bao.stop()
    rsp = run(req)
    _assert_fault(rsp, reference, "VaultUnreachable")
    assert_no_secrets(rsp, token, postgres.password)


def test_vault_sealed(fresh_bao: Bao, postgres: Postgres, healthy: dict[str, Any]) -> None:
    req, reference, token = _healthy_on(fresh_bao, postgres)
    fresh_bao.cli("operator", "seal")
    rsp = run(req)
    _assert_fault(rsp, reference, "VaultSealed")
    assert_no_secrets(rsp, token, postgres.password)
    # Unsealed, the next call syncs again.
    fresh_bao.cli("operator", "unseal", fresh_bao.unseal_key)
    assert condition(run(req)).status == fnv1.STATUS_CONDITION_TRUE


def test_token_revoked(bao: Bao, postgres: Postgres, healthy: dict[str, Any]) -> None:
    token = policy_token(bao, POLICY)
    req = pg_request(bao.address, postgres, {"vault-token": token.encode()})
    assert condition(run(req)).status == fnv1.STATUS_CONDITION_TRUE
    bao.client().auth.token.revoke(token)
    rsp = run(req)
    _assert_fault(rsp, healthy["rsp"], "AuthenticationFailed")
    assert_no_secrets(rsp, token, postgres.password)


def test_policy_denies_the_path(bao: Bao, postgres: Postgres, healthy: dict[str, Any]) -> None:
    token = policy_token(bao, DENY, name="function-platform-denied")
    rsp = run(pg_request(bao.address, postgres, {"vault-token": token.encode()}))
    _assert_fault(rsp, healthy["rsp"], "PermissionDenied")
    assert WRITTEN in condition(rsp).message
    # The engine config is allowed and was still applied; only the KV write was denied.
    assert [w.reason for w in warnings(rsp)] == ["PermissionDenied"]
    assert_no_secrets(rsp, token, postgres.password)


def test_missing_credentials(bao: Bao, postgres: Postgres, healthy: dict[str, Any]) -> None:
    rsp = run(pg_request(bao.address, postgres, {}))
    _assert_fault(rsp, healthy["rsp"], "MissingCredentials")
    assert "'vault-token'" in condition(rsp).message


def test_unreachable_address_and_hanging_vault_stay_within_budget(
    postgres: Postgres, healthy: dict[str, Any]
) -> None:
    creds = {"vault-token": healthy["token"].encode()}
    closed = run(pg_request(f"http://127.0.0.1:{closed_port()}", postgres, creds))
    _assert_fault(closed, healthy["rsp"], "VaultUnreachable")
    # A server that accepts connections and never answers: each call times out.
    with socket.socket() as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen(16)
        started = time.monotonic()
        rsp = run(
            pg_request(
                f"http://127.0.0.1:{hang.getsockname()[1]}",
                postgres,
                creds,
                requestTimeoutSeconds=1,
                budgetSeconds=2,
            )
        )
        elapsed = time.monotonic() - started
    _assert_fault(rsp, healthy["rsp"], "VaultUnreachable")
    assert elapsed < 4
    assert "did not answer in time" in condition(rsp).message


def test_hvac_client_is_not_used_by_composers() -> None:
    """Composers only declare intents: nothing under function/composers imports hvac."""

    root = Path(__file__).resolve().parents[2] / "function" / "composers"
    for path in root.glob("*.py"):
        assert "hvac" not in path.read_text(), path


def test_quoted_malicious_names_stay_names_in_postgresql(postgres: Postgres) -> None:
    """What quote_ident makes of a hostile name is one identifier to PostgreSQL too."""

    name = 'x"; CREATE TABLE pwned (v int); --'
    postgres.psql(f"CREATE ROLE {quote_ident(name)}")
    assert (
        postgres.psql(
            f"SELECT count(*) FROM pg_roles WHERE rolname = '{name.replace(chr(39), chr(39) * 2)}'"
        )
        == "1"
    )
    assert postgres.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'pwned'") == "0"
    postgres.psql(f"DROP ROLE {quote_ident(name)}")


def _entry(bao: Bao, path: str) -> JSON | None:
    try:
        meta: JSON = bao.client().secrets.kv.v2.read_secret_metadata(
            path=path, mount_point="secret"
        )
        return meta["data"]
    except Exception:  # hvac InvalidPath: not there
        return None


def test_changed_vault_path_removes_the_old_entries(
    bao: Bao, postgres: Postgres, healthy: dict[str, Any]
) -> None:
    """vaultPath changed, then removed: the old KV entry (all versions) and the engine role go."""
    composite = xr(PG, "PostgreSQLInstance", {"environment": "dev", "vaultPath": "secret/old/db"})
    composite["metadata"]["name"] = composite["metadata"]["uid"] = "mover"
    creds = {"platform": {"password-key": PASSWORD_KEY, "vault-token": healthy["token"].encode()}}
    common: dict[str, Any] = {
        "required": {"vault-database-admin": [admin_secret(postgres)]},
        "settings": settings(bao.address, postgres),
        "credentials": creds,
    }
    first = run(request(composite, **common))
    prepare_database(postgres, first)  # what provider-sql would create
    assert status(first)["vault"]["path"] == "secret/tenants/team-a/old/db"
    owner = _entry(bao, "tenants/team-a/old/db")
    assert owner is not None
    assert owner["custom_metadata"] == {
        "owner-namespace": "team-a",
        "owner-kind": "PostgreSQLInstance",
        "owner-name": "mover",
        "owner-uid": "mover",
    }
    composite["status"] = status(first)
    composite["spec"]["parameters"]["vaultPath"] = "secret/new/db"
    moved = run(request(composite, **common))
    assert condition(moved).status == fnv1.STATUS_CONDITION_TRUE, condition(moved).message
    assert _entry(bao, "tenants/team-a/old/db") is None
    assert _entry(bao, "tenants/team-a/new/db") is not None
    role = "team-a_mover-readwrite"
    assert bao.client().secrets.database.read_role(role)["data"]["db_name"] == "team-a_mover"

    composite["status"] = status(moved)
    del composite["spec"]["parameters"]["vaultPath"]
    removed = run(request(composite, **common))
    assert condition(removed).message == "nothing left in Vault"
    assert "vault" not in status(removed)
    assert _entry(bao, "tenants/team-a/new/db") is None
    assert role not in bao.client().secrets.database.list_roles()["data"]["keys"]
    assert "team-a_mover" not in bao.client().secrets.database.list_connections()["data"]["keys"]


def test_forged_status_cannot_delete_another_tenants_entry(
    bao: Bao, postgres: Postgres, healthy: dict[str, Any]
) -> None:
    """A status.vault pointing into team-b's subtree is not acted on by a team-a XR."""
    bao.client().secrets.kv.v2.create_or_update_secret(
        path="tenants/team-b/victim", secret={"k": "v"}, mount_point="secret"
    )
    composite = xr(PG, "PostgreSQLInstance", {"environment": "dev"})
    composite["status"] = {"vault": {"path": "secret/tenants/team-b/victim"}}
    creds = {"platform": {"password-key": PASSWORD_KEY, "vault-token": healthy["token"].encode()}}
    run(request(composite, settings=settings(bao.address, postgres), credentials=creds))
    assert _entry(bao, "tenants/team-b/victim") is not None


def _registered(
    bao: Bao, postgres: Postgres, token: str, folder: str, names: tuple[str, ...]
) -> list[JSON]:
    """XRs with vaultPath secret/<folder>/<name>, registered, each with the status it got."""
    creds = {"platform": {"password-key": PASSWORD_KEY, "vault-token": token.encode()}}
    out = []
    for n in names:
        composite = xr(
            PG,
            "PostgreSQLInstance",
            {"environment": "dev", "vaultPath": f"secret/{folder}/{n}"},
            name=n,
        )
        rsp = run(request(composite, settings=settings(bao.address, postgres), credentials=creds))
        composite["status"] = status(rsp)
        out.append(composite)
    return out


def test_collector_deletes_entries_whose_owner_is_gone(
    bao: Bao, postgres: Postgres, healthy: dict[str, Any]
) -> None:
    """gc.collect: entries of a deleted XR go; a live owner's, and untagged ones, stay."""
    live, _ = _registered(bao, postgres, healthy["token"], "gc", ("live", "gone"))
    bao.client().secrets.kv.v2.create_or_update_secret(
        path="tenants/team-a/gc/untagged", secret={"k": "v"}, mount_point="secret"
    )
    client = bao.client()
    client.token = healthy["token"]  # the function's own policy suffices
    deleted = gc.collect(client, PlatformSettings().vault, "secret", [live])
    # Entries of owners not listed (other tests' XRs) go as well; so does "gone".
    assert "tenants/team-a/gc/gone" in deleted
    assert not {"tenants/team-a/gc/live", "tenants/team-a/gc/untagged"} & set(deleted)
    assert _entry(bao, "tenants/team-a/gc/gone") is None
    assert _entry(bao, "tenants/team-a/gc/live") is not None
    assert _entry(bao, "tenants/team-a/gc/untagged") is not None


def _operation_request(
    address: str, pg: Postgres, token: str, required: dict[str, list[JSON]]
) -> fnv1.RunFunctionRequest:
    """What Crossplane sends an Operation step: no observed composite, the live XRs required."""
    req = fnv1.RunFunctionRequest()
    req.input.update(
        {
            "apiVersion": "fn.platform.example.org/v1beta1",
            "kind": "Input",
            "spec": settings(address, pg),
        }
    )
    req.credentials["platform"].credential_data.data["vault-token"] = token.encode()
    req.required_resources[SETTINGS_REQUIREMENT].SetInParent()  # no EnvironmentConfig
    for name, items in required.items():
        found = req.required_resources[name]
        for item in items:
            found.items.add().resource.update(item)
    return req


def test_operation_request_collects_orphans_and_refuses_without_the_xr_lists(
    bao: Bao, postgres: Postgres, healthy: dict[str, Any]
) -> None:
    """The CronOperation's call through function.runner.run: orphans go, live entries stay."""
    keep, _ = _registered(bao, postgres, healthy["token"], "op", ("keep", "orphan"))
    app = to_dict(healthy["req"].observed.composite.resource)  # alive, with engine entries
    # Without every XR list nothing is deleted: a missing list is not "no XR alive".
    partial = run(
        _operation_request(bao.address, postgres, healthy["token"], {"postgresqlinstances": [keep]})
    )
    assert [r.severity for r in partial.results] == [fnv1.SEVERITY_FATAL]
    assert "kubernetesclusters" in partial.results[0].message
    assert _entry(bao, "tenants/team-a/op/orphan") is not None

    rsp = run(
        _operation_request(
            bao.address,
            postgres,
            healthy["token"],
            {"postgresqlinstances": [keep, app], "kubernetesclusters": []},
        )
    )
    assert list(rsp.results) == []
    assert "secret/tenants/team-a/op/orphan" in to_dict(rsp.output)["deleted"]
    assert f"database/roles/{ROLE}" not in to_dict(rsp.output)["deleted"], "app is alive"
    assert _entry(bao, "tenants/team-a/op/orphan") is None
    assert _entry(bao, "tenants/team-a/op/keep") is not None
    assert healthy["token"] not in str(rsp)


def test_collector_deletes_database_roles_of_deleted_instances_only(
    bao: Bao, postgres: Postgres, healthy: dict[str, Any]
) -> None:
    """gc.collect_database: a gone XR's engine entries go; live and foreign ones stay."""
    creds = {"platform": {"password-key": PASSWORD_KEY, "vault-token": healthy["token"].encode()}}
    params = {"environment": "dev", "vaultPath": "secret/gc-db/gone"}
    prepare_database(postgres, run(request(xr(PG, "PostgreSQLInstance", params, name="gone"))))
    gone = xr(PG, "PostgreSQLInstance", params, name="gone")
    rsp = run(
        request(
            gone,
            required={"vault-database-admin": [admin_secret(postgres)]},
            settings=settings(bao.address, postgres),
            credentials=creds,
        )
    )
    assert condition(rsp).status == fnv1.STATUS_CONDITION_TRUE
    root = bao.client()
    root.secrets.database.create_role(
        name="platform_reporting-readwrite",
        db_name=CONNECTION,  # not its own name: not the function's signature
        creation_statements=["SELECT 1;"],
        mount_point="database",
    )
    client = bao.client()
    client.token = healthy["token"]  # the function's own policy suffices
    deleted = gc.collect_database(client, "database", {CONNECTION})
    assert deleted == ["database/roles/team-a_gone-readwrite", "database/config/team-a_gone"]
    roles = root.secrets.database.list_roles(mount_point="database")["data"]["keys"]
    assert "team-a_gone-readwrite" not in roles
    assert {ROLE, "platform_reporting-readwrite"} <= set(roles), "live and foreign roles stay"
    assert gc.collect_database(client, "database", {CONNECTION}) == [], "nothing left to do"
