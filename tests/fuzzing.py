"""Property-based fuzzing of the function, generated from the catalogue (tests/unit/test_fuzz.py).

Everything is derived from what a kind declares, so a kind added to the catalogue is
fuzzed without a line here: its parameters from its XRD schema (generate.schema.openapi,
the schema the API server admits), the function input from the generated input CRD,
observed state from what the function itself composed (and the kind's examples as
seeds), required resources from the requirements it returns.

Values are drawn valid for the schema, or broken on purpose (a wrong type, out of
bounds, against the pattern or the enum, too long, unknown, missing), and every field
broken on purpose is remembered: the oracle checks that the FATAL names each of them.
Secret material (credentials, Secret data) carries a marker, so the oracle can look
for it in the response and in the logs in every form it could take.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from function import catalogue
from function.kind import AnyKind
from function.refusal import PROBLEMS_MAX
from function.validation import SHOWN_MAX
from generate.crossplane import input_crd
from generate.schema import openapi
from harness.cases import JSON, find_cases, fold_string_data, load_yaml_docs
from harness.requests import RESOURCE_NAME

Draw = Callable[[st.SearchStrategy[Any]], Any]

# Text as the API server can hold it: any Unicode but lone surrogates (not UTF-8).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
SECRET_MARK = "Sx9"  # every secret value starts with it: short matches are no evidence
# Where the function may reach Vault in a fuzzed request: a closed local port, so a
# Vault step fails at once (connection refused) and never leaves the machine.
VAULT_ADDRESS = "http://127.0.0.1:9"
HUGE = 1_000_000  # characters of the occasional huge value


def chance(draw: Draw, n: int) -> bool:
    """True about once in n draws; False for Hypothesis' simplest draw (the common case)."""
    return bool(draw(st.integers(0, n - 1)) == n - 1)


@dataclass
class Drawn:
    """One drawn value and the paths broken on purpose in it."""

    value: Any
    bad: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- values from a schema


def _is_object(node: JSON) -> bool:
    return node.get("type") == "object" or "properties" in node


def _cached(build: Callable[[JSON], st.SearchStrategy[Any]]) -> Callable[[JSON], Any]:
    """build memoised by the node's content (strategies are built once per schema node)."""
    cache: dict[str, st.SearchStrategy[Any]] = {}

    def get(node: JSON) -> st.SearchStrategy[Any]:
        key = json.dumps(node, sort_keys=True)
        if key not in cache:
            cache[key] = build(node)
        return cache[key]

    return get


@_cached
def valid(node: JSON) -> st.SearchStrategy[Any]:
    """A value the schema node admits (CEL rules aside)."""
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "integer":
        return st.integers(node.get("minimum", -(2**31)), node.get("maximum", 2**31 - 1))
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        low, high = node.get("minLength", 0), node.get("maxLength", 64)
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True).filter(
                lambda s: low <= len(s) <= high and "\n" not in s
            )
        return TEXT.filter(lambda s: low <= len(s) <= high)
    if kind == "array":
        return st.lists(valid(node.get("items", {})), max_size=3)
    if _is_object(node):
        props = node.get("properties")
        if props is None:
            extra = node.get("additionalProperties")
            values = valid(extra) if isinstance(extra, dict) else st.just("x")
            default = node.get("default")
            if isinstance(default, dict) and default:
                # A map keyed by sizes, versions...: mostly the default's keys, new values.
                same_keys = st.fixed_dictionaries(dict.fromkeys(default, values))
                return st.one_of(same_keys, same_keys, st.dictionaries(TEXT, values, max_size=3))
            return st.dictionaries(TEXT.filter(bool), values, max_size=3)
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {k: valid(v) for k, v in props.items() if k in required},
            optional={k: valid(v) for k, v in props.items() if k not in required},
        )
    return st.just(None)


def _not_matching(pattern: str) -> st.SearchStrategy[str]:
    regex = re.compile(pattern)
    return TEXT.filter(lambda s: regex.search(s) is None)


@_cached
def invalid(node: JSON) -> st.SearchStrategy[Any]:
    """A value the schema node refuses, whatever the other fields are."""
    kind = node.get("type")
    wrong_types = {
        "integer": st.one_of(TEXT, st.booleans(), st.lists(st.integers(), max_size=2)),
        "boolean": st.one_of(TEXT, st.integers(), st.just([True])),
        "string": st.one_of(st.integers(), st.booleans(), st.lists(TEXT, max_size=2)),
        "object": st.one_of(TEXT, st.integers(), st.lists(TEXT, max_size=2)),
        "array": st.one_of(TEXT, st.integers(), st.just({"a": 1})),
    }
    options = [wrong_types.get("object" if _is_object(node) else str(kind), st.just(object))]
    if "enum" in node:
        options.append(
            (TEXT if kind == "string" else st.integers()).filter(lambda v: v not in node["enum"])
        )
    if kind == "integer":
        if "minimum" in node:
            options.append(st.integers(max_value=node["minimum"] - 1, min_value=-(10**15)))
        if "maximum" in node:
            options.append(st.integers(min_value=node["maximum"] + 1, max_value=10**15))
        options.append(st.floats(-1e6, 1e6).filter(lambda f: not f.is_integer()))
    if kind == "string" and "enum" not in node:
        if "pattern" in node:
            options.append(_not_matching(node["pattern"]))
            # Huge, and against the pattern: what a FATAL must not echo back whole.
            options.append(st.just("!" * HUGE))
        if "maxLength" in node:
            options.append(st.just("a" * (node["maxLength"] + 1)))
    return st.one_of(options)


def draw_object(draw: Draw, node: JSON, path: str, mutate: int) -> Drawn:
    """An object for the node; each field broken with probability about 1/mutate (0: never)."""
    props: dict[str, JSON] = node.get("properties", {})
    required = set(node.get("required", []))
    out = Drawn({})
    for name, sub in props.items():
        here = f"{path}.{name}"
        broken = mutate and chance(draw, mutate)
        if broken and name in required and chance(draw, 2):
            out.bad.append(here)  # left out although required
            continue
        if not broken and name not in required and not draw(st.booleans()):
            continue  # optional, left unset
        if broken and _is_object(sub) and "properties" in sub and draw(st.booleans()):
            inner = draw_object(draw, sub, here, mutate=1)
            out.value[name] = inner.value
            out.bad += inner.bad
        elif broken:
            out.value[name] = draw(invalid(sub))
            out.bad.append(here)
        elif _is_object(sub) and "properties" in sub:
            inner = draw_object(draw, sub, here, mutate=0)
            out.value[name] = inner.value
        else:
            out.value[name] = draw(valid(sub))
    if mutate and chance(draw, 3 * mutate):
        key = draw(TEXT.filter(lambda k: k and k not in props))
        out.value[key] = draw(st.one_of(TEXT, st.integers()))
        out.bad.append(f"{path}.{key}")
    return out


# ---------------------------------------------------------------- secrets


@dataclass
class Secrets:
    """Secret values put into a request, to look for where they must not be.

    mark starts each value drawn: credentials and Secret data get different ones, so a
    credential is never mistaken for a password that may go into a connection Secret.
    """

    mark: str = SECRET_MARK + "c"
    values: list[bytes] = field(default_factory=list)

    def draw(self, draw: Draw, text: bool = True) -> bytes:
        body: bytes = draw(
            st.text('abcdefghijklmnopqrstuvwxyz0123456789"\\/:@%+=', min_size=8, max_size=24).map(
                str.encode
            )
            if text
            else st.binary(min_size=8, max_size=24)
        )
        value = self.mark.encode() + body
        self.values.append(value)
        return value

    def add(self, value: str) -> None:
        if len(value) >= 8:
            self.values.append(value.encode())

    def found_in(self, text: str) -> list[str]:
        """Each secret value some form of which is in text (reported by its length only)."""
        return [
            f"a secret of {len(v)} bytes" for v in self.values if any(f in text for f in _forms(v))
        ]


def _forms(value: bytes) -> set[str]:
    """The ways a value could be written: raw, base64, escaped (JSON, Python), URL-encoded."""
    out = {base64.b64encode(value).decode(), repr(value)[2:-1]}
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return out
    return out | {text, json.dumps(text)[1:-1], quote(text, safe=""), repr(text)[1:-1]}


# ---------------------------------------------------------------- requests of one kind


@functools.cache
def _parameters_schema(model: type[Any]) -> JSON:
    return openapi(model)


def parameters_schema(kind: AnyKind) -> JSON:
    return _parameters_schema(kind.api.parameters)


@functools.cache
def input_schema() -> JSON:
    schema: JSON = input_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema["properties"]["spec"]


@dataclass(frozen=True)
class Seed:
    """An example of the kind: its XR, input and observed state (examples/<kind>/<case>/)."""

    xr: JSON
    settings: JSON | None
    observed: dict[str, JSON]


def seeds(kind: AnyKind) -> list[Seed]:
    """The kind's example cases (those whose XR is of this kind)."""
    return _seeds(kind.api.api_version, kind.api.kind)


@functools.cache
def _seeds(api_version: str, kind: str) -> list[Seed]:
    out = []
    for case in find_cases():
        if case.expects_error:
            continue  # a seed is an XR the function composes
        xr = load_yaml_docs(case.xr)[0]
        if (xr.get("apiVersion"), xr.get("kind")) != (api_version, kind):
            continue
        settings = case.optional_docs("input.yaml")
        observed = {
            d["metadata"]["annotations"][RESOURCE_NAME]: d
            for d in case.optional_docs("observed.yaml")
        }
        out.append(Seed(xr, settings[0] if settings else None, observed))
    return out


@dataclass
class Request:
    """What one fuzzed request is made of, and what the oracle must know about it."""

    xr: JSON
    settings: JSON | None
    credentials: dict[str, dict[str, bytes]]
    observed: dict[str, JSON]
    bad: list[str]  # paths broken on purpose: the FATAL must name each
    secrets: Secrets


_NAME = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
_LONG_NAME = st.from_regex(r"[a-z][a-z0-9]{40,60}(\.[a-z0-9]{1,20})?", fullmatch=True)


def _metadata(draw: Draw, mutate: bool, *, namespaced: bool) -> Drawn:
    name = draw(st.one_of(_NAME, _LONG_NAME))
    meta: JSON = {"name": name, "uid": f"uid-{name}"}
    if namespaced:  # a cluster-scoped XR has no namespace to break (the API server drops it)
        meta["namespace"] = draw(_NAME)
    if not mutate or not chance(draw, 6):
        return Drawn(meta)
    fields = ["metadata", "metadata.name", *(["metadata.namespace"] if namespaced else [])]
    broken = draw(st.sampled_from(fields))
    if broken == "metadata":
        return Drawn(draw(st.one_of(TEXT, st.integers(), st.lists(TEXT, max_size=2))), [broken])
    key = broken.split(".")[1]
    meta[key] = draw(st.one_of(st.just(""), st.integers(), TEXT.map(lambda s: "Not A Name " + s)))
    if meta[key] == "":
        del meta[key]
    return Drawn(meta, [broken])


def _settings(draw: Draw, kind: AnyKind, seed: Seed | None) -> Drawn:
    """The function input's spec: usually none or the seed's, sometimes drawn, sometimes broken.

    A drawn one sets the kind's own section and the platform's (other kinds' sections
    are theirs to fuzz).
    """
    choice = draw(st.integers(0, 9))
    if choice < 7:
        return Drawn(copy.deepcopy(seed.settings) if seed and seed.settings else None)
    schema = input_schema()
    others = {k.input_field for k in catalogue.kinds()} - {kind.input_field}
    own = {
        **schema,
        "properties": {k: v for k, v in schema["properties"].items() if k not in others},
    }
    drawn = draw_object(draw, own, "input.spec", mutate=0 if choice < 9 else 12)
    settings = drawn.value
    vault = settings.get("vault")
    fixed: set[str] = set()
    if isinstance(vault, dict):
        # Never a real address, never a file of this machine; either replaces a value
        # broken on purpose, which then is no longer bad.
        if "address" in vault:
            vault["address"] = VAULT_ADDRESS
            fixed.add("input.spec.vault.address")
        auth = vault.get("auth")
        if isinstance(auth, dict) and isinstance(auth.get("kubernetes"), dict):
            auth["kubernetes"]["tokenFile"] = "/nonexistent/token"
            fixed.add("input.spec.vault.auth.kubernetes.tokenFile")
    return Drawn(settings, [p for p in drawn.bad if p not in fixed])


def _credentials(draw: Draw, secrets: Secrets) -> dict[str, dict[str, bytes]]:
    platform: dict[str, bytes] = {}
    if not chance(draw, 10):
        platform["password-key"] = secrets.draw(draw, text=draw(st.booleans()))
    if draw(st.booleans()):
        platform["vault-address"] = draw(st.sampled_from([VAULT_ADDRESS.encode(), b"\xff\xfe"]))
    for key in ("vault-token", "vault-approle-secret-id", "vault-kubernetes-jwt"):
        if draw(st.booleans()):
            platform[key] = secrets.draw(draw, text=draw(st.integers(0, 3)) > 0)
    return {"platform": platform}


def _top_level(rest: str, value: JSON, schema: JSON) -> str:
    """The parameter a broken path is under (field names may hold dots: the longest match)."""
    names = set(value) | set(schema.get("properties", {}))
    return max((n for n in names if rest == n or rest.startswith(n + ".")), key=len, default=rest)


def draw_request(draw: Draw, kind: AnyKind) -> Request:
    """An XR of kind (valid or broken), its function input and step credentials."""
    kind_seeds = seeds(kind)
    seed = draw(st.sampled_from(kind_seeds)) if kind_seeds and draw(st.booleans()) else None
    mutate = chance(draw, 3)  # about a third of the XRs have broken fields
    schema = parameters_schema(kind)
    if seed is not None and isinstance(seed.xr.get("spec"), dict):
        params = Drawn(copy.deepcopy(seed.xr["spec"].get("parameters")))
        if mutate:  # break some fields of the example
            broken = draw_object(draw, schema, "spec.parameters", mutate=3)
            for path in broken.bad:
                key = _top_level(path.removeprefix("spec.parameters."), broken.value, schema)
                if key in broken.value:
                    params.value[key] = broken.value[key]
                else:
                    params.value.pop(key, None)
            params.bad = broken.bad
    else:
        params = draw_object(draw, schema, "spec.parameters", mutate=4 if mutate else 0)
    meta = _metadata(draw, mutate, namespaced=kind.api.scope == "Namespaced")
    xr: JSON = {
        "apiVersion": kind.api.api_version,
        "kind": kind.api.kind,
        "metadata": meta.value,
        "spec": {"parameters": params.value},
    }
    bad = meta.bad + params.bad
    if mutate and chance(draw, 10):
        xr["spec"] = draw(st.one_of(st.none(), TEXT, st.integers()))
        bad.append("spec")
    settings = _settings(draw, kind, seed)
    secrets = Secrets()
    return Request(
        xr=xr,
        settings=settings.value,
        credentials=_credentials(draw, secrets),
        observed=copy.deepcopy(seed.observed) if seed else {},
        bad=bad + settings.bad,
        secrets=secrets,
    )


# ---------------------------------------------------------------- observed state


_GARBAGE = st.one_of(
    st.none(),
    TEXT,
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(TEXT, max_size=2),
    st.just({"x": ["y"]}),
)
_STATUS = st.one_of(
    st.just(
        {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}]}
    ),
    st.just({"conditions": [{"type": "Synced", "status": "False"}]}),
    st.just(
        {"atProvider": {"state": "deployed"}, "conditions": [{"type": "Ready", "status": "True"}]}
    ),
    st.just({"ready": True, "conditions": [{"type": "Available", "status": "True"}]}),
    _GARBAGE,
    _GARBAGE.map(lambda g: {"conditions": g}),
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    obj[path[0]] = _replace(obj[path[0]], path[1:], value)
    return obj


# Keys of a composed Secret holding secrets (the others are host names, ports, ...).
_SECRET_KEYS = ("password", "uri", "url", "token", "secret", "key", "kubeconfig")


def observe(draw: Draw, desired: dict[str, JSON], secrets: Secrets) -> dict[str, JSON]:
    """desired as a cluster would show it back: statuses, Secrets folded; some garbage."""
    observed: dict[str, JSON] = {}
    for name, obj in desired.items():
        seen = fold_string_data(obj) if obj.get("kind") == "Secret" else copy.deepcopy(obj)
        for key, value in (obj.get("stringData") or {}).items():
            if any(word in key.lower() for word in _SECRET_KEYS):
                secrets.add(str(value))  # generated passwords: only ever in the Secret
        # Copies: a drawn constant (st.just) is one object shared by every example.
        seen["status"] = copy.deepcopy(draw(_STATUS))
        if chance(draw, 5):  # a status field of another shape than expected
            # Only status: a spec of another shape than its CRD's never gets past the API
            # server, and a kept object (never dropped) is sent back as observed.
            path = draw(st.sampled_from(_paths(seen["status"], ("status",))))
            seen = _replace(seen, path, copy.deepcopy(draw(_GARBAGE)))
        observed[name] = seen
    return observed


def secret_answer(draw: Draw, name: str, keys: Sequence[str], secrets: Secrets) -> JSON:
    """A Secret answering a requirement: data valid or not (binary, not base64, missing)."""
    data: dict[str, Any] = {}
    for key in keys:
        choice = draw(st.integers(0, 9))
        if choice == 9:
            continue
        if choice == 8:
            data[key] = draw(st.sampled_from(["!!not base64!!", 42]))
            continue
        data[key] = base64.b64encode(secrets.draw(draw, text=choice < 7)).decode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}


def kinds() -> list[AnyKind]:
    return list(catalogue.kinds())


def named_in(message: str, path: str) -> bool:
    """Whether a FATAL message names the path (as cut in messages: validation.SHOWN_MAX)."""
    head, _, last = path.rpartition(".")
    shown = f"{head}.{last[:SHOWN_MAX]}" if head else last[:SHOWN_MAX]
    return shown in message


__all__ = ["PROBLEMS_MAX", "Drawn", "Request", "Secrets", "draw_request", "kinds", "named_in"]
