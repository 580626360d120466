"""Every CEL transition rule (oldSelf) of the XRDs against the function's own judgement of the
same change.

The API server judges a change from the old XR to the new one; the function never sees the old
XR: it judges the new parameters against what it composed for the old ones, read back from the
observed resources. So for each transition rule, Hypothesis draws an example XR with the
field the rule judges set to an old value and then to a new one (the same, or another value
near it: the examples' values, the schema's enum or bounds, each number in them one off, a
value drawn from the schema, unset), and
- the API server's verdict is a real create of the old XR then a dry-run patch to the new one
  (harness/controlplane.py ControlPlane.start_core_alone: core makes the CRDs from the XRDs);
- the function's verdict: the old XR composed (the real request path, with the example's
  settings and required resources) until what it composes stops growing, each round's desired
  resources applied as the API server holds them (tests/fuzzing.py applied) with the example's
  observed status; then the new XR composed against that, refused or not naming the field.
The rule's message is named by the API server exactly when the function refuses naming the
field, but for the named, justified exceptions of EXCUSED. A draw whose old XR either side
refuses, or whose new XR the function refuses for another reason, judges nothing here.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from kubernetes.client.exceptions import ApiException

from function.kind import AnyKind
from function.kinds.kubernetescluster import addons as cluster_addons
from function.kinds.mlopsplatform import workloads as mlops
from function.kinds.vclusterenvironment import addons as vcluster_addons
from function.runner import run
from function.structs import JSON
from harness.cases import Case, example_credentials, find_cases
from harness.controlplane import ControlPlane
from harness.requests import (
    RESOURCE_NAME,
    answer_requirements,
    build,
    composition_step,
    connection_details,
    desired,
    status,
    step_credentials,
)
from tests.controlplane.core import NAMESPACE
from tests.controlplane.test_cel_agreement import composite, generated_schema, served_schema
from tests.fuzzing import applied, kinds, valid

# Draws per rule: a fixed budget, so that the file keeps within about two minutes.
EXAMPLES = 40
# Rounds of composing the old XR: enough for every stage a kind composes after another
# (a workload cluster's add-ons once its kubeconfig exists).
ROUNDS = 4
UNSET = "<unset>"  # a drawn field left out of the parameters
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class TransitionRule:
    """One x-kubernetes-validations rule reading oldSelf, and the field it judges."""

    kind: AnyKind
    field: tuple[str, ...]  # from spec.parameters
    node: JSON  # the field's schema
    required: bool  # required in its object: never drawn unset
    cel: str
    message: str

    @property
    def dotted(self) -> str:
        return ".".join(self.field)

    def __str__(self) -> str:
        return f"{self.kind.api.kind} spec.parameters.{self.dotted}: {self.cel}"


def transition_rules(kind: AnyKind, schema: JSON) -> list[TransitionRule]:
    """The kind's rules reading oldSelf: on a field, or on an object naming its fieldPath."""
    out: list[TransitionRule] = []

    def walk(node: JSON, path: tuple[str, ...], required: bool) -> None:
        for v in node.get("x-kubernetes-validations", []):
            if "oldSelf" not in v["rule"]:
                continue
            field, sub, req = path, node, required
            if "fieldPath" in v:
                name = v["fieldPath"].removeprefix(".")
                field, sub = (*path, name), node["properties"][name]
                req = name in node.get("required", [])
            out.append(TransitionRule(kind, field, sub, req, v["rule"], v["message"]))
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, (*path, name), name in node.get("required", []))

    walk(schema, (), True)
    return out


# ---------------------------------------------------------------- drawing the change


def cases(kind: AnyKind) -> list[Case]:
    """The kind's examples the function composes."""
    return [c for c in find_cases() if c.kind == kind.api.kind.lower() and not c.expects_error]


def _xr_of(case: Case) -> JSON:
    (xr, *_) = case.optional_docs("xr.yaml")
    return xr


def _parameters(case: Case) -> JSON:
    return copy.deepcopy(dict(_xr_of(case)["spec"].get("parameters") or {}))


def _at(params: JSON, field: tuple[str, ...]) -> Any:
    value: Any = params
    for step in field:
        value = value.get(step, UNSET) if isinstance(value, dict) else UNSET
    return value


def set_at(params: JSON, field: tuple[str, ...], value: Any) -> JSON:
    """A copy of params with the field set to value (UNSET: left out)."""
    out = copy.deepcopy(params)
    obj = out
    for step in field[:-1]:
        obj = obj.setdefault(step, {})
    if value == UNSET:
        obj.pop(field[-1], None)
    else:
        obj[field[-1]] = copy.deepcopy(value)
    return out


def _one_off(value: Any) -> list[Any]:
    """value with one of its numbers one off (in a string, an object's strings), each way."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value - 1, value + 1]
    if isinstance(value, str):
        return [
            value[: m.start()] + str(int(m.group()) + d) + value[m.end() :]
            for m in _DIGITS.finditer(value)
            for d in (-1, 1)
            if int(m.group()) + d >= 0
        ]
    if isinstance(value, dict):
        return [value | {k: v} for k in sorted(value) for v in _one_off(value[k])]
    return []


def candidates(rule: TransitionRule, examples: list[Case]) -> list[Any]:
    """Values near the rule for its field: the examples', the enum's or every set of a list's
    enum, the bounds and default, each one off, and unset."""
    node = rule.node
    found = [_at(_parameters(c), rule.field) for c in examples]
    values = [v for v in found if v != UNSET]
    values += list(node.get("enum", []))
    if "default" in node:
        values.append(node["default"])
    if node.get("type") == "integer":
        values += [node[b] for b in ("minimum", "maximum") if b in node]
    if node.get("type") == "boolean":
        values += [True, False]
    items = (node.get("items") or {}).get("enum")
    if node.get("type") == "array" and items:
        values += [list(s) for n in range(len(items) + 1) for s in itertools.combinations(items, n)]
    values += [near for v in list(values) for near in _one_off(v)]
    if not rule.required:
        values.append(UNSET)
    unique = {json.dumps(v, sort_keys=True): v for v in values}
    return [unique[k] for k in sorted(unique)]


# ---------------------------------------------------------------- the API server's verdict


_names = itertools.count()


def _causes(e: ApiException) -> list[str]:
    if e.status != 422:
        raise e
    return [c.get("message", "") for c in json.loads(e.body or "{}")["details"].get("causes", [])]


def api_verdict(
    plane: ControlPlane, rule: TransitionRule, old: JSON, new: JSON
) -> list[str] | None:
    """The API server's causes refusing the change from old to new ([]: accepted); None when
    it refuses the old XR itself."""
    res = plane.resource(rule.kind.api.api_version, rule.kind.api.kind)
    doc = composite(rule.kind, f"t{next(_names)}", old)
    namespace = NAMESPACE if res.namespaced else None
    try:
        res.create(body=doc, namespace=namespace)
    except ApiException as e:
        _causes(e)
        return None
    try:
        # A JSON patch of the whole parameters: no resourceVersion, so nothing core writes
        # to the XR meanwhile conflicts with it.
        res.patch(
            body=[{"op": "replace", "path": "/spec/parameters", "value": new}],
            name=doc["metadata"]["name"],
            namespace=namespace,
            content_type="application/json-patch+json",
            query_params=[("dryRun", "All")],
        )
    except ApiException as e:
        return _causes(e)
    finally:
        plane.delete(doc)
    return []


# ---------------------------------------------------------------- the function's verdict


@dataclass(frozen=True)
class Composed:
    """One answer of the function: the FATAL messages, the desired resources and status."""

    fatal: list[str]
    resources: dict[str, JSON]
    status: JSON


def compose(case: Case, xr: JSON, observed: dict[str, JSON]) -> Composed:
    """The function's answer to xr with these observed resources, the requirements it asks
    for answered from the example's required.yaml, as Crossplane does."""
    step = composition_step(case)
    docs = case.optional_docs("required.yaml")
    req = build(
        xr,
        observed,
        {},
        step.get("input"),
        step_credentials(step, example_credentials(case.root)),
        connection_details=connection_details(observed, docs),
    )
    for _ in range(ROUNDS):
        rsp = run(req)
        asked = set(rsp.requirements.resources)
        if asked <= set(req.required_resources):
            break
        answer_requirements(req, rsp.requirements, docs)
    fatal = [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    return Composed(fatal, desired(rsp), status(rsp))


def observed_after(case: Case, xr: JSON) -> tuple[dict[str, JSON], JSON] | None:
    """What the function composed for xr, as the API server holds it once applied, with the
    example's observed status of each; and the XR's status. None: the function refuses xr."""
    statuses = {
        d["metadata"]["annotations"][RESOURCE_NAME]: d["status"]
        for d in case.optional_docs("observed.yaml")
        if "status" in d
    }
    observed: dict[str, JSON] = {}
    xr_status: JSON = {}
    for _ in range(ROUNDS):
        answer = compose(case, xr | {"status": xr_status}, observed)
        if answer.fatal:
            return None
        before = set(observed)
        observed = {}
        for name, obj in sorted(answer.resources.items()):
            observed[name] = applied(name, obj, xr)
            if name in statuses:
                observed[name]["status"] = copy.deepcopy(statuses[name])
        xr_status = answer.status
        if set(observed) == before:
            break
    return observed, xr_status


# ---------------------------------------------------------------- what is not a disagreement


@dataclass(frozen=True)
class Change:
    """One drawn change and both verdicts on it."""

    old: JSON
    new: JSON
    observed: dict[str, JSON]  # what the function judged the new XR against
    composed: Composed  # the function's answer to the new XR
    api_refuses: bool
    function_refuses: bool


@dataclass(frozen=True)
class Excused:
    """A disagreement by design: which side refuses, why, and the draws it covers."""

    kind: str
    field: str
    refuses: str  # "API server" or "function": the side that refuses the change
    why: str
    covers: Callable[[TransitionRule, Change], bool]


def _not_composed(name: str) -> Callable[[TransitionRule, Change], bool]:
    """Nothing of that name was composed for the old XR: there is nothing to judge against."""
    return lambda rule, c: name not in c.observed


def _kept(*names: str) -> Callable[[TransitionRule, Change], bool]:
    """Every one of these composed for the old XR is still composed, its spec unchanged."""

    def covers(rule: TransitionRule, c: Change) -> bool:
        return all(
            c.composed.resources.get(n, {}).get("spec") == c.observed[n].get("spec")
            for n in names
            if n in c.observed
        )

    return covers


def _either(
    *covers: Callable[[TransitionRule, Change], bool],
) -> Callable[[TransitionRule, Change], bool]:
    return lambda rule, c: any(f(rule, c) for f in covers)


def _turned_off(section: str, default: bool, name: str) -> Callable[[TransitionRule, Change], bool]:
    """The new parameters turn the section off (enabled, else its default) and what it
    composed for the old XR is kept as it was."""
    kept = _kept(name)

    def covers(rule: TransitionRule, c: Change) -> bool:
        enabled = _at(c.new, (section, "enabled"))
        return (enabled is False or (enabled == UNSET and not default)) and kept(rule, c)

    return covers


def _old_is(value: Any, field: tuple[str, ...]) -> Callable[[TransitionRule, Change], bool]:
    """The old parameters have field at value (UNSET: left out)."""
    return lambda rule, c: _at(c.old, field) == value


# The CloudNativePG Cluster's composition resource name, as the examples' observed.yaml has it.
POSTGRESQL_CLUSTER = "cluster"

# Disagreements by design, each with the draws it covers; any other fails the test.
EXCUSED = [
    Excused(
        "PostgreSQLInstance",
        "cloneFrom",
        "API server",
        "a clone waiting for its source has no cluster yet: nothing was imported, so setting, "
        "removing or changing cloneFrom loses nothing",
        _not_composed(POSTGRESQL_CLUSTER),
    ),
    Excused(
        "PostgreSQLInstance",
        "restore",
        "API server",
        "no cluster composed yet: nothing was restored, so changing restore loses nothing",
        _not_composed(POSTGRESQL_CLUSTER),
    ),
    Excused(
        "KubernetesCluster",
        "networkPlugin",
        "API server",
        "the network plugin is installed once the cluster has a kubeconfig: before, there is no "
        "plugin that a second one would be installed next to",
        _not_composed(cluster_addons.CNI),
    ),
    Excused(
        "VClusterEnvironment",
        "addons",
        "API server",
        "an installed add-on left out of addons is kept, never uninstalled, rather than "
        "refused (function/kinds/vclusterenvironment/addons.py); one not installed yet is "
        "simply not installed",
        _kept(*vcluster_addons.RELEASES, *vcluster_addons.OBJECTS),
    ),
    Excused(
        "MLOpsPlatform",
        "objectStore.bucketName",
        "function",
        "a bucket composed under its derived name keeps it: naming another one later is a "
        "rename the function refuses, which the field's CEL rule cannot see, being evaluated "
        "only when the field is set before and after, and the derived name depending on the "
        "tenant's prefix setting",
        _old_is(UNSET, ("objectStore", "bucketName")),
    ),
    Excused(
        "MLOpsPlatform",
        "vectorDatabase.storageGB",
        "API server",
        "Qdrant off: no volume was composed (or the release is kept as it is), so nothing "
        "is resized",
        _either(
            _not_composed(mlops.VECTOR_DB), _turned_off("vectorDatabase", True, mlops.VECTOR_DB)
        ),
    ),
    Excused(
        "MLOpsPlatform",
        "vectorDatabase.replicas",
        "API server",
        "Qdrant off: no server was composed (or the release is kept as it is), so no shard is lost",
        _either(
            _not_composed(mlops.VECTOR_DB), _turned_off("vectorDatabase", True, mlops.VECTOR_DB)
        ),
    ),
    Excused(
        "MLOpsPlatform",
        "notebooks.workspaceGB",
        "API server",
        "notebooks off: no workspace claim was composed, or the one composed is kept as it is, "
        "so nothing shrinks",
        _either(_not_composed(mlops.WORKSPACE), _turned_off("notebooks", False, mlops.WORKSPACE)),
    ),
    Excused(
        "RedisInstance",
        "persistenceSizeGB",
        "API server",
        "persistence off: the release has no data volume, so there is no volume template to resize",
        _old_is(False, ("persistence",)),
    ),
]


def excused(rule: TransitionRule, change: Change) -> Excused | None:
    side = "API server" if change.api_refuses else "function"
    for e in EXCUSED:
        ours = (e.kind, e.field, e.refuses) == (rule.kind.api.kind, rule.dotted, side)
        if ours and e.covers(rule, change):
            return e
    return None


# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def served(core_plane: ControlPlane) -> dict[str, list[TransitionRule]]:
    return {k.api.kind: transition_rules(k, served_schema(core_plane, k)) for k in kinds()}


RULES = [
    (kind.api.kind, rule.field, rule.cel)
    for kind in kinds()
    for rule in transition_rules(kind, generated_schema(kind))
]


def test_every_transition_rule_is_drawn(served: dict[str, list[TransitionRule]]) -> None:
    """The served CRDs carry the XRDs' transition rules, each on the field it judges."""
    for kind in kinds():
        generated = transition_rules(kind, generated_schema(kind))
        # In the order of the served schema, whose properties are sorted by name.
        assert sorted((r.field, r.cel) for r in served[kind.api.kind]) == sorted(
            (r.field, r.cel) for r in generated
        )
    assert len(RULES) == 13, RULES


def test_every_exception_names_a_rule() -> None:
    rules = {(k, ".".join(f)) for k, f, _ in RULES}
    for e in EXCUSED:
        assert (e.kind, e.field) in rules, e
        assert e.refuses in ("API server", "function"), e


def _ids() -> list[str]:
    return [f"{k}-{'.'.join(f)}" for k, f, _ in RULES]


@pytest.mark.parametrize(("kind_name", "field", "cel"), RULES, ids=_ids())
def test_cel_and_function_agree_on_changes(
    served: dict[str, list[TransitionRule]],
    core_plane: ControlPlane,
    kind_name: str,
    field: tuple[str, ...],
    cel: str,
) -> None:
    (rule,) = [r for r in served[kind_name] if (r.field, r.cel) == (field, cel)]
    examples = cases(rule.kind)
    values = candidates(rule, examples)
    schema = served_schema(core_plane, rule.kind)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same draws on every run: a fixed set of changes per rule
        # The draw that fails is printed as drawn: shrinking it would cost a dozen more.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(st.data())
    def agree(data: st.DataObject) -> None:
        # Half the time an example that sets the field: what it composes is judged on it.
        setting = [c for c in examples if _at(_parameters(c), rule.field) != UNSET] or examples
        case = data.draw(st.sampled_from(setting) | st.sampled_from(examples), label="example")
        choices = st.one_of(st.sampled_from(values), valid(_schema_at(schema, rule.field)))
        old_value = data.draw(choices, label="old")
        new_value = data.draw(st.one_of(st.just(old_value), choices), label="new")
        xr = _xr_of(case)
        base = _parameters(case)
        old, new = set_at(base, rule.field, old_value), set_at(base, rule.field, new_value)
        causes = api_verdict(core_plane, rule, old, new)
        if causes is None:
            reject()  # the API server refuses the old XR: there is no change to judge
        before = observed_after(case, _with_parameters(xr, old))
        if before is None:
            reject()  # the function refuses the old XR
        observed, xr_status = before
        answer = compose(case, _with_parameters(xr, new) | {"status": xr_status}, observed)
        named = [m for m in answer.fatal if f"spec.parameters.{rule.dotted} cannot " in m]
        if answer.fatal and not named:
            reject()  # refused for another reason: the function does not judge the change
        api_refuses = any(c.endswith(rule.message) for c in causes)
        change = Change(old, new, observed, answer, api_refuses, bool(named))
        if api_refuses == change.function_refuses or excused(rule, change) is not None:
            judged.add(api_refuses)
            return
        raise AssertionError(
            f"rule: {rule}\nold: {json.dumps(old, sort_keys=True)}\n"
            f"new: {json.dumps(new, sort_keys=True)}\nexample: {case.id}\n"
            f"API server: {'refused' if api_refuses else 'accepted'}\n"
            + "\n".join(causes)
            + f"\nfunction: {'refused' if named else 'accepted'}\n"
            + "\n".join(answer.fatal)
        )

    judged: set[bool] = set()  # the API server's verdicts on the changes judged
    agree()
    # The rule met: a change it refuses and one it allows, each judged.
    assert judged == {True, False}, judged


def _schema_at(schema: JSON, field: tuple[str, ...]) -> JSON:
    node = schema
    for step in field:
        node = node["properties"][step]
    return node


def _with_parameters(xr: JSON, parameters: JSON) -> JSON:
    out = copy.deepcopy(xr)
    out["spec"] = dict(out.get("spec") or {}) | {"parameters": parameters}
    return out
