"""spec.parameters validation: every bad field named with its rule and value."""

from typing import Any

import pytest

from function.kinds.kubernetescluster.model import KubernetesClusterParameters
from function.kinds.postgresqlinstance.model import PostgreSQLParameters
from function.kinds.redisinstance.model import RedisParameters
from function.validation import parse_parameters
from tests.composing import refused

CASES: list[tuple[str, type[Any], Any, list[str]]] = [
    (
        "a value below its minimum names the bound and the value",
        PostgreSQLParameters,
        {"environment": "dev", "storageGB": 0},
        ["spec.parameters.storageGB: must be >= 1 (got 0)"],
    ),
    (
        "a missing required field is named",
        PostgreSQLParameters,
        {"size": "small"},
        ["spec.parameters.environment: required"],
    ),
    (
        "an unknown field (a typo) is rejected, not ignored",
        PostgreSQLParameters,
        {"environment": "dev", "storageGb": 20},
        ["spec.parameters.storageGb: unknown field"],
    ),
    (
        "a string where an integer belongs is not coerced",
        PostgreSQLParameters,
        {"environment": "dev", "version": "16"},
        ['spec.parameters.version: must be one of 15, 16 or 17 (got "16")'],
    ),
    (
        "an enum value out of range lists the allowed values",
        PostgreSQLParameters,
        {"environment": "dev", "deployment": "cloud"},
        ["spec.parameters.deployment: must be one of 'shared' or 'dedicated' (got \"cloud\")"],
    ),
    (
        "a vault path with .. is refused",
        PostgreSQLParameters,
        {"environment": "dev", "vaultPath": "secret/../root"},
        [
            "spec.parameters.vaultPath: must match "
            "^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*(/[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*)*$ "
            '(got "secret/../root")'
        ],
    ),
    (
        "cross-field rule: production must be backed up",
        PostgreSQLParameters,
        {"environment": "production", "enableBackup": False},
        ["spec.parameters.enableBackup: must be true in production (got false)"],
    ),
    (
        "cross-field rule: replicas need persistence",
        RedisParameters,
        {"environment": "dev", "replicas": 2, "persistence": False},
        [
            "spec.parameters.persistence: must be true when replicas > 1 "
            "(replicas sync through volumes) (got false)"
        ],
    ),
    (
        "nested fields are named with their full path",
        RedisParameters,
        {"environment": "dev", "passwordSecretRef": {"name": "Not_A_Name"}},
        [
            "spec.parameters.passwordSecretRef.name: must be lowercase letters, digits, "
            "hyphens and dots, starting and ending with a letter or digit "
            '(got "Not_A_Name")'
        ],
    ),
    (
        "parameters that are not an object",
        RedisParameters,
        "big",
        ['spec.parameters: must be an object (got "big")'],
    ),
    ("parameters missing altogether", RedisParameters, None, ["spec.parameters: required"]),
    (
        "a type error and a broken cross-field rule are reported together",
        KubernetesClusterParameters,
        {"environment": "dev", "workerNodes": "three", "controlPlaneNodes": 2},
        [
            'spec.parameters.workerNodes: must be an integer (got "three")',
            "spec.parameters.controlPlaneNodes: must be odd (etcd needs a quorum) (got 2)",
        ],
    ),
    (
        "a rule reading a bad field is not checked on a guess (memoryGB is bad)",
        RedisParameters,
        {"environment": "dev", "memoryGB": "x", "persistenceSizeGB": 1},
        ['spec.parameters.memoryGB: must be an integer (got "x")'],
    ),
]


@pytest.mark.parametrize(
    ("model", "raw", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_parameters_are_described(model: type[Any], raw: Any, want: list[str]) -> None:
    assert refused(model, raw) == want


def test_several_errors_are_all_reported() -> None:
    got = refused(PostgreSQLParameters, {"environment": "prod", "size": "xl", "storageGB": -1})
    assert got is not None
    assert [line.split(":")[0] for line in got] == [
        "spec.parameters.environment",
        "spec.parameters.size",
        "spec.parameters.storageGB",
    ]


def test_defaults_fill_a_minimal_instance() -> None:
    got = parse_parameters(PostgreSQLParameters, {"environment": "dev"})
    assert isinstance(got, PostgreSQLParameters)
    assert (got.size, got.storageGB, got.enableBackup, got.deployment, got.version) == (
        "small",
        20,
        True,
        "shared",
        16,
    )
