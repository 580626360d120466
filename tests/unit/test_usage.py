"""The deletion order block: which Usages a list of (by, of) pairs composes."""

from typing import Any

import pytest

from function.blocks.usage import deletion_order, usage_name

RBAC = "rbac.authorization.k8s.io/v1"


def _obj(kind: str, name: str, api: str = RBAC, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "labels": {}}, **extra}


def _binding(role_kind: str = "Role", role: str = "ccm", namespace: str | None = None) -> Any:
    binding = _obj(
        "RoleBinding",
        "ccm",
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
    )
    if namespace:
        binding["metadata"]["namespace"] = namespace
    return binding


def _resources(binding: dict[str, Any]) -> dict[str, Any]:
    return {
        "deployment": _obj("Deployment", "ccm", api="apps/v1"),
        "role": _obj("Role", "ccm"),
        "binding": binding,
    }


@pytest.mark.parametrize(
    ("binding", "uses", "usages"),
    [
        pytest.param(
            _binding(),
            [("deployment", "binding")],
            {("deployment", "binding"), ("binding", "role")},
            id="a protected RoleBinding keeps the Role it binds",
        ),
        pytest.param(
            _binding(),
            [("deployment", "role")],
            {("deployment", "role")},
            id="an unprotected RoleBinding is deleted without an update: no Usage of its own",
        ),
        pytest.param(
            _binding(role_kind="ClusterRole"),
            [("deployment", "binding")],
            {("deployment", "binding")},
            id="a RoleBinding of a ClusterRole: no Role composed to keep",
        ),
        pytest.param(
            _binding(role="other"),
            [("deployment", "binding")],
            {("deployment", "binding")},
            id="a RoleBinding of a Role composed elsewhere",
        ),
        pytest.param(
            _binding(namespace="elsewhere"),
            [("deployment", "binding")],
            {("deployment", "binding")},
            id="a RoleBinding in another namespace binds another Role of that name",
        ),
    ],
)
def test_usages(binding: dict[str, Any], uses: list[tuple[str, str]], usages: set[Any]) -> None:
    resources = _resources(binding)
    composed = set(resources)
    deletion_order(resources, uses)
    added = {
        (u["spec"]["by"]["kind"], u["spec"]["of"]["kind"], name)
        for name, u in resources.items()
        if name not in composed
    }
    kinds = {key: obj["kind"] for key, obj in resources.items()}
    assert added == {(kinds[by], kinds[of], usage_name(by, of)) for by, of in usages}
