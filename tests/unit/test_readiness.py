"""Readiness of composed resources from their observed state."""

from typing import Any

import pytest

from function.readiness import is_failing, is_ready

READY: Any = {"conditions": [{"type": "Ready", "status": "True"}]}
NOT_READY: Any = {"conditions": [{"type": "Ready", "status": "False"}]}

CASES = [
    ("nothing observed yet", None, False),
    ("a Secret is ready once it exists", {"apiVersion": "v1", "kind": "Secret"}, True),
    (
        "a managed resource with Ready=True",
        {"apiVersion": "postgresql.sql.m.crossplane.io/v1alpha1", "kind": "Role", "status": READY},
        True,
    ),
    (
        "a managed resource without conditions yet",
        {"apiVersion": "postgresql.sql.m.crossplane.io/v1alpha1", "kind": "Role"},
        False,
    ),
    (
        "a Helm release Ready but not deployed is not ready",
        {
            "apiVersion": "helm.m.crossplane.io/v1beta1",
            "kind": "Release",
            "status": READY | {"atProvider": {"state": "pending-install"}},
        },
        False,
    ),
    (
        "a Helm release Ready and deployed",
        {
            "apiVersion": "helm.m.crossplane.io/v1beta1",
            "kind": "Release",
            "status": READY | {"atProvider": {"state": "deployed"}},
        },
        True,
    ),
    (
        "a CloudNativePG cluster reporting Ready=False",
        {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "status": NOT_READY},
        False,
    ),
    (
        "a ScheduledBackup has no Ready condition: ready once it exists",
        {"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup"},
        True,
    ),
]


@pytest.mark.parametrize(("obj", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_is_ready(obj: Any, want: bool) -> None:
    assert is_ready(obj) is want


def test_synced_false_is_failing() -> None:
    role = {
        "apiVersion": "x.m.crossplane.io/v1",
        "kind": "Role",
        "status": {"conditions": [{"type": "Synced", "status": "False"}]},
    }
    assert is_failing(role)
    assert not is_failing(None)
