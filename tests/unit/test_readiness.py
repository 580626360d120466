"""Readiness of composed resources from their observed state: the mechanism, each kind's rules."""

from typing import Any

import pytest

from function import catalogue
from function.kinds import kubernetescluster, postgresqlinstance, redisinstance
from function.observed import condition, condition_status
from function.readiness import ANY_KIND, Readiness, exists, is_failing

READY: Any = {"conditions": [{"type": "Ready", "status": "True"}]}
NOT_READY: Any = {"conditions": [{"type": "Ready", "status": "False"}]}
AVAILABLE: Any = {"conditions": [{"type": "Available", "status": "True"}]}
PG, REDIS = postgresqlinstance.KIND.readiness, redisinstance.KIND.readiness
CLUSTER = kubernetescluster.KIND.readiness
ROLE = {"apiVersion": "postgresql.sql.m.crossplane.io/v1alpha1", "kind": "Role"}
RELEASE = {"apiVersion": "helm.m.crossplane.io/v1beta1", "kind": "Release"}


@pytest.mark.parametrize(
    ("readiness", "obj", "want"),
    [
        pytest.param(PG, None, False, id="nothing observed yet"),
        pytest.param(
            PG, {"apiVersion": "v1", "kind": "Secret"}, True, id="a Secret is ready once it exists"
        ),
        pytest.param(PG, ROLE | {"status": READY}, True, id="a managed resource with Ready=True"),
        pytest.param(PG, ROLE, False, id="a managed resource without conditions yet"),
        pytest.param(
            REDIS,
            RELEASE | {"status": READY | {"atProvider": {"state": "pending-install"}}},
            False,
            id="a Helm release Ready but not deployed is not ready",
        ),
        pytest.param(
            REDIS,
            RELEASE | {"status": READY | {"atProvider": {"state": "deployed"}}},
            True,
            id="a Helm release Ready and deployed",
        ),
        pytest.param(
            PG,
            {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "status": NOT_READY},
            False,
            id="a CloudNativePG cluster reporting Ready=False",
        ),
        pytest.param(
            PG,
            {"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup"},
            True,
            id="a ScheduledBackup has no Ready condition: ready once it exists",
        ),
        pytest.param(
            PG,
            {"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore"},
            True,
            id="a Barman Cloud ObjectStore is a definition: ready once it exists",
        ),
        pytest.param(
            CLUSTER,
            {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "status": READY},
            False,
            id="a Cluster API Cluster is judged by Available, not Ready",
        ),
        pytest.param(
            CLUSTER,
            {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "status": AVAILABLE},
            True,
            id="a Cluster API Cluster reporting Available",
        ),
        pytest.param(
            CLUSTER,
            {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineHealthCheck"},
            True,
            id="a MachineHealthCheck's conditions say health: ready once it exists (kind wins "
            "over its group's rule)",
        ),
        pytest.param(
            CLUSTER,
            {"apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha1", "kind": "KubevirtCluster"},
            False,
            id="a KubevirtCluster without status.ready",
        ),
        pytest.param(
            CLUSTER,
            {
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha1",
                "kind": "KubevirtCluster",
                "status": {"ready": True},
            },
            True,
            id="a KubevirtCluster with status.ready",
        ),
        pytest.param(
            REDIS,
            {"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore"},
            False,
            id="one kind's rules do not leak into another's: Redis judges it by Ready",
        ),
    ],
)
def test_is_ready(readiness: Readiness, obj: Any, want: bool) -> None:
    assert readiness.is_ready(obj) is want


def test_later_rules_win_and_core_objects_are_always_covered() -> None:
    strict = Readiness.of({("", ANY_KIND): lambda _: False}, {("", "Secret"): exists})
    assert strict.is_ready({"apiVersion": "v1", "kind": "Secret"})
    assert not strict.is_ready({"apiVersion": "v1", "kind": "ConfigMap"})
    assert Readiness.of().is_ready({"apiVersion": "v1", "kind": "ConfigMap"})


def test_every_kind_has_rules_for_core_objects() -> None:
    for kind in catalogue.kinds():
        assert kind.readiness.is_ready({"apiVersion": "v1", "kind": "Secret"}), kind.api.kind


def test_synced_false_is_failing() -> None:
    role = ROLE | {"status": {"conditions": [{"type": "Synced", "status": "False"}]}}
    assert is_failing(role)
    assert not is_failing(ROLE | {"status": READY})
    assert not is_failing(None)


@pytest.mark.parametrize(
    ("conditions", "want", "reason"),
    [
        ([{"type": "Ready", "status": "True"}], "True", "the condition's status"),
        (
            [{"type": "Ready", "status": "False"}, {"type": "Ready", "status": "True"}],
            "False",
            "the first of two of one type, as condition() reads it",
        ),
        ([{"type": "Synced", "status": "True"}], None, "no condition of that type"),
        ([{"type": "Ready", "status": True}], None, "a status of another shape is absent"),
        (["Ready", {"type": "Ready"}], None, "items of another shape are skipped; no status"),
        ("Ready", None, "conditions of another shape"),
    ],
)
def test_condition_status_is_the_status_condition_reads(
    conditions: Any, want: str | None, reason: str
) -> None:
    obj = {"status": {"conditions": conditions}}
    assert condition_status(obj, "Ready") == want, reason
    assert (condition(obj, "Ready") or {}).get("status") == want, reason
