"""What the control-plane e2e (tests/controlplane) makes of the examples, checked without a
cluster: each case's stand-in namespaces, and an example's earlier state."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.runner import run
from function.structs import to_dict
from harness import requests
from harness.cases import JSON, Case, example_credentials, find_cases, load_yaml_docs
from harness.paths import ROOT
from tests.controlplane import cluster, expected

CASES = find_cases(ROOT)
NAMESPACED = [c for c in CASES if not cluster.cluster_scoped(c)]
COMPOSING = [c for c in NAMESPACED if not c.expects_error]
# What Kubernetes accepts as a namespace's name (RFC 1123 label).
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _shape(name: str) -> list[str]:
    """Per character: '-', a digit or a letter."""
    return ["-" if c == "-" else "9" if c.isdigit() else "a" for c in name]


@pytest.mark.parametrize("case", NAMESPACED, ids=[c.id for c in NAMESPACED])
def test_a_stand_in_has_the_shape_of_the_example_namespace(case: Case) -> None:
    """Same length, '-' at the same places, letters and digits where the example's are,
    the same first letter: a valid namespace that is none the example names."""
    spaces = cluster.namespaces(case)
    assert cluster.xr_doc_namespace(case) in spaces
    for original, own in spaces.items():
        assert len(own) == len(original), (original, own)
        assert _shape(own) == _shape(original), (original, own)
        assert own[0] == original[0], (original, own)
        assert DNS_LABEL.fullmatch(own), own
        assert own != original


def test_stand_ins_are_unique_and_none_an_example_names() -> None:
    """No two cases share a namespace, and none is one an example or the cluster has."""
    owns = [own for c in NAMESPACED for own in cluster.namespaces(c).values()]
    assert len(owns) == len(set(owns))
    named = {original for c in NAMESPACED for original in cluster.namespaces(c)}
    assert not set(owns) & (named | cluster.RESERVED_NAMESPACES)


def test_restored_maps_only_the_stand_in_back() -> None:
    """A stand-in as a word and in its SQL spelling becomes the example's namespace; a
    name the namespace begins (the XR's) is left as it is."""
    (case,) = [c for c in CASES if c.id == "vclusterenvironment/gitops"]
    own = cluster.namespace(case)
    sql = own.replace("-", "_")
    assert cluster.restored(
        {"a": [f"vcluster.{own}.orders", f"https://orders.{own}:443", f"{sql}_orders"]}, case
    ) == {
        "a": ["vcluster.team-orders.orders", "https://orders.team-orders:443", "team_orders_orders"]
    }
    assert cluster.restored(f"{own}x team-orders-db", case) == f"{own}x team-orders-db"


def _in_stand_ins(value: Any, case: Case) -> Any:
    """An object as the cluster holds it once composed for the case: namespaces in their
    places, and where a whole name (an endpoint's, a path's) the stand-ins."""
    return cluster.in_stand_ins(cluster.renamed(value, case), case)


def _required(doc: JSON, case: Case) -> JSON:
    """A required object as the case applies it (cluster.create_case): namespaces in their
    places, its status with the stand-ins."""
    out: JSON = cluster.renamed(doc, case)
    if "status" in doc:
        out["status"] = cluster.in_stand_ins(doc["status"], case)
    return out


def _stand_in_request(case: Case, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionRequest:
    """The case's request with the example's namespaces the case's stand-ins. An object
    named by a hash of its content (a Cluster API template holding the namespace) that the
    function composes for the example is observed under the name it gives it for the
    stand-in, as in a cluster."""
    xr = to_dict(req.observed.composite.resource)
    xr["metadata"]["namespace"] = cluster.namespace(case)
    xr["spec"] = cluster.renamed(xr["spec"], case)
    if "status" in xr:
        xr["status"] = cluster.in_stand_ins(xr["status"], case)
    step_input = to_dict(req.input)
    cluster.tenants_in_own_namespace(step_input["spec"], case)
    observed = {
        k: _in_stand_ins(to_dict(v.resource), case) for k, v in req.observed.resources.items()
    }
    details = {k: dict(v.connection_details) for k, v in req.observed.resources.items()}

    def build(
        observed: dict[str, JSON], details: dict[str, dict[str, bytes]]
    ) -> fnv1.RunFunctionRequest:
        return requests.build(
            xr,
            observed,
            {
                k: [_required(to_dict(i.resource), case) for i in v.items]
                for k, v in req.required_resources.items()
            },
            step_input,
            {k: dict(v.credential_data.data) for k, v in req.credentials.items()},
            connection_details=details,
        )

    # The function's name for the example's object, and for the stand-in's.
    was = {expected.hashless(k): k for k in run(req).desired.resources}
    now = {expected.hashless(k): k for k in run(build(observed, details)).desired.resources}

    def own(k: str) -> str:
        return now.get(expected.hashless(k), k) if was.get(expected.hashless(k)) == k else k

    return build({own(k): v for k, v in observed.items()}, {own(k): v for k, v in details.items()})


def _answered(case: Case, req: fnv1.RunFunctionRequest, docs: list[JSON]) -> JSON:
    """The desired state (resources and the XR's status) once what the function asks for is
    answered from docs, keyed by composition resource name less a content hash."""
    requests.answer_requirements(req, run(req).requirements, docs)
    rsp = run(req)
    return {
        "resources": {
            expected.hashless(k): to_dict(v.resource) for k, v in rsp.desired.resources.items()
        },
        "status": requests.status(rsp),
        "fatal": [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL],
    }


def _masked(value: Any) -> Any:
    """value with hash values and uids masked (expected.HASH, expected.UID)."""
    if isinstance(value, str):
        return expected.HASH.sub("<hash>", expected.UID.sub("<uid>", value))
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


@pytest.mark.parametrize("case", COMPOSING, ids=[c.id for c in COMPOSING])
def test_the_function_answers_a_stand_in_as_the_example(case: Case) -> None:
    """What cluster.restored relies on: the function's answer for the case's stand-in
    namespaces, mapped back, is its answer for the example's, but for hash values."""
    docs = case.optional_docs("required.yaml")
    want = _answered(case, requests.case_request(case), docs)
    have = _answered(
        case,
        _stand_in_request(case, requests.case_request(case)),
        [_required(d, case) for d in docs],
    )
    assert _masked(cluster.restored(have, case)) == _masked(want)


EARLIER = [c for c in CASES if cluster.has_earlier_state(c)]


def test_the_earlier_states_are_those_the_examples_name() -> None:
    assert sorted(c.id for c in EARLIER) == [
        "kubernetescluster/add-ons-kept",
        "vclusterenvironment/add-ons-kept",
    ]


def _reached(case: Case, required: list[JSON]) -> set[str]:
    """What the example's XR composes from fresh, each round's objects observed back with
    the status observed.yaml gives them (as the e2e's simulated providers write it), the
    function's requirements answered from required, until nothing new is composed."""
    step = requests.composition_step(case)
    credentials = requests.step_credentials(step, example_credentials(case.root))
    statuses = {
        k: v["status"] for k, v in requests.observed_resources(case).items() if "status" in v
    }
    observed: dict[str, JSON] = {}
    for _ in range(10):
        req = requests.build(
            load_yaml_docs(case.xr)[0], observed, {}, step.get("input"), credentials
        )
        requests.answer_requirements(req, run(req).requirements, required)
        rsp = run(req)
        assert not [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
        now = {
            k: {**v, **({"status": statuses[k]} if k in statuses else {})}
            for k, v in requests.desired(rsp).items()
        }
        if set(now) == set(observed):
            break
        observed = now
    return set(observed)


@pytest.mark.parametrize("case", EARLIER, ids=[c.id for c in EARLIER])
def test_the_earlier_state_composes_what_the_example_observed(case: Case) -> None:
    """From a fresh XR, with the earlier required resources, the function composes every
    object observed.yaml holds; with the example's own it does not (which is why the
    example needs its earlier state)."""
    observed = set(requests.observed_resources(case))
    assert observed <= _reached(case, cluster.earlier_required(case))
    assert not observed <= _reached(case, case.optional_docs("required.yaml"))


def test_a_secret_s_text_values_are_restored_too() -> None:
    """A connection Secret's host names the namespace inside base64: read as the example's;
    a value that is not text is left as it is."""
    (case,) = [c for c in CASES if c.id == "redisinstance/dev"]
    host = f"dev-redis-redis.{cluster.namespace(case)}.svc"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "dev-redis", "namespace": cluster.namespace(case)},
        "data": {"host": base64.b64encode(host.encode()).decode(), "raw": "/w=="},
    }
    out = expected.as_example(secret, case)
    assert out["metadata"]["namespace"] == "dev"
    assert base64.b64decode(out["data"]["host"]).decode() == "dev-redis-redis.dev.svc"
    assert out["data"]["raw"] == "/w=="
