"""RedisInstance composition through the real request path."""

import base64
from typing import Any

import pytest

from function.runner import run
from tests.builders import desired, ready_condition, request, status, xr

API = "cache.platform.example.org/v1alpha1"


def redis(**params: Any) -> dict[str, Any]:
    return xr(API, "RedisInstance", {"environment": "dev"} | params, "cache", "shop")


def values(params: dict[str, Any]) -> dict[str, Any]:
    got = desired(run(request(redis(**params))))
    return dict(got["release"]["spec"]["forProvider"]["values"])


TOPOLOGY = [
    ("one server with a volume", {}, {"dataStorage": {"enabled": True, "requestedSize": "8Gi"}}),
    ("one server without a volume", {"persistence": False}, {}),
    (
        "three servers: a primary and two replicas with volumes",
        {"replicas": 3, "memoryGB": 2, "persistenceSizeGB": 10},
        {
            "replica": {
                "enabled": True,
                "replicas": 2,
                "replicationUser": "default",
                "persistence": {"size": "10Gi"},
            }
        },
    ),
]


@pytest.mark.parametrize(
    ("params", "want"), [c[1:] for c in TOPOLOGY], ids=[c[0] for c in TOPOLOGY]
)
def test_topology(params: dict[str, Any], want: dict[str, Any]) -> None:
    got = values(params)
    topology = {k: got[k] for k in ("dataStorage", "replica") if k in got}
    assert topology == want


def test_auth_always_on_from_the_connection_secret() -> None:
    got = desired(run(request(redis())))
    auth = got["release"]["spec"]["forProvider"]["values"]["auth"]
    assert auth == {
        "enabled": True,
        "usersExistingSecret": "cache-redis",
        "aclUsers": {"default": {"permissions": "~* &* +@all", "passwordKey": "password"}},
    }
    secret = got["connection-secret"]["stringData"]
    assert secret["host"] == "cache-redis.shop.svc"
    assert secret["uri"] == f"redis://:{secret['password']}@cache-redis.shop.svc:6379/0"


def test_memory_becomes_limits_and_maxmemory() -> None:
    got = values({"memoryGB": 4, "persistenceSizeGB": 8})
    assert got["resources"] == {"requests": {"memory": "4Gi"}, "limits": {"memory": "4Gi"}}
    assert "maxmemory 3276mb" in got["valkeyConfig"]


def test_user_password_secret_is_required_and_deferred_until_present() -> None:
    params = {"passwordSecretRef": {"name": "mine", "key": "pw"}}
    waiting = run(request(redis(**params)))
    assert "connection-secret" not in waiting.desired.resources
    assert "release" in waiting.desired.resources
    assert [r.message for r in waiting.results] == [
        "waiting for Secret 'mine' (spec.parameters.passwordSecretRef) before writing the "
        "connection Secret"
    ]
    sel = waiting.requirements.resources["user-password-secret"]
    assert (sel.kind, sel.match_name, sel.namespace) == ("Secret", "mine", "shop")
    user_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "mine"},
        "data": {"pw": base64.b64encode(b"s3cret").decode()},
    }
    found = run(request(redis(**params), required={"user-password-secret": [user_secret]}))
    assert desired(found)["connection-secret"]["stringData"]["password"] == "s3cret"
    assert not found.results


def test_endpoint_only_once_deployed() -> None:
    first = desired(run(request(redis())))
    assert "endpoint" not in status(run(request(redis())))
    release = first["release"] | {
        "status": ready_condition() | {"atProvider": {"state": "deployed"}}
    }
    got = status(run(request(redis(), observed={"release": release})))
    assert got["endpoint"] == "cache-redis.shop.svc:6379"
