"""RedisInstance composer: from a context built as the runner builds it, to Desired."""

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest

from function.blocks.helm import HELM_API
from function.context import Desired, Selector, WarningResult
from function.kinds.redisinstance import KIND
from function.kinds.redisinstance.compose import (
    ACL_ALL,
    PORT,
    RELEASE,
    SECRET,
    USER_PASSWORD,
    RedisContext,
)
from function.refusal import Refusal
from function.structs import JSON
from tests.composing import context, status


def compose(**kw: Any) -> tuple[RedisContext, Desired]:
    """Compose RedisInstance shop/cache with environment dev and the given parameters."""
    params: dict[str, Any] = {"environment": "dev"} | kw.pop("params", {})
    ctx = context(KIND, params, name="cache", namespace="shop", **kw)
    return ctx, KIND.compose(ctx)


def values(params: JSON, settings: JSON | None = None) -> JSON:
    """The chart values of the composed release."""
    _, d = compose(params=params, settings=settings)
    return dict(d.resources[RELEASE]["spec"]["forProvider"]["values"])


def secret(name: str, data: dict[str, str]) -> JSON:
    """A Secret as the API server returns it (base64 data)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "shop"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


# --- the release ------------------------------------------------------------------------------


def test_release_installs_the_pinned_chart_into_the_xr_namespace() -> None:
    _, d = compose()
    assert sorted(d.resources) == [SECRET, RELEASE]
    release = d.resources[RELEASE]
    assert (release["apiVersion"], release["kind"]) == (HELM_API, "Release")
    assert release["metadata"]["annotations"] == {"crossplane.io/external-name": "cache-redis"}
    spec = release["spec"]
    assert spec["forProvider"]["chart"] == {
        "repository": "https://valkey.io/valkey-helm/",
        "name": "valkey",
        "version": "0.11.0",
    }
    assert spec["forProvider"]["namespace"] == "shop"
    assert spec["forProvider"]["values"]["fullnameOverride"] == "cache-redis"
    assert spec["providerConfigRef"] == {"kind": "ClusterProviderConfig", "name": "default"}


def test_chart_and_provider_config_come_from_the_redis_input_section() -> None:
    settings = {
        "redisInstance": {
            "chart": {
                "repository": "oci://mirror.example/charts",
                "name": "valkey",
                "version": "1",
            },
            "providerConfigRef": {"kind": "ProviderConfig", "name": "helm"},
        }
    }
    _, d = compose(settings=settings)
    spec = d.resources[RELEASE]["spec"]
    assert spec["forProvider"]["chart"]["repository"] == "oci://mirror.example/charts"
    assert spec["forProvider"]["chart"]["version"] == "1"
    assert spec["providerConfigRef"] == {"kind": "ProviderConfig", "name": "helm"}


@dataclass(frozen=True)
class TopologyCase:
    reason: str
    params: JSON
    want: JSON
    settings: JSON | None = None


TOPOLOGY_CASES = {
    "OneServerWithVolume": TopologyCase(
        reason="One server keeps its data on a volume, replaced by Recreate (ReadWriteOnce).",
        params={},
        want={
            "dataStorage": {"enabled": True, "requestedSize": "8Gi"},
            "deploymentStrategy": "Recreate",
        },
    ),
    "OneServerWithoutVolume": TopologyCase(
        reason="One server without persistence has neither a volume nor replicas.",
        params={"persistence": False},
        want={},
    ),
    "ThreeServers": TopologyCase(
        reason="Three servers are a primary and two replicas, each with a volume.",
        params={"replicas": 3, "memoryGB": 2, "persistenceSizeGB": 10},
        want={
            "replica": {
                "enabled": True,
                "replicas": 2,
                "replicationUser": "default",
                "persistence": {"size": "10Gi"},
            }
        },
    ),
    "OneServerStorageClass": TopologyCase(
        reason="The input's storage class is the data volume's className.",
        params={},
        settings={"redisInstance": {"storageClass": "fast"}},
        want={
            "dataStorage": {"enabled": True, "requestedSize": "8Gi", "className": "fast"},
            "deploymentStrategy": "Recreate",
        },
    ),
    "ReplicasStorageClass": TopologyCase(
        reason="The input's storage class is the replicas' persistence storageClass.",
        params={"replicas": 2},
        settings={"redisInstance": {"storageClass": "fast"}},
        want={
            "replica": {
                "enabled": True,
                "replicas": 1,
                "replicationUser": "default",
                "persistence": {"size": "8Gi", "storageClass": "fast"},
            }
        },
    ),
}


@pytest.mark.parametrize("case", TOPOLOGY_CASES.values(), ids=TOPOLOGY_CASES.keys())
def test_topology(case: TopologyCase) -> None:
    got = values(case.params, case.settings)
    topology = {k: got[k] for k in ("dataStorage", "replica", "deploymentStrategy") if k in got}
    assert topology == case.want, case.reason


@pytest.mark.parametrize(
    ("memory_gb", "maxmemory"),
    [
        pytest.param(4, "maxmemory 3276mb", id="4 GiB: four fifths for the dataset"),
        pytest.param(1, "maxmemory 819mb", id="1 GiB, the default: rounded down"),
    ],
)
def test_memory_becomes_limits_and_maxmemory(memory_gb: int, maxmemory: str) -> None:
    got = values({"memoryGB": memory_gb, "persistenceSizeGB": 8})
    memory = f"{memory_gb}Gi"
    assert got["resources"] == {"requests": {"memory": memory}, "limits": {"memory": memory}}
    assert got["valkeyConfig"] == f"{maxmemory}\nmaxmemory-policy noeviction\n"


# --- auth and the connection Secret -----------------------------------------------------------


def test_auth_always_on_from_the_connection_secret() -> None:
    _, d = compose()
    auth = d.resources[RELEASE]["spec"]["forProvider"]["values"]["auth"]
    assert auth == {
        "enabled": True,
        "usersExistingSecret": "cache-redis",
        "aclUsers": {"default": {"permissions": "~* &* +@all", "passwordKey": "password"}},
    }
    connection = d.resources[SECRET]
    assert connection["metadata"] == {"name": "cache-redis", "namespace": "shop"}
    assert connection["type"] == "Opaque"
    data = connection["stringData"]
    assert sorted(data) == ["host", "password", "port", "uri"]
    assert data["host"] == "cache-redis.shop.svc"
    assert data["port"] == str(PORT) == "6379"
    assert data["uri"] == f"redis://:{data['password']}@cache-redis.shop.svc:6379/0"
    assert len(data["password"]) >= 40
    assert not d.warnings


def test_generated_password_is_kept_once_the_secret_exists() -> None:
    _, d = compose(observed={SECRET: secret("cache-redis", {"password": "old-password"})})
    data = d.resources[SECRET]["stringData"]
    assert data["password"] == "old-password"
    assert data["uri"] == "redis://:old-password@cache-redis.shop.svc:6379/0"


def test_generated_password_is_reproducible_and_keyed() -> None:
    def password(**kw: Any) -> str:
        return str(compose(**kw)[1].resources[SECRET]["stringData"]["password"])

    assert password() == password() != password(credentials={"platform": {"password-key": b"k"}})


def test_missing_password_key_is_a_compose_error_naming_the_credentials() -> None:
    with pytest.raises(Refusal, match="credentials 'platform' have no key 'password-key'"):
        compose(credentials={})


@dataclass(frozen=True)
class UserPasswordCase:
    reason: str
    required: dict[str, list[JSON]] = field(default_factory=dict)
    observed: dict[str, JSON] = field(default_factory=dict)
    password: str | None = None
    warnings: list[WarningResult] = field(default_factory=list)


WAITING = WarningResult(
    "waiting for Secret 'mine' (spec.parameters.passwordSecretRef) before writing the "
    "connection Secret"
)

USER_PASSWORD_CASES = {
    "NotFetchedYet": UserPasswordCase(
        reason="Until the user's Secret is fetched the connection Secret waits, with a warning.",
        warnings=[WAITING],
    ),
    "FetchedWithoutTheKey": UserPasswordCase(
        reason="A user's Secret without the named key is waited for like a missing one.",
        required={USER_PASSWORD: [secret("mine", {"other": "x"})]},
        warnings=[WAITING],
    ),
    "Fetched": UserPasswordCase(
        reason="The connection Secret carries the password from the user's Secret.",
        required={USER_PASSWORD: [secret("mine", {"pw": "s3cret"})]},
        password="s3cret",
    ),
    "NotFetchedButComposedBefore": UserPasswordCase(
        reason="While the user's Secret is not fetched, an existing connection Secret is kept.",
        observed={SECRET: secret("cache-redis", {"password": "earlier"})},
        password="earlier",
    ),
}


@pytest.mark.parametrize("case", USER_PASSWORD_CASES.values(), ids=USER_PASSWORD_CASES.keys())
def test_user_password_secret_is_required_and_deferred_until_present(
    case: UserPasswordCase,
) -> None:
    _, d = compose(
        params={"passwordSecretRef": {"name": "mine", "key": "pw"}},
        required=case.required,
        observed=case.observed,
    )
    assert d.requirements == {USER_PASSWORD: Selector("v1", "Secret", "mine", "shop")}
    assert RELEASE in d.resources, case.reason
    auth = d.resources[RELEASE]["spec"]["forProvider"]["values"]["auth"]
    assert auth["usersExistingSecret"] == "mine"
    assert auth["aclUsers"] == {"default": {"permissions": ACL_ALL, "passwordKey": "pw"}}
    assert d.warnings == case.warnings, case.reason
    if case.password is None:
        assert SECRET not in d.resources, case.reason
        assert "connectionSecret" not in status(d)
    else:
        data = d.resources[SECRET]["stringData"]
        assert data["password"] == case.password, case.reason
        assert data["uri"] == f"redis://:{case.password}@cache-redis.shop.svc:6379/0"
        assert status(d)["connectionSecret"] == "cache-redis"


def test_generated_password_requires_nothing() -> None:
    _, d = compose()
    assert d.requirements == {}


# --- status -----------------------------------------------------------------------------------


def _release(state: str | None, ready: str = "True") -> JSON:
    observed: JSON = {
        "apiVersion": HELM_API,
        "kind": "Release",
        "status": {
            "conditions": [
                {"type": "Ready", "status": ready, "reason": "Available"},
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
            ]
        },
    }
    if state is not None:
        observed["status"]["atProvider"] = {"state": state}
    return observed


ENDPOINT_CASES = [
    pytest.param({}, None, id="release not observed yet: no endpoint"),
    pytest.param({RELEASE: _release(None)}, None, id="release Ready but no state: no endpoint"),
    pytest.param(
        {RELEASE: _release("pending-install")}, None, id="release not deployed yet: no endpoint"
    ),
    pytest.param(
        {RELEASE: _release("deployed")},
        "cache-redis.shop.svc:6379",
        id="release deployed: the endpoint is the primary's Service",
    ),
]


@pytest.mark.parametrize(("observed", "endpoint"), ENDPOINT_CASES)
def test_endpoint_only_once_deployed(observed: dict[str, JSON], endpoint: str | None) -> None:
    _, d = compose(observed=observed)
    want: JSON = {"connectionSecret": "cache-redis"}
    if endpoint is not None:
        want["endpoint"] = endpoint
    assert status(d) == want
