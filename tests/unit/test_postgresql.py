"""PostgreSQLInstance composition through the real request path."""

from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.runner import run
from tests.builders import desired, observed_secret, ready_condition, request, status, xr

API = "database.platform.example.org/v1alpha1"


def pg(name: str = "app", namespace: str = "team-a", **params: Any) -> dict[str, Any]:
    return xr(API, "PostgreSQLInstance", {"environment": "dev"} | params, name, namespace)


def test_shared_composes_role_database_grant_and_secret() -> None:
    got = desired(run(request(pg(size="medium"))))
    assert sorted(got) == ["connection-secret", "database", "grant", "role"]
    ident = got["role"]["metadata"]["annotations"]["crossplane.io/external-name"]
    assert ident.startswith("team_a_app_")  # '-' mapped to '_', so a hash keeps it unique
    assert got["database"]["metadata"]["annotations"]["crossplane.io/external-name"] == ident
    assert got["database"]["spec"]["forProvider"]["owner"] == ident
    grant = got["grant"]["spec"]["forProvider"]
    assert (grant["role"], grant["database"], grant["privileges"]) == (ident, ident, ["ALL"])
    role = got["role"]["spec"]["forProvider"]
    assert role["connectionLimit"] == 50
    assert role["passwordSecretRef"] == {"name": "app-postgresql", "key": "password"}
    secret = got["connection-secret"]
    assert secret["metadata"] == {"name": "app-postgresql", "namespace": "team-a"}
    assert secret["stringData"]["uri"].startswith(f"postgresql://{ident}:")
    assert got["role"]["spec"]["providerConfigRef"] == {
        "kind": "ClusterProviderConfig",
        "name": "shared-postgresql",
    }


def test_two_instances_of_one_environment_do_not_collide() -> None:
    a = desired(run(request(pg("orders", "dev"))))
    b = desired(run(request(pg("billing", "dev"))))
    c = desired(run(request(pg("orders", "staging"))))
    names = {
        d["database"]["metadata"]["annotations"]["crossplane.io/external-name"] for d in (a, b, c)
    }
    assert len(names) == 3
    passwords = {d["connection-secret"]["stringData"]["password"] for d in (a, b, c)}
    assert len(passwords) == 3


DEDICATED_CASES = [
    (
        "backups on: object store, WAL archiving and a schedule",
        True,
        "production",
        {"backup-store", "cluster", "connection-secret", "scheduled-backup"},
        3,
    ),
    (
        "backups off: only the cluster and its Secret",
        False,
        "dev",
        {"cluster", "connection-secret"},
        1,
    ),
]


@pytest.mark.parametrize(
    ("backup", "env", "names", "instances"),
    [c[1:] for c in DEDICATED_CASES],
    ids=[c[0] for c in DEDICATED_CASES],
)
def test_dedicated(backup: bool, env: str, names: set[str], instances: int) -> None:
    got = desired(
        run(
            request(
                pg(
                    environment=env,
                    deployment="dedicated",
                    enableBackup=backup,
                    storageGB=50,
                    version=17,
                    size="large",
                )
            )
        )
    )
    assert set(got) == names
    spec = got["cluster"]["spec"]
    assert got["cluster"]["metadata"]["name"] == "app-pg"
    assert spec["instances"] == instances
    assert spec["imageName"].endswith(":17-minimal-trixie")
    assert spec["storage"] == {"size": "50Gi"}
    assert spec["resources"]["limits"] == {"memory": "8Gi"}
    assert spec["bootstrap"]["initdb"]["secret"] == {"name": "app-postgresql"}
    assert ("plugins" in spec) is backup
    if backup:
        store = got["backup-store"]
        assert spec["plugins"][0]["parameters"]["barmanObjectName"] == store["metadata"]["name"]
        path = store["spec"]["configuration"]["destinationPath"]
        assert path.endswith("/team-a/app")
        assert got["scheduled-backup"]["spec"]["cluster"] == {"name": "app-pg"}
    assert got["connection-secret"]["stringData"]["host"] == "app-pg-rw.team-a.svc"


def test_password_is_kept_once_the_secret_exists() -> None:
    first = desired(run(request(pg())))["connection-secret"]
    kept = observed_secret(first) | {"data": {"password": "b2xkLXBhc3N3b3Jk"}}  # old-password
    again = desired(run(request(pg(), observed={"connection-secret": kept})))
    assert again["connection-secret"]["stringData"]["password"] == "old-password"
    assert ":old-password@" in again["connection-secret"]["stringData"]["uri"]


def test_password_is_reproducible_and_keyed() -> None:
    a = desired(run(request(pg())))["connection-secret"]["stringData"]["password"]
    b = desired(run(request(pg())))["connection-secret"]["stringData"]["password"]
    other_key = request(pg(), credentials={"platform": {"password-key": b"another"}})
    c = desired(run(other_key))["connection-secret"]["stringData"]["password"]
    assert a == b != c
    assert len(a) >= 40


def test_missing_password_key_is_fatal_and_names_the_credentials() -> None:
    rsp = run(request(pg(), credentials={}))
    assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL]
    assert "credentials 'platform' have no key 'password-key'" in rsp.results[0].message
    assert not rsp.desired.resources


def test_status_and_readiness_follow_observed_state() -> None:
    first = desired(run(request(pg())))
    provisioning = run(request(pg()))
    assert status(provisioning) == {
        "phase": "Provisioning",
        "connectionSecret": "app-postgresql",
        "database": first["role"]["metadata"]["annotations"]["crossplane.io/external-name"],
        "username": first["role"]["metadata"]["annotations"]["crossplane.io/external-name"],
    }
    assert provisioning.meta.ttl.seconds == 30
    observed = {name: obj | {"status": ready_condition()} for name, obj in first.items()}
    observed["connection-secret"] = observed_secret(first["connection-secret"])
    ready = run(request(pg(), observed=observed))
    assert status(ready)["phase"] == "Ready"
    assert status(ready)["endpoint"] == "postgresql.platform-data.svc.cluster.local:5432"
    assert all(r.ready == fnv1.READY_TRUE for r in ready.desired.resources.values())
    assert ready.meta.ttl.seconds == 600
    observed["grant"] = first["grant"] | {"status": ready_condition("False", synced="False")}
    degraded = run(request(pg(), observed=observed))
    assert status(degraded)["phase"] == "Degraded"
    assert degraded.desired.resources["grant"].ready == fnv1.READY_FALSE
