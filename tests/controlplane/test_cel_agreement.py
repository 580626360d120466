"""Every CEL rule of every kind's XRD against the function's own check of the same rule.

A real kube-apiserver holds the CRDs real Crossplane core makes from the XRDs (harness/
controlplane.py ControlPlane.start_core_alone). For each x-kubernetes-validations rule of a
kind's served CRD, Hypothesis draws spec.parameters near the rule's boundary (an example XR's
parameters with the fields the rule reads drawn from their XRD schema, the literals of its CEL
and each other's values), and the API server's verdict on a dry-run create must agree with the
function's:
- accepted by the API server exactly when parse_parameters accepts the whole object;
- each rule's message named by the API server exactly when the function names it, for every
  rule the function judges (it leaves out a rule reading a field already bad);
- for a Rule of the models, its Python `check` false exactly when the API server names it.
The function's own bounds the XRD cannot say (FUNCTION_ONLY) are left out of the verdict.
Transition rules (oldSelf) are drawn in test_cel_transitions.py: the function judges those
against what it observed, not against the old parameters.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, ValidationError

from function.kind import AnyKind
from function.model import Rule
from function.quantity import CORES_MAX_RULE, QUANTITY_MAX_RULE
from function.refusal import Refusal
from function.validation import parse_parameters
from harness.cases import JSON, load_yaml_docs
from harness.controlplane import ControlPlane
from harness.paths import ROOT
from tests.controlplane.core import NAMESPACE
from tests.fuzzing import Draw, kinds, seeds, valid

# Draws per rule: a fixed budget, so that the file keeps within about three minutes.
EXAMPLES = 100
ITEMS = "[]"  # a path step into every item of a list
_SELF_FIELD = re.compile(r"\bself\.([A-Za-z_][A-Za-z0-9_]*)")
_STRING_LITERAL = re.compile(r"'([^']*)'")
# Bounds the function checks and the XRD does not say (function/quantity.py): a draw refused
# for these alone counts as accepted.
FUNCTION_ONLY = (QUANTITY_MAX_RULE, CORES_MAX_RULE)
_INT_LITERAL = re.compile(r"(?<![\w.'])(\d+)(?![\w.'])")


@dataclass(frozen=True)
class CelRule:
    """One x-kubernetes-validations rule of a served CRD, under spec.parameters."""

    kind: AnyKind
    path: tuple[str, ...]  # from spec.parameters to the object the rule is on
    node: JSON  # that object's schema
    cel: str
    message: str
    python: Rule | None  # the model's Rule of the same CEL
    owner: type[BaseModel] | None  # the model listing it

    @property
    def transition(self) -> bool:
        return "oldSelf" in self.cel

    def __str__(self) -> str:
        where = ".".join(("spec.parameters", *self.path)).replace(".[]", "[]")
        return f"{self.kind.api.kind} {where}: {self.cel}"


# ---------------------------------------------------------------- the rules


def _models(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """model and every model its fields hold, at any depth."""
    seen: set[type[BaseModel]] = set()
    todo = [model]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        yield m
        for info in m.model_fields.values():
            todo += [t for t in _types(info.annotation) if issubclass(t, BaseModel)]


def _types(annotation: Any) -> Iterator[type]:
    if isinstance(annotation, type):
        yield annotation
    for arg in getattr(annotation, "__args__", ()):
        yield from _types(arg)


def _python_rules(kind: AnyKind) -> dict[str, tuple[Rule, type[BaseModel]]]:
    return {r.cel: (r, m) for m in _models(kind.api.parameters) for r in getattr(m, "rules", ())}


def served_schema(plane: ControlPlane, kind: AnyKind) -> JSON:
    """spec.parameters of the CRD core made for the kind's XRD, as the API server serves it."""
    crd = plane.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", kind.api.xrd_name)
    assert crd is not None, f"core made no CRD for {kind.api.xrd_name}"
    (version,) = crd["spec"]["versions"]
    node: JSON = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return dict(node["properties"]["parameters"])


def cel_rules(kind: AnyKind, schema: JSON) -> list[CelRule]:
    python = _python_rules(kind)
    out: list[CelRule] = []

    def walk(node: JSON, path: tuple[str, ...]) -> None:
        for v in node.get("x-kubernetes-validations", []):
            rule, owner = python.get(v["rule"], (None, None))
            out.append(CelRule(kind, path, node, v["rule"], v["message"], rule, owner))
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, (*path, name))
        if "items" in node:
            walk(node["items"], (*path, ITEMS))

    walk(schema, ())
    return out


# ---------------------------------------------------------------- drawing near a boundary


def _literals(cel: str) -> tuple[list[str], list[int]]:
    """The strings and integers a rule names (a number in a string, as quantity('8'), both)."""
    strings = set(_STRING_LITERAL.findall(cel))
    ints = [int(n) for n in _INT_LITERAL.findall(_STRING_LITERAL.sub("", cel))]
    ints += [int(s) for s in strings if s.isdigit()]
    near = {i + d for i in ints for d in (-1, 0, 1)}
    return sorted(strings | {str(i) for i in near if i > 0}), sorted(near)


def _near(node: JSON, strings: list[str], ints: list[int]) -> st.SearchStrategy[Any]:
    """A value for a field a rule reads: valid for its schema, or made of the rule's literals."""
    options = [valid(node)]
    kind = node.get("type")
    if kind == "string" and "enum" not in node and strings:
        options += [
            st.sampled_from(strings),
            st.builds(
                "{}{}{}".format,
                st.sampled_from(["", "/", "a", "/a", "1"]),
                st.sampled_from(strings),
                st.sampled_from(["", "/", "a", "1", "/a"]),
            ),
        ]
    if kind == "integer":
        low, high = node.get("minimum", -(2**31)), node.get("maximum", 2**31 - 1)
        inside = [i for i in ints if low <= i <= high]
        options += [st.sampled_from(inside)] if inside else []
        options += [st.sampled_from(sorted({low, min(low + 1, high), high}))]
    return st.one_of(options)


def _with_duplicate(draw: Draw, value: Any) -> Any:
    """A list with one of its items repeated, sometimes: rules about unique items meet both."""
    if isinstance(value, list) and value and draw(st.integers(0, 2)) == 0:
        return [*value, copy.deepcopy(draw(st.sampled_from(value)))]
    return value


def _tie(draw: Draw, obj: JSON, node: JSON, names: list[str]) -> None:
    """Sometimes one integer the rule reads set to another's value, or one off it."""
    props = node.get("properties") or {}
    ints = [n for n in names if isinstance(obj.get(n), int) and props[n].get("type") == "integer"]
    if len(ints) >= 2 and draw(st.booleans()):
        a, b = draw(st.permutations(ints))[:2]
        value = obj[b] + draw(st.sampled_from([-1, 0, 1]))
        if props[a].get("minimum", value) <= value <= props[a].get("maximum", value):
            obj[a] = value


def draw_object(draw: Draw, rule: CelRule, value: Any) -> Any:
    """value with the fields rule reads drawn (an optional one sometimes left unset); for a
    rule on a field that is not an object, a new value of the field."""
    strings, ints = _literals(rule.cel)
    if "properties" not in rule.node:
        return draw(_near(rule.node, strings, ints))
    props = rule.node["properties"]
    required = set(rule.node.get("required", []))
    names = sorted({n for n in _SELF_FIELD.findall(rule.cel) if n in props})
    obj = dict(value) if isinstance(value, dict) else {}
    for name in names:
        if name not in required and draw(st.integers(0, 3)) == 0:
            obj.pop(name, None)
        else:
            obj[name] = _with_duplicate(draw, draw(_near(props[name], strings, ints)))
    _tie(draw, obj, rule.node, names)
    return obj


def draw_at(draw: Draw, schema: JSON, value: Any, path: tuple[str, ...], leaf: Any) -> Any:
    """value with leaf(draw, obj) applied at path (to every item of a list step); what is
    missing on the way is drawn from the schema."""
    if not path:
        return leaf(draw, value)
    step, rest = path[0], path[1:]
    if step == ITEMS:
        items = value if isinstance(value, list) and value else [draw(valid(schema["items"]))]
        return [draw_at(draw, schema["items"], i, rest, leaf) for i in items]
    out = dict(value) if isinstance(value, dict) else {}
    sub = schema["properties"][step]
    out[step] = draw_at(draw, sub, out.get(step, {} if "properties" in sub else None), rest, leaf)
    return out


def base_parameters(draw: Draw, kind: AnyKind) -> JSON:
    """spec.parameters of one of the kind's example XRs the function composes."""
    xr = draw(st.sampled_from([s.xr for s in seeds(kind)]))
    return copy.deepcopy(dict(xr["spec"].get("parameters") or {}))


# ---------------------------------------------------------------- the verdicts


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    named: frozenset[str]  # the rule messages named
    text: str


def composite(kind: AnyKind, name: str, parameters: JSON) -> JSON:
    """An XR of kind with these parameters, in NAMESPACE when the kind is namespaced."""
    meta = {"name": name} | ({"namespace": NAMESPACE} if kind.api.scope == "Namespaced" else {})
    return {
        "apiVersion": kind.api.api_version,
        "kind": kind.api.kind,
        "metadata": meta,
        "spec": {"parameters": parameters},
    }


def _api_verdict(call: Any, messages: list[str]) -> Verdict:
    try:
        call()
    except ApiException as e:
        if e.status != 422:
            raise
        causes = [c.get("message", "") for c in json.loads(e.body)["details"].get("causes", [])]
        named = frozenset(m for m in messages if any(c.endswith(m) for c in causes))
        return Verdict(False, named, "\n".join(causes))
    return Verdict(True, frozenset(), "")


def api_create(plane: ControlPlane, kind: AnyKind, params: JSON, messages: list[str]) -> Verdict:
    """The API server's verdict on a dry-run create of an XR with these parameters."""
    res = plane.resource(kind.api.api_version, kind.api.kind)
    doc = composite(kind, "draw", params)
    namespace = NAMESPACE if res.namespaced else None
    return _api_verdict(
        lambda: res.create(body=doc, namespace=namespace, query_params=[("dryRun", "All")]),
        messages,
    )


def _named_in(problem: str, message: str) -> bool:
    """Whether one line of a Refusal names the rule: `<path>: <rule>[; <rule>] (got ...)`."""
    return any(f"{a}{message}{b}" in problem for a in (": ", "; ") for b in (" (got", ";"))


def python_verdict(kind: AnyKind, params: JSON, messages: list[str]) -> Verdict:
    """parse_parameters' verdict on the parameters, its bounds of FUNCTION_ONLY aside."""
    try:
        parse_parameters(kind.api.parameters, copy.deepcopy(params))
    except Refusal as refusal:
        problems = [p for p in refusal.problems if not any(f in p for f in FUNCTION_ONLY)]
        if not problems:
            return Verdict(True, frozenset(), "\n".join(refusal.problems))
        named = frozenset(m for m in messages if any(_named_in(p, m) for p in problems))
        return Verdict(False, named, "\n".join(problems))
    return Verdict(True, frozenset(), "")


def _errors(kind: AnyKind, params: JSON) -> list[tuple[tuple[str, ...], str]]:
    """(path, pydantic error type) of what the model refuses, list indices as ITEMS."""
    try:
        kind.api.parameters.model_validate(params)
    except ValidationError as e:
        return [
            (tuple(ITEMS if isinstance(p, int) else str(p) for p in err["loc"]), err["type"])
            for err in e.errors()
        ]
    return []


def judged(rule: CelRule, errors: list[tuple[tuple[str, ...], str]]) -> bool:
    """Whether the function judges the rule: parse_parameters leaves out a rule of the
    parameters reading a field already bad, and pydantic a model's rules when one of its
    fields is bad (or the field's own rule, when its value is of another type or pattern)."""
    if not rule.path:
        own = {rule.python.field} if rule.python and rule.python.field else set()
        reads = own | set(_SELF_FIELD.findall(rule.cel))
        return not any(loc and loc[0] in reads for loc, _ in errors)
    n = len(rule.path)
    return not any(
        loc[:n] == rule.path and (len(loc) > n or kind != "value_error") for loc, kind in errors
    )


def check_says_broken(rule: CelRule, params: JSON) -> bool | None:
    """Whether the Rule's Python check finds params broken (None: it cannot be asked, the
    model refusing the fields it reads)."""
    assert rule.python is not None
    assert rule.owner is not None
    if not rule.path:
        try:
            parsed = rule.owner.model_validate(params)
        except ValidationError:
            return None
        return not rule.python.check(parsed)
    objects = _objects_at(params, rule.path)
    return any(not rule.python.check(rule.owner.model_construct(**o)) for o in objects)


def _objects_at(value: Any, path: tuple[str, ...]) -> list[JSON]:
    if not path:
        return [value] if isinstance(value, dict) else []
    if path[0] == ITEMS:
        return [o for v in (value or []) for o in _objects_at(v, path[1:])]
    return _objects_at(value.get(path[0]) if isinstance(value, dict) else None, path[1:])


def disagreement(rule: CelRule, rules: list[CelRule], params: JSON, api: Verdict) -> str | None:
    """What the function says otherwise than the API server on params, if anything."""
    py = python_verdict(rule.kind, params, [r.message for r in rules])
    errors = _errors(rule.kind, params)
    problems = []
    # A field past a bound of FUNCTION_ONLY is bad for the function, which then leaves out
    # the rules reading it: the API server may refuse for those alone.
    unjudged = [r.message for r in rules if not judged(r, errors)]
    explained = py.accepted and all(
        any(c.endswith(m) for m in unjudged) for c in api.text.splitlines()
    )
    if api.accepted != py.accepted and not explained:
        problems.append("accepted by one side only")
    for other in rules:
        if other.transition or not judged(other, errors):
            continue
        if (other.message in api.named) != (other.message in py.named):
            problems.append(f"named by one side only: {other.message}")
    if rule.python is not None and judged(rule, errors):
        broken = check_says_broken(rule, params)
        if broken is not None and broken != (rule.message in api.named):
            problems.append(f"Rule.check says broken={broken}")
    if not problems:
        return None
    return (
        f"rule: {rule}\nparameters: {json.dumps(params, sort_keys=True)}\n"
        f"API server: {'accepted' if api.accepted else 'refused'}\n{api.text}\n"
        f"function: {'accepted' if py.accepted else 'refused'}\n{py.text}\n" + "\n".join(problems)
    )


# ---------------------------------------------------------------- the control plane


@pytest.fixture(scope="module")
def served(core_plane: ControlPlane) -> dict[str, tuple[JSON, list[CelRule]]]:
    """Per kind: its served parameters schema and its rules."""
    out = {}
    for kind in kinds():
        schema = served_schema(core_plane, kind)
        out[kind.api.kind] = (schema, cel_rules(kind, schema))
    return out


def generated_schema(kind: AnyKind) -> JSON:
    """spec.parameters of the kind's generated XRD (what core is given)."""
    (xrd,) = load_yaml_docs(ROOT / "xrds" / f"{kind.api.xrd_name}.yaml")
    (version,) = xrd["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return dict(spec["properties"]["parameters"])


def generated_rules(kind: AnyKind) -> list[CelRule]:
    """The kind's rules as the generated XRD (what core is given) has them."""
    return cel_rules(kind, generated_schema(kind))


# (kind, path, CEL) of every rule but transitions.
RULES = [
    (kind.api.kind, rule.path, rule.cel)
    for kind in kinds()
    for rule in generated_rules(kind)
    if not rule.transition
]


def test_core_serves_every_rule(served: dict[str, tuple[JSON, list[CelRule]]]) -> None:
    """The CRDs core made carry the XRDs' rules, each on its object, and each rule on an
    object is a Rule of the model of that object (a field's own rule is a transition or a
    bound the function checks with a validator of its own)."""
    for kind in kinds():
        _, rules = served[kind.api.kind]
        # In the order of the served schema, whose properties are sorted by name.
        served_rules = sorted((r.path, r.cel) for r in rules)
        assert served_rules == sorted((r.path, r.cel) for r in generated_rules(kind))
        for rule in rules:
            field_rule = "properties" not in rule.node
            assert rule.python is not None or rule.transition or field_rule, str(rule)


@pytest.mark.parametrize(
    ("kind_name", "path", "cel"),
    RULES,
    ids=[f"{k}-{'.'.join(('parameters', *p))}-{i}" for i, (k, p, _) in enumerate(RULES)],
)
def test_cel_and_python_agree(
    served: dict[str, tuple[JSON, list[CelRule]]],
    core_plane: ControlPlane,
    kind_name: str,
    path: tuple[str, ...],
    cel: str,
) -> None:
    schema, rules = served[kind_name]
    (rule,) = [r for r in rules if (r.path, r.cel) == (path, cel)]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(st.data())
    def agree(data: st.DataObject) -> None:
        params = draw_at(
            data.draw,
            schema,
            base_parameters(data.draw, rule.kind),
            rule.path,
            lambda draw, obj: draw_object(draw, rule, obj),
        )
        messages = [r.message for r in rules if not r.transition]
        api = api_create(core_plane, rule.kind, params, messages)
        found = disagreement(rule, [r for r in rules if not r.transition], params, api)
        assert found is None, found

    agree()
