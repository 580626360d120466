"""Two teams on one cluster: team-a and team-b ask for colliding bucket names, workspace
namespaces and (tests/integration/test_vault_two_teams.py) Vault paths. B is refused or
isolated, and nothing of A's appears in what B's XR composes or reads.

An MLOpsPlatform is cluster-scoped; its tenant namespace is the workspace namespace it
creates (its name), whose tenancy rules give its bucket prefix (default "{namespace}-").
"""

import json
from typing import Any

import pytest

from function.context import Desired
from function.kinds.mlopsplatform import KIND, storage
from function.kinds.mlopsplatform.compose import BUCKET_HOLDERS, PROFILE, WORKSPACE_NAMESPACE
from function.refusal import Refusal
from function.structs import JSON
from function.tenancy import Tenancy, rules_for
from tests.composing import context, namespace, profile_ref

INFRA = "crossplane-system"
EXTERNAL_NAME = "crossplane.io/external-name"
BOUNDARY_ARN = "arn:aws:iam::123456789012:policy/mlops/boundary"


def _bucket(name: str, resource: str, created: str) -> JSON:
    """Another workspace's Bucket, as Crossplane lists it."""
    return {
        "apiVersion": storage.S3_API,
        "kind": "Bucket",
        "metadata": {
            "name": resource,
            "namespace": INFRA,
            "creationTimestamp": created,
            "annotations": {EXTERNAL_NAME: name},
            "labels": {storage.BUCKET_LABEL: name},
        },
    }


def workspace(
    name: str,
    bucket: str | None = None,
    *,
    required: dict[str, list[JSON]] | None = None,
    observed: dict[str, JSON] | None = None,
    settings: JSON | None = None,
    boundary: bool = True,
) -> Desired:
    """Compose workspace name (its namespace the Profile's unless required says otherwise;
    with boundary, its permissions boundary created)."""
    params: dict[str, Any] = {
        "environment": "dev",
        "team": name,
        "owner": f"lead@{name}.example.org",
    }
    if bucket:
        params["objectStore"] = {"bucketName": bucket}
    found = {WORKSPACE_NAMESPACE: [namespace(name, profile_ref(name))]}
    created = {storage.BOUNDARY: {"status": {"atProvider": {"arn": BOUNDARY_ARN}}}}
    ctx = context(
        KIND,
        params,
        name=name,
        namespace="",
        required=found if required is None else required,
        observed={**(created if boundary else {}), **(observed or {})},
        settings=settings,
    )
    return KIND.compose(ctx)


def _text(desired: Desired) -> str:
    return json.dumps(desired.resources, sort_keys=True)


# --- buckets ----------------------------------------------------------------------------------


def test_b_naming_a_bucket_under_as_prefix_is_refused() -> None:
    with pytest.raises(Refusal) as refused:
        workspace("team-b", "team-a-datasets")
    (problem,) = refused.value.problems
    assert "spec.parameters.objectStore.bucketName 'team-a-datasets'" in problem
    assert "must start with 'team-b-'" in problem


def test_each_team_gets_a_bucket_under_its_own_prefix_and_nothing_of_the_other() -> None:
    a, b = workspace("team-a"), workspace("team-b", "team-b-datasets")
    assert a.resources[storage.BUCKET]["metadata"]["annotations"] == {
        EXTERNAL_NAME: "team-a-ml-artifacts"
    }
    assert b.resources[storage.BUCKET]["metadata"]["annotations"] == {
        EXTERNAL_NAME: "team-b-datasets"
    }
    assert "team-a" not in _text(b)
    assert "team-b" not in _text(a)


def test_a_tenant_prefix_comes_before_the_derived_name() -> None:
    settings = {"tenancy": {"tenants": [{"namespaces": ["vision"], "bucketPrefix": "acme-b-"}]}}
    d = workspace("vision", settings=settings)
    assert d.resources[storage.BUCKET]["metadata"]["annotations"] == {
        EXTERNAL_NAME: "acme-b-vision-ml-artifacts"
    }
    with pytest.raises(Refusal, match="must start with 'acme-b-'"):
        workspace("vision", "vision-data", settings=settings)


SHARED_PREFIX = {
    "tenancy": {"tenants": [{"namespaces": ["team-b-ml", "team-b-cv"], "bucketPrefix": "team-b-"}]}
}


def test_a_name_another_workspaces_bucket_holds_is_refused_the_holder_keeps_it() -> None:
    held = _bucket("team-b-shared", "team-b-ml-1a2b3c", "2026-01-01T00:00:00Z")
    holders = {BUCKET_HOLDERS: [held]}
    with pytest.raises(Refusal, match="'team-b-shared' is another workspace's bucket"):
        workspace(
            "team-b-cv",
            "team-b-shared",
            required={**holders, WORKSPACE_NAMESPACE: []},
            settings=SHARED_PREFIX,
        )
    # The holder itself (its Bucket observed) composes on.
    holder = workspace(
        "team-b-ml",
        "team-b-shared",
        required={**holders, WORKSPACE_NAMESPACE: []},
        observed={storage.BUCKET: held},
        settings=SHARED_PREFIX,
    )
    assert holder.resources[storage.BUCKET]["metadata"]["labels"] == {
        storage.BUCKET_LABEL: "team-b-shared"
    }


def test_two_buckets_composed_before_either_was_listed_the_older_keeps_the_name() -> None:
    older = _bucket("team-b-shared", "team-b-ml-1a2b3c", "2026-01-01T00:00:00Z")
    newer = _bucket("team-b-shared", "team-b-cv-4d5e6f", "2026-01-01T00:00:05Z")
    holders = {BUCKET_HOLDERS: [older, newer], WORKSPACE_NAMESPACE: []}
    kept = workspace(
        "team-b-ml",
        "team-b-shared",
        required=holders,
        observed={storage.BUCKET: older},
        settings=SHARED_PREFIX,
    )
    assert storage.BUCKET in kept.resources
    with pytest.raises(Refusal, match="another workspace's bucket"):
        workspace(
            "team-b-cv",
            "team-b-shared",
            required=holders,
            observed={storage.BUCKET: newer},
            settings=SHARED_PREFIX,
        )


def test_buckets_not_listed_yet_compose_and_the_holders_of_the_name_are_asked_for() -> None:
    d = workspace("team-b", "team-b-datasets")
    selector = d.requirements[BUCKET_HOLDERS]
    assert (selector.api_version, selector.kind, selector.namespace) == (
        "s3.aws.m.upbound.io/v1beta1",
        "Bucket",
        INFRA,
    )
    assert dict(selector.labels) == {"platform.example.org/bucket": "team-b-datasets"}
    assert storage.BUCKET in d.resources


def test_the_iam_user_is_bounded_by_a_policy_on_the_tenant_prefix() -> None:
    d = workspace("team-b")
    assert d.resources[storage.USER]["spec"]["forProvider"]["permissionsBoundary"] == BOUNDARY_ARN
    document = json.loads(d.resources[storage.BOUNDARY]["spec"]["forProvider"]["policy"])
    resources = sorted(s["Resource"] for s in document["Statement"])
    assert resources == ["arn:aws:s3:::team-b-*", "arn:aws:s3:::team-b-*/*"]
    assert {s["Effect"] for s in document["Statement"]} == {"Allow"}


def test_without_the_boundary_arn_no_new_iam_user_is_made() -> None:
    params = {"environment": "dev", "team": "team-b", "owner": "lead@team-b.example.org"}
    ctx = context(KIND, params, name="team-b", namespace="", required={})
    d = KIND.compose(ctx)
    assert not set(storage.USER_OBJECTS) & set(d.resources)
    assert "WaitingForPermissionsBoundary" in [w.reason for w in d.warnings]


def test_a_long_namespace_fills_the_prefix_without_failing() -> None:
    name = "n" * 63
    assert rules_for(Tenancy(), name).bucketPrefix == name + "-"
    with pytest.raises(Refusal, match=r"metadata\.name .* leaves no room"):
        workspace(name)


# --- namespaces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("controller", "owner"),
    [
        (None, "no Kubeflow Profile"),
        ({**profile_ref("team-a"), "controller": False}, "no Kubeflow Profile"),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "x",
                "uid": "u",
                "controller": True,
            },
            "Deployment x",
        ),
    ],
)
def test_b_naming_its_workspace_after_as_namespace_composes_the_profile_alone(
    controller: JSON | None, owner: str
) -> None:
    found = {WORKSPACE_NAMESPACE: [namespace("team-a", controller)]}
    d = workspace("team-a", required=found, boundary=False)
    assert set(d.resources) == {PROFILE}
    (warning,) = d.warnings
    assert warning.reason == "NamespaceNotOwned"
    assert "'team-a'" in warning.message
    assert owner in warning.message
    assert d.vault == []


def test_a_namespace_controlled_by_another_profile_of_that_name_is_not_the_workspaces() -> None:
    """A Profile of the same name made before (another uid) does not make it ours."""
    found = {WORKSPACE_NAMESPACE: [namespace("team-a", profile_ref("team-a", "old-uid"))]}
    observed_profile = {"metadata": {"name": "team-a", "uid": "new-uid"}}
    d = workspace("team-a", required=found, observed={PROFILE: observed_profile}, boundary=False)
    assert set(d.resources) == {PROFILE}


def test_the_profiles_own_namespace_gets_the_workspace() -> None:
    d = workspace("team-a")
    assert storage.SERVING_ACCOUNT in d.resources
    assert d.resources[storage.SERVING_ACCOUNT]["metadata"]["namespace"] == "team-a"
