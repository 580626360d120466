"""Platform settings from the cluster: the EnvironmentConfig under the step's input, over the
defaults, every problem named where it was set."""

from dataclasses import dataclass, field
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import struct_pb2

from function import catalogue
from function.input import (
    SETTINGS_REQUIREMENT,
    EnvironmentConfig,
    parse_input,
)
from function.kinds.postgresqlinstance import KIND
from function.runner import run
from function.structs import JSON, to_dict
from harness.cases import load_yaml_docs
from harness.paths import ROOT
from harness.requests import INPUT_API_VERSION, desired, request, xr
from tests.composing import PASSWORD_KEY

PRODUCTION = {"environment": "production", "deployment": "dedicated", "enableBackup": True}
CREDENTIALS = {"clusterSecretStore": "platform-backups", "remoteKey": "pg"}


def environment_config(data: Any, name: str = "function-platform") -> JSON:
    return {
        "apiVersion": "apiextensions.crossplane.io/v1beta1",
        "kind": "EnvironmentConfig",
        "metadata": {"name": name},
        "data": data,
    }


def backup(destination: str, **more: Any) -> JSON:
    return {
        "postgresqlInstance": {"dedicated": {"backup": {"destinationPath": destination} | more}}
    }


@dataclass(frozen=True)
class Case:
    reason: str
    config: JSON | None  # the EnvironmentConfig Crossplane fetched; None: none exists
    settings: JSON | None = None  # the step's input.spec
    destination: str | None = None  # the backup destination composed
    problems: list[str] = field(default_factory=list)  # each in the one FATAL


CASES = {
    "cluster": Case(
        "the EnvironmentConfig alone configures backups: no Composition edited",
        environment_config(backup("s3://cluster/pg", credentials=CREDENTIALS)),
        destination="s3://cluster/pg/team-a/app-uid-team-a-app",
    ),
    "input-over-cluster": Case(
        "the step's input overrides one field; the rest still comes from the cluster",
        environment_config(backup("s3://cluster/pg", credentials=CREDENTIALS)),
        settings=backup("s3://composition/pg"),
        destination="s3://composition/pg/team-a/app-uid-team-a-app",
    ),
    "input-alone": Case(
        "without an EnvironmentConfig the input and the defaults apply, as before",
        None,
        settings=backup("s3://composition/pg", credentials=CREDENTIALS),
        destination="s3://composition/pg/team-a/app-uid-team-a-app",
    ),
    "bad-cluster-field": Case(
        "a bad value in the EnvironmentConfig is named there, with its path under data",
        environment_config(backup("s3://x", credentials=CREDENTIALS, retentionPolicy="1 year")),
        problems=[
            "EnvironmentConfig function-platform: "
            "data.postgresqlInstance.dedicated.backup.retentionPolicy: must match"
        ],
    ),
    "unknown-cluster-key": Case(
        "a misspelt section in the EnvironmentConfig is refused, not ignored",
        environment_config({"postgresql": {}}),
        problems=["EnvironmentConfig function-platform: data.postgresql: unknown field"],
    ),
    "bad-input-field": Case(
        "a bad value in the step's input is named in the input, even with a config",
        environment_config(backup("s3://cluster/pg", credentials=CREDENTIALS)),
        settings={"ttl": {"readySeconds": 1}},
        problems=["input.spec.ttl.readySeconds: must be >= 30 (got 1)"],
    ),
    "data-not-object": Case(
        "an EnvironmentConfig whose data is no object",
        environment_config("backups please"),
        problems=["EnvironmentConfig function-platform: data: must be an object"],
    ),
    "other-name": Case(
        "a Composition that asks for another EnvironmentConfig gets it named in messages",
        environment_config({"ttl": {"readySeconds": 1}}, name="platform-eu"),
        problems=["EnvironmentConfig platform-eu: data.ttl.readySeconds: must be >= 30"],
    ),
    "nothing-configured": Case(
        "no EnvironmentConfig and no input: the missing backup wiring is named where to set",
        None,
        problems=[
            "postgresqlInstance.dedicated.backup.destinationPath",
            "EnvironmentConfig function-platform data, or the Composition's input.spec",
        ],
    ),
}


def respond(case: Case) -> fnv1.RunFunctionResponse:
    api = KIND.api
    required = {SETTINGS_REQUIREMENT: [case.config] if case.config else []}
    return run(
        request(
            xr(api.api_version, api.kind, PRODUCTION), required=required, settings=case.settings
        )
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_settings_come_from_the_cluster_under_the_input(case: Case) -> None:
    rsp = respond(case)
    fatal = [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    if case.problems:
        assert len(fatal) == 1, case.reason
        for problem in case.problems:
            assert problem in fatal[0], case.reason
        assert not rsp.desired.resources, case.reason
        return
    assert fatal == [], case.reason
    store = desired(rsp)["backup-store"]
    assert store["spec"]["configuration"]["destinationPath"] == case.destination, case.reason


def test_a_step_that_does_not_ask_for_the_settings_is_warned_and_composes_from_its_input() -> None:
    api = KIND.api
    req = request(xr(api.api_version, api.kind, {"environment": "dev"}))
    del req.required_resources[SETTINGS_REQUIREMENT]
    rsp = run(req)
    assert [(r.severity, r.reason) for r in rsp.results] == [
        (fnv1.SEVERITY_WARNING, "SettingsNotRequested")
    ]
    assert SETTINGS_REQUIREMENT in rsp.results[0].message
    assert "database" in rsp.desired.resources


def test_an_operation_that_does_not_ask_for_the_settings_does_nothing() -> None:
    req = fnv1.RunFunctionRequest()
    req.input.update({"apiVersion": INPUT_API_VERSION, "kind": "Input", "spec": {}})
    req.credentials["platform"].credential_data.data["password-key"] = PASSWORD_KEY
    rsp = run(req)
    assert [(r.severity, r.reason) for r in rsp.results] == [(fnv1.SEVERITY_FATAL, "InvalidInput")]
    assert to_dict(rsp.output) == {}


def test_a_changed_environment_config_is_read_again() -> None:
    first = respond(CASES["cluster"])
    moved = Case("", environment_config(backup("s3://moved/pg", credentials=CREDENTIALS)))
    again = respond(moved)
    stores = [desired(r)["backup-store"]["spec"]["configuration"] for r in (first, again)]
    assert [s["destinationPath"] for s in stores] == [
        "s3://cluster/pg/team-a/app-uid-team-a-app",
        "s3://moved/pg/team-a/app-uid-team-a-app",
    ]


@pytest.mark.parametrize("kind", [e.kind for e in catalogue.ENTRIES])
def test_the_shipped_example_is_valid_settings_for_every_kind(kind: str) -> None:
    (doc,) = load_yaml_docs(ROOT / "install" / "settings.yaml")
    assert (doc["apiVersion"], doc["kind"]) == (
        "apiextensions.crossplane.io/v1beta1",
        "EnvironmentConfig",
    )
    config = EnvironmentConfig(doc["metadata"]["name"], doc["data"])
    entry = next(e for e in catalogue.ENTRIES if e.kind == kind)
    empty = struct_pb2.Struct().SerializeToString()
    platform = parse_input(empty, catalogue.load(entry), config)  # a Refusal fails the test
    assert platform.ttl.readySeconds == 600
