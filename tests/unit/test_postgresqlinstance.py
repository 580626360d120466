"""PostgreSQLInstance composer: from a context built as the runner builds it, to Desired."""

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest

from function.context import Desired
from function.kinds.postgresqlinstance import KIND
from function.kinds.postgresqlinstance.connection import SECRET, PostgreSQLContext
from function.kinds.postgresqlinstance.dedicated import BARMAN_API, BARMAN_PLUGIN, CNPG_API
from function.kinds.postgresqlinstance.shared import SQL_API
from function.refusal import Refusal
from function.structs import JSON
from harness.requests import observed_secret, ready_condition
from tests.composing import context, status

EXTERNAL_NAME = "crossplane.io/external-name"


def compose(
    name: str = "app", namespace: str = "team-a", **kw: Any
) -> tuple[PostgreSQLContext, Desired]:
    """Compose an XR with environment dev and the given parameters (params=...)."""
    params: dict[str, Any] = {"environment": "dev"} | kw.pop("params", {})
    ctx = context(KIND, params, name=name, namespace=namespace, **kw)
    return ctx, KIND.compose(ctx)


def ident(d: Desired) -> str:
    """The identifier of the database and its login role on the shared server."""
    return str(d.resources["role"]["metadata"]["annotations"][EXTERNAL_NAME])


# --- shared server ----------------------------------------------------------------------------


def test_shared_composes_role_database_grant_and_secret() -> None:
    _, d = compose(params={"size": "medium"})
    got = d.resources
    assert sorted(got) == ["connection-secret", "database", "grant", "role"]
    name = ident(d)
    assert name.startswith("team_a_app_")  # '-' mapped to '_', so a hash keeps it unique
    assert {got[r]["apiVersion"] for r in ("role", "database", "grant")} == {SQL_API}
    assert [got[r]["kind"] for r in ("role", "database", "grant")] == ["Role", "Database", "Grant"]
    assert got["database"]["metadata"]["annotations"][EXTERNAL_NAME] == name
    assert got["database"]["spec"]["forProvider"] == {"owner": name, "encoding": "UTF8"}
    grant = got["grant"]["spec"]["forProvider"]
    assert (grant["role"], grant["database"], grant["privileges"]) == (name, name, ["ALL"])
    assert grant["revokePublicOnDb"] is True
    role = got["role"]["spec"]["forProvider"]
    assert role["privileges"] == {"login": True, "inherit": True}
    assert role["connectionLimit"] == 50
    assert role["passwordSecretRef"] == {"name": "app-postgresql", "key": "password"}
    secret = got[SECRET]
    assert secret["metadata"] == {"name": "app-postgresql", "namespace": "team-a"}
    assert secret["type"] == "kubernetes.io/basic-auth"
    data = secret["stringData"]
    assert sorted(data) == ["database", "host", "password", "port", "uri", "username"]
    assert (data["database"], data["username"]) == (name, name)
    assert (data["host"], data["port"]) == ("postgresql.platform-data.svc.cluster.local", "5432")
    assert data["uri"].startswith(f"postgresql://{name}:")
    assert data["uri"].endswith(
        f"@postgresql.platform-data.svc.cluster.local:5432/{name}?sslmode=require"
    )
    for r in ("role", "database", "grant"):
        assert got[r]["spec"]["providerConfigRef"] == {
            "kind": "ClusterProviderConfig",
            "name": "shared-postgresql",
        }


@pytest.mark.parametrize(
    ("size", "limit"),
    [
        pytest.param("small", 20, id="small: the default, 20 connections"),
        pytest.param("medium", 50, id="medium: 50 connections"),
        pytest.param("large", 100, id="large: 100 connections"),
    ],
)
def test_shared_connection_limit_follows_size(size: str, limit: int) -> None:
    _, d = compose(params={"size": size})
    assert d.resources["role"]["spec"]["forProvider"]["connectionLimit"] == limit


def test_shared_server_comes_from_the_postgresql_shared_input_section() -> None:
    settings = {
        "postgresqlInstance": {
            "shared": {
                "host": "db.internal",
                "port": 6432,
                "sslMode": "verify-full",
                "providerConfigRef": {"kind": "ProviderConfig", "name": "pg"},
                "connectionLimits": {"small": 7, "medium": 8, "large": 9},
            }
        }
    }
    _, d = compose(settings=settings)
    data = d.resources[SECRET]["stringData"]
    assert (data["host"], data["port"]) == ("db.internal", "6432")
    assert data["uri"].endswith(f"@db.internal:6432/{ident(d)}?sslmode=verify-full")
    assert d.resources["role"]["spec"]["forProvider"]["connectionLimit"] == 7
    for r in ("role", "database", "grant"):
        assert d.resources[r]["spec"]["providerConfigRef"] == {
            "kind": "ProviderConfig",
            "name": "pg",
        }


def test_two_instances_of_one_environment_do_not_collide() -> None:
    composed = [
        compose("orders", "dev")[1],
        compose("billing", "dev")[1],
        compose("orders", "staging")[1],
    ]
    names = {d.resources["database"]["metadata"]["annotations"][EXTERNAL_NAME] for d in composed}
    assert len(names) == 3
    passwords = {d.resources[SECRET]["stringData"]["password"] for d in composed}
    assert len(passwords) == 3


# --- dedicated server -------------------------------------------------------------------------


# The platform's backup wiring; the default input has none (test_data_safety.py covers the FATAL).
BACKUP = {
    "destinationPath": "s3://platform-backups/postgresql",
    "credentials": {"clusterSecretStore": "platform-backups", "remoteKey": "postgresql-backup"},
}
WITH_BACKUP = {"postgresqlInstance": {"dedicated": {"backup": BACKUP}}}


@dataclass(frozen=True)
class DedicatedCase:
    reason: str
    backup: bool
    environment: str
    resources: set[str]
    instances: int


DEDICATED_CASES = {
    "BackupsOn": DedicatedCase(
        reason="With backups on the cluster archives WAL to an object store and has a schedule.",
        backup=True,
        environment="production",
        resources={
            "backup-credentials",
            "backup-store",
            "cluster",
            "connection-secret",
            "scheduled-backup",
        },
        instances=3,
    ),
    "BackupsOff": DedicatedCase(
        reason="With backups off there is only the cluster and its Secret.",
        backup=False,
        environment="dev",
        resources={"cluster", "connection-secret"},
        instances=1,
    ),
}


@pytest.mark.parametrize("case", DEDICATED_CASES.values(), ids=DEDICATED_CASES.keys())
def test_dedicated(case: DedicatedCase) -> None:
    _, d = compose(
        params={
            "environment": case.environment,
            "deployment": "dedicated",
            "enableBackup": case.backup,
            "storageGB": 50,
            "version": 17,
            "size": "large",
        },
        settings=WITH_BACKUP,
    )
    got = d.resources
    assert set(got) == case.resources, case.reason
    cluster = got["cluster"]
    assert (cluster["apiVersion"], cluster["kind"]) == (CNPG_API, "Cluster")
    assert cluster["metadata"]["name"] == "app-pg"
    spec = cluster["spec"]
    assert spec["instances"] == case.instances, case.reason
    assert spec["imageName"] == "ghcr.io/cloudnative-pg/postgresql:17.6-minimal-trixie"
    assert spec["storage"] == {"size": "50Gi"}
    # Guaranteed QoS (CloudNativePG resource_management.md): limits are the requests.
    assert spec["resources"]["limits"] == {"cpu": "2", "memory": "8Gi"}
    assert spec["bootstrap"]["initdb"] == {
        "database": "app",
        "owner": "app",
        "secret": {"name": "app-postgresql"},
    }
    assert "enableSuperuserAccess" not in spec  # only with a vaultPath (test_vault_intents.py)
    assert ("plugins" in spec) is case.backup, case.reason
    if case.backup:
        store = got["backup-store"]
        assert (store["apiVersion"], store["kind"]) == (BARMAN_API, "ObjectStore")
        assert spec["plugins"] == [
            {
                "name": BARMAN_PLUGIN,
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": store["metadata"]["name"]},
            }
        ]
        path = store["spec"]["configuration"]["destinationPath"]
        assert path.endswith("/team-a/app-uid-team-a-app")  # its own archive: name and uid
        schedule = got["scheduled-backup"]
        assert (schedule["apiVersion"], schedule["kind"]) == (CNPG_API, "ScheduledBackup")
        assert schedule["spec"]["cluster"] == {"name": "app-pg"}
        assert schedule["spec"]["pluginConfiguration"] == {"name": BARMAN_PLUGIN}
    data = got[SECRET]["stringData"]
    assert data["host"] == "app-pg-rw.team-a.svc"
    assert (data["port"], data["database"], data["username"]) == ("5432", "app", "app")
    assert data["uri"].endswith("@app-pg-rw.team-a.svc:5432/app?sslmode=require")


def test_dedicated_servers_come_from_the_postgresql_dedicated_input_section() -> None:
    settings = {
        "postgresqlInstance": {
            "dedicated": {
                "storageClass": "fast",
                "instances": {"dev": 2},
                "images": {"16": "registry.example/pg:16.10"},
                "backup": {
                    "schedule": "0 30 1 * * *",
                    "destinationPath": "s3://elsewhere/pg",
                    "endpointURL": "https://s3.example",
                    "credentials": BACKUP["credentials"],
                    "retentionPolicy": "7d",
                },
            }
        }
    }
    _, d = compose(params={"deployment": "dedicated", "enableBackup": True}, settings=settings)
    spec = d.resources["cluster"]["spec"]
    assert spec["storage"] == {"size": "20Gi", "storageClass": "fast"}
    assert spec["instances"] == 2
    assert spec["imageName"] == "registry.example/pg:16.10"
    store = d.resources["backup-store"]["spec"]
    assert store["retentionPolicy"] == "7d"
    assert (
        store["configuration"]["destinationPath"] == "s3://elsewhere/pg/team-a/app-uid-team-a-app"
    )
    assert store["configuration"]["endpointURL"] == "https://s3.example"
    credentials = d.resources["backup-credentials"]["spec"]["target"]["name"]
    assert store["configuration"]["s3Credentials"] == {
        "accessKeyId": {"name": credentials, "key": "ACCESS_KEY_ID"},
        "secretAccessKey": {"name": credentials, "key": "ACCESS_SECRET_KEY"},
    }, "the ObjectStore reads the Secret the ExternalSecret writes"
    assert d.resources["scheduled-backup"]["spec"]["schedule"] == "0 30 1 * * *"


def test_dedicated_backup_defaults_leave_endpoint_and_storage_class_unset() -> None:
    _, d = compose(params={"deployment": "dedicated", "enableBackup": True}, settings=WITH_BACKUP)
    configuration = d.resources["backup-store"]["spec"]["configuration"]
    assert "inheritFromIAMRole" not in configuration["s3Credentials"]
    assert "endpointURL" not in configuration
    assert "storageClass" not in d.resources["cluster"]["spec"]["storage"]


# --- the generated password -------------------------------------------------------------------


def test_password_is_kept_once_the_secret_exists() -> None:
    _, first = compose()
    kept = observed_secret(first.resources[SECRET]) | {
        "data": {"password": base64.b64encode(b"old-password").decode()}
    }
    _, again = compose(observed={SECRET: kept})
    data = again.resources[SECRET]["stringData"]
    assert data["password"] == "old-password"
    assert ":old-password@" in data["uri"]


def test_password_is_reproducible_and_keyed() -> None:
    def password(**kw: Any) -> str:
        return str(compose(**kw)[1].resources[SECRET]["stringData"]["password"])

    a, b = password(), password()
    c = password(credentials={"platform": {"password-key": b"another"}})
    assert a == b != c
    assert len(a) >= 40


def test_missing_password_key_is_a_compose_error_naming_the_credentials() -> None:
    # The runner turns it into one FATAL result (tests/unit/test_runner.py).
    with pytest.raises(Refusal, match="credentials 'platform' have no key 'password-key'"):
        compose(credentials={})


# --- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusCase:
    reason: str
    params: JSON
    observed: dict[str, JSON] = field(default_factory=dict)
    endpoint: str | None = None


def _observed_ready(kind: str, api: str, condition: JSON) -> JSON:
    return {"apiVersion": api, "kind": kind, "status": condition}


STATUS_CASES = {
    "SharedNothingObserved": StatusCase(
        reason="Until the database is observed there is no endpoint.",
        params={},
    ),
    "SharedDatabaseNotReady": StatusCase(
        reason="A database that is not Ready yet gives no endpoint.",
        params={},
        observed={"database": _observed_ready("Database", SQL_API, ready_condition("False"))},
    ),
    "SharedDatabaseReady": StatusCase(
        reason="Once the database is Ready the endpoint is the shared server's host and port.",
        params={},
        observed={"database": _observed_ready("Database", SQL_API, ready_condition())},
        endpoint="postgresql.platform-data.svc.cluster.local:5432",
    ),
    "SharedOnlyOthersReady": StatusCase(
        reason="Role and grant being Ready do not make an endpoint: the database serves.",
        params={},
        observed={
            "role": _observed_ready("Role", SQL_API, ready_condition()),
            "grant": _observed_ready("Grant", SQL_API, ready_condition()),
        },
    ),
    "DedicatedClusterReady": StatusCase(
        reason="Once a dedicated cluster is Ready the endpoint is its read-write Service.",
        params={"deployment": "dedicated", "enableBackup": False},
        observed={"cluster": _observed_ready("Cluster", CNPG_API, ready_condition())},
        endpoint="app-pg-rw.team-a.svc:5432",
    ),
}


@pytest.mark.parametrize("case", STATUS_CASES.values(), ids=STATUS_CASES.keys())
def test_status(case: StatusCase) -> None:
    _, d = compose(params=case.params, observed=case.observed)
    data = d.resources[SECRET]["stringData"]
    want: JSON = {
        "connectionSecret": "app-postgresql",
        "database": data["database"],
        "username": data["username"],
    }
    if case.endpoint is not None:
        want["endpoint"] = case.endpoint
    assert status(d) == want, case.reason


def test_status_names_the_shared_database_and_role() -> None:
    _, d = compose()
    got = status(d)
    assert got["database"] == got["username"] == ident(d)
    assert "phase" not in got  # the runner's
    assert not d.warnings
    assert not d.conditions
