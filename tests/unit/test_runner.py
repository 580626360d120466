"""The request path: dispatch, FATAL results, determinism, pass-through."""

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.kinds.postgresql import compose as postgresql_compose
from function.runner import run
from function.structs import to_struct
from harness.requests import request, xr

PG = "database.platform.example.org/v1alpha1"


def test_invalid_xr_gives_one_fatal_result_and_no_change() -> None:
    req = request(xr(PG, "PostgreSQLInstance", {"environment": "prod", "storageGB": 0}))
    # A resource an earlier pipeline step (or an earlier version) put in desired stays.
    req.desired.resources["kept"].resource.CopyFrom(to_struct({"kind": "ConfigMap"}))
    rsp = run(req)
    assert len(rsp.results) == 1
    result = rsp.results[0]
    assert result.severity == fnv1.SEVERITY_FATAL
    assert result.reason == "InvalidParameters"
    assert result.message == (
        "invalid PostgreSQLInstance team-a/app: spec.parameters.environment: must be one of "
        "'dev', 'staging', 'uat', 'preprod', 'production' or 'sandbox' (got \"prod\"); "
        "spec.parameters.storageGB: must be >= 1 (got 0)"
    )
    assert list(rsp.desired.resources) == ["kept"]
    assert "Traceback" not in result.message


def test_unknown_kind_is_fatal() -> None:
    rsp = run(request(xr("example.org/v1", "Widget", {})))
    assert rsp.results[0].severity == fnv1.SEVERITY_FATAL
    assert "does not compose Widget" in rsp.results[0].message


def test_invalid_input_names_the_setting() -> None:
    rsp = run(
        request(
            xr(PG, "PostgreSQLInstance", {"environment": "dev"}),
            settings={"ttl": {"readySeconds": 1}, "redis": {"chart": {"name": 1}}},
        )
    )
    assert rsp.results[0].reason == "InvalidInput"
    msg = rsp.results[0].message
    assert "input.spec.ttl.readySeconds: must be >= 30 (got 1)" in msg
    assert "input.spec.redis.chart.name: must be a string (got 1)" in msg


def test_settings_are_applied() -> None:
    settings = {"postgresql": {"shared": {"host": "db.internal", "port": 6432}}}
    rsp = run(request(xr(PG, "PostgreSQLInstance", {"environment": "dev"}), settings=settings))
    data = rsp.desired.resources["connection-secret"].resource["stringData"]
    assert (data["host"], data["port"]) == ("db.internal", "6432")


def test_same_request_gives_byte_identical_response() -> None:
    for kind, api in (
        ("PostgreSQLInstance", PG),
        ("RedisInstance", "cache.platform.example.org/v1alpha1"),
    ):
        req = request(
            xr(
                api,
                kind,
                {"environment": "production", "deployment": "dedicated"}
                if kind == "PostgreSQLInstance"
                else {"environment": "dev", "replicas": 3},
            )
        )
        a = run(req).SerializeToString(deterministic=True)
        b = run(req).SerializeToString(deterministic=True)
        assert a == b


def test_a_composer_bug_is_reported_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_: object) -> None:
        raise KeyError("secret-value-must-not-leak")

    monkeypatch.setattr(postgresql_compose, "compose_shared", boom)
    rsp = run(request(xr(PG, "PostgreSQLInstance", {"environment": "dev"})))
    assert rsp.results[0].reason == "InternalError"
    assert "secret-value-must-not-leak" not in rsp.results[0].message
