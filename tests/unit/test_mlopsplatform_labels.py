"""MLOpsPlatform: the workspace namespace's governance labels, through a provider-kubernetes Object.

Expected values are written from the upstream APIs: the label keys and values from the
XRD's parameters, the Object's shape from the provider-kubernetes v1.2.1 CRD
($SHARED/crds/provider-kubernetes/kubernetes.m.crossplane.io_objects.yaml), and the
management actions from crossplane-runtime's ManagementAction enum in that CRD.
"""

from typing import Any

import pytest
import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.context import Desired
from function.kinds.mlopsplatform import KIND
from function.runner import run
from function.structs import JSON
from harness.crdschema import ComposedValidator
from harness.paths import shared_dir
from harness.requests import request, xr
from tests import kubemeta
from tests.composing import context, profile_namespace

API = "ml.platform.example.org/v1alpha1"
WS = "vision"
PARAMS = {"environment": "staging", "team": "vision-research", "owner": "ada@example.org"}
OBJECT_API = "kubernetes.m.crossplane.io/v1alpha1"
OBJECT_CRD = "crds/provider-kubernetes/kubernetes.m.crossplane.io_objects.yaml"


def compose(params: JSON | None = None, namespace: JSON | None = None, **kw: Any) -> Desired:
    """Compose workspace vision with its namespace found as given (default: the Profile's)."""
    found = profile_namespace(WS) if namespace is None else namespace
    kw.setdefault("required", {"workspace-namespace": [found]})
    return KIND.compose(context(KIND, params or PARAMS, name=WS, namespace="", **kw))


def label_objects(d: Desired) -> dict[str, JSON]:
    """The composed Objects whose manifest is a Namespace, by composition resource name."""
    return {
        name: obj
        for name, obj in d.resources.items()
        if obj.get("apiVersion") == OBJECT_API
        and obj["spec"]["forProvider"]["manifest"].get("kind") == "Namespace"
    }


def the_label_object(d: Desired) -> JSON:
    found = label_objects(d)
    assert len(found) == 1, sorted(found)
    return next(iter(found.values()))


def test_the_manifest_is_the_namespace_name_and_exactly_the_two_labels() -> None:
    obj = the_label_object(compose())
    assert obj["spec"]["forProvider"]["manifest"] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": WS,
            "labels": {
                "platform.example.org/environment": "staging",
                "platform.example.org/team": "vision-research",
            },
        },
    }


def test_the_object_lives_in_the_namespace_it_labels() -> None:
    """Deleting the namespace deletes the Object before the namespace is gone."""
    assert the_label_object(compose())["metadata"] == {"namespace": WS}


def test_management_policies_observe_and_update_only() -> None:
    policies = the_label_object(compose())["spec"]["managementPolicies"]
    assert sorted(policies) == ["Observe", "Update"]
    for never in ("Create", "Delete", "*"):
        assert never not in policies


def test_the_provider_config_is_the_setting() -> None:
    default = the_label_object(compose())
    assert default["spec"]["providerConfigRef"] == {
        "kind": "ClusterProviderConfig",
        "name": "default",
    }
    ref = {"kind": "ClusterProviderConfig", "name": "host-namespaces"}
    settings = {"mlopsPlatform": {"namespaceLabels": {"providerConfigRef": ref}}}
    assert the_label_object(compose(settings=settings))["spec"]["providerConfigRef"] == ref


def test_a_new_team_or_environment_updates_the_labels() -> None:
    before = the_label_object(compose())
    after = the_label_object(compose({**PARAMS, "team": "fraud", "environment": "production"}))
    assert after["spec"]["forProvider"]["manifest"]["metadata"]["labels"] == {
        "platform.example.org/environment": "production",
        "platform.example.org/team": "fraud",
    }
    assert {k: v for k, v in after.items() if k != "spec"} == {
        k: v for k, v in before.items() if k != "spec"
    }


def _another_owners_namespace() -> JSON:
    ns = profile_namespace(WS)
    ns["metadata"]["ownerReferences"][0] |= {"kind": "Deployment", "apiVersion": "apps/v1"}
    return ns


def _being_deleted() -> JSON:
    ns = profile_namespace(WS)
    ns["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return ns


ABSENT = {
    "no namespace yet": {"required": {}},
    "namespace of another owner": {"namespace": _another_owners_namespace()},
    "namespace of another Profile of that name": {
        "observed": {"profile": {"metadata": {"name": WS, "uid": "uid-of-a-newer-profile"}}}
    },
    "namespace being deleted": {"namespace": _being_deleted()},
}


@pytest.mark.parametrize("case", ABSENT.values(), ids=ABSENT.keys())
def test_absent_unless_the_namespace_is_the_profiles_and_not_being_deleted(
    case: dict[str, Any],
) -> None:
    """Update of a missing object creates it (provider-kubernetes v1.2.1): the Object is
    never left where the namespace may be gone, nor labels another's namespace."""
    assert label_objects(compose(**case)) == {}


@pytest.mark.parametrize(
    "case",
    [ABSENT["no namespace yet"], ABSENT["namespace of another owner"]],
    ids=["namespace gone", "namespace now another's"],
)
def test_a_composed_object_is_dropped_when_the_namespace_is_no_longer_the_profiles(
    case: dict[str, Any],
) -> None:
    composed = compose()
    observed = dict(label_objects(composed))
    assert observed
    assert label_objects(compose(observed=observed, **case)) == {}


def test_the_object_validates_against_the_provider_kubernetes_crd() -> None:
    assert OBJECT_CRD in KIND.crds
    validator = ComposedValidator(shared_dir())
    for name, obj in label_objects(compose()).items():
        assert validator.errors(name, obj) == []
        assert validator.errors(f"{name} manifest", obj["spec"]["forProvider"]["manifest"]) == []
        assert kubemeta.object_errors(name, obj) == []


def test_management_policies_are_actions_the_crd_knows() -> None:
    crd = yaml.safe_load((shared_dir() / OBJECT_CRD).read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    actions = spec["properties"]["managementPolicies"]["items"]["enum"]
    assert set(the_label_object(compose())["spec"]["managementPolicies"]) <= set(actions)


def test_team_is_required_and_a_dns_label() -> None:
    for params, problem in (
        ({k: v for k, v in PARAMS.items() if k != "team"}, "spec.parameters.team: "),
        ({**PARAMS, "team": "Vision_Research"}, "spec.parameters.team: must be lowercase"),
        ({**PARAMS, "team": "t" * 64}, "spec.parameters.team: "),
    ):
        rsp = run(request(xr(API, "MLOpsPlatform", params, name=WS, namespace="")))
        assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL]
        assert problem in rsp.results[0].message
        assert not rsp.desired.resources
