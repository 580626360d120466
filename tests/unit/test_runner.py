"""The request path: dispatch, FATAL results, phase and TTL, the Vault step's outcome."""

import socket

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import struct_pb2

from function.input import SETTINGS_REQUIREMENT
from function.kinds.postgresqlinstance import compose as postgresql_compose
from function.runner import run
from function.structs import JSON, to_struct
from harness.cases import Case, find_cases
from harness.requests import (
    answered_case_request,
    desired,
    observed_secret,
    ready_condition,
    request,
    status,
    xr,
)

PG = "database.platform.example.org/v1alpha1"
REDIS = "cache.platform.example.org/v1alpha1"
DEDICATED_DEV = {"environment": "dev", "deployment": "dedicated", "enableBackup": False}


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
        "'dev', 'staging', 'uat', 'preprod', 'production', 'sandbox' or pr-<pull request number> "
        '(got "prod"); '
        "spec.parameters.storageGB: must be >= 1 (got 0)"
    )
    assert list(rsp.desired.resources) == ["kept"]
    assert "Traceback" not in result.message


def test_unknown_kind_is_fatal() -> None:
    rsp = run(request(xr("example.org/v1", "Widget", {})))
    assert rsp.results[0].severity == fnv1.SEVERITY_FATAL
    assert "does not compose Widget" in rsp.results[0].message


@pytest.mark.parametrize(
    ("composite", "named", "not_named", "reason"),
    [
        (
            xr(PG, "PostgreSQLInstance", {"environment": "dev"}),
            ["input.spec.ttl.readySeconds: must be >= 30 (got 1)", "input.spec.extra: unknown"],
            ["input.spec.redisInstance"],
            "the platform-wide part and the section names; another kind's section is its own",
        ),
        (
            xr("cache.platform.example.org/v1alpha1", "RedisInstance", {"environment": "dev"}),
            [
                "input.spec.ttl.readySeconds: must be >= 30 (got 1)",
                "input.spec.redisInstance.chart.name: must be a string (got 1)",
            ],
            [],
            "the XR's own kind's section is checked with the rest",
        ),
    ],
)
def test_invalid_input_names_each_bad_setting(
    composite: JSON, named: list[str], not_named: list[str], reason: str
) -> None:
    settings = {"ttl": {"readySeconds": 1}, "redisInstance": {"chart": {"name": 1}}}
    if composite["kind"] == "PostgreSQLInstance":
        settings["extra"] = {}
    rsp = run(request(composite, settings=settings))
    assert [r.reason for r in rsp.results] == ["InvalidInput"], reason
    for text in named:
        assert text in rsp.results[0].message, reason
    for text in not_named:
        assert text not in rsp.results[0].message, reason


def test_settings_are_applied() -> None:
    settings = {"postgresqlInstance": {"shared": {"host": "db.internal", "port": 6432}}}
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


# ---------------------------------------------------------------- phase, readiness and TTL


def test_missing_password_key_is_fatal_and_names_the_credentials() -> None:
    rsp = run(request(xr(PG, "PostgreSQLInstance", {"environment": "dev"}), credentials={}))
    assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL]
    assert "credentials 'platform' have no key 'password-key'" in rsp.results[0].message
    assert not rsp.desired.resources


def test_phase_readiness_and_ttl_follow_the_observed_state() -> None:
    composite = xr(PG, "PostgreSQLInstance", {"environment": "dev"})
    provisioning = run(request(composite))
    assert status(provisioning)["phase"] == "Provisioning"
    assert provisioning.meta.ttl.seconds == 30
    first = desired(provisioning)
    observed = {k: v | {"status": ready_condition()} for k, v in first.items()}
    observed["connection-secret"] = observed_secret(first["connection-secret"])
    ready = run(request(composite, observed=observed))
    assert status(ready)["phase"] == "Ready"
    assert all(r.ready == fnv1.READY_TRUE for r in ready.desired.resources.values())
    assert ready.meta.ttl.seconds == 600
    observed["grant"] = first["grant"] | {"status": ready_condition("False", synced="False")}
    degraded = run(request(composite, observed=observed))
    assert status(degraded)["phase"] == "Degraded"
    assert degraded.desired.resources["grant"].ready == fnv1.READY_FALSE


def test_a_composer_warning_becomes_a_warning_result() -> None:
    params = {"environment": "dev", "passwordSecretRef": {"name": "mine"}}
    waiting = run(request(xr(REDIS, "RedisInstance", params, namespace="shop")))
    assert [(r.severity, r.message) for r in waiting.results] == [
        (
            fnv1.SEVERITY_WARNING,
            "waiting for Secret 'mine' (spec.parameters.passwordSecretRef) before writing the "
            "connection Secret",
        )
    ]
    sel = waiting.requirements.resources["user-password-secret"]
    assert (sel.kind, sel.match_name, sel.namespace) == ("Secret", "mine", "shop")


# ---------------------------------------------------------------- the Vault step's outcome


def _rsp(params: dict[str, object], **kw: object) -> fnv1.RunFunctionResponse:
    return run(request(xr(PG, "PostgreSQLInstance", params), **kw))  # type: ignore[arg-type]


def test_without_vault_path_nothing_about_vault() -> None:
    rsp = _rsp(DEDICATED_DEV)
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


def _with_managed_fields(s: struct_pb2.Struct) -> None:
    """Server-side apply's record in the object's metadata, as the API server returns it."""
    if s.fields["metadata"].WhichOneof("kind") == "struct_value":
        s.fields["metadata"].struct_value.update(
            {"managedFields": [{"manager": "crossplane", "operation": "Apply", "fieldsV1": {}}]}
        )


@pytest.mark.parametrize("case", find_cases(), ids=lambda c: c.id)
def test_managed_fields_change_no_answer(case: Case) -> None:
    req = answered_case_request(case, run)
    applied = fnv1.RunFunctionRequest()
    applied.CopyFrom(req)
    objects = [applied.observed.composite.resource]
    objects += [r.resource for r in applied.observed.resources.values()]
    objects += [i.resource for r in applied.required_resources.values() for i in r.items]
    for s in objects:
        if "metadata" in s.fields:
            _with_managed_fields(s)
    assert applied != req
    assert run(applied).SerializeToString(deterministic=True) == run(req).SerializeToString(
        deterministic=True
    )


def test_vault_gc_names_the_address_it_could_not_reach_from_the_credentials() -> None:
    with socket.socket() as s:  # a port bound and not listening: the connection is refused
        s.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{s.getsockname()[1]}"
        req = fnv1.RunFunctionRequest()
        req.input.update({"apiVersion": "fn.platform.example.org/v1beta1", "kind": "Input"})
        data = req.credentials["platform"].credential_data.data
        data["vault-address"] = address.encode()
        data["vault-token"] = b"s.operation-token"
        for name in (SETTINGS_REQUIREMENT, "postgresqlinstances", "kubernetesclusters"):
            req.required_resources[name].SetInParent()
        rsp = run(req)
    assert [(r.severity, r.reason) for r in rsp.results] == [
        (fnv1.SEVERITY_FATAL, "VaultGarbageCollection")
    ]
    assert rsp.results[0].message.endswith(
        f"VaultUnreachable: cannot connect to Vault at {address}"
    )
    assert "s.operation-token" not in str(rsp)
