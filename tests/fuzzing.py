"""Property-based fuzzing of the function, generated from the catalogue (tests/unit/test_fuzz.py).

Everything is derived from what a kind declares, so a kind added to the catalogue is
fuzzed without a line here: its parameters from its XRD schema (generate.schema.openapi,
the schema the API server admits), the function input from the generated input CRD,
observed state from what the function itself composed (and the kind's examples as
seeds) as the API server holds it, its statuses from the upstream CRDs the kind
declares (Kind.crds) or written by hand, required resources from the requirements it
returns.

Values are drawn valid for the schema, or broken on purpose (a wrong type, out of
bounds, against the pattern or the enum, too long, too many or too few items, unknown,
missing), and every field broken on purpose is remembered: the oracle checks that the
FATAL names each of them. Observed statuses are valid for their CRD's schema or broken
at one place; they are never remembered: whatever they are, nothing may raise.
Secret material (credentials, Secret data) carries a marker, so the oracle can look
for it in the response and in the logs in every form it could take.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from function import catalogue
from function.formats import DNS_1123_SUBDOMAIN
from function.hostname import HOSTNAME_PATTERN
from function.kind import AnyKind
from function.quantity import QUANTITY_PATTERN
from function.refusal import PROBLEMS_MAX
from function.validation import SHOWN_MAX
from generate.crossplane import input_crd
from generate.schema import openapi
from harness.cases import JSON, find_cases, fold_string_data, load_yaml_docs
from harness.crdschema import crd_schemas
from harness.paths import shared_dir
from harness.requests import RESOURCE_NAME

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _import_every_module() -> None:
    """Import every module of the project's packages now, whatever the tests will use.

    Hypothesis draws some values from constants in the source of the project's imported
    modules (hypothesis.internal.conjecture.providers, local constants), so a module
    first imported by an earlier example or kind (the catalogue's lazy imports, the Vault
    client) would change the later draws: a seed would then replay differently alone
    than in the whole suite.
    """
    for top in ("function", "harness", "generate"):
        package = importlib.import_module(top)
        for module in pkgutil.walk_packages(package.__path__, f"{top}."):
            if not module.name.endswith(".__main__"):
                importlib.import_module(module.name)


_import_every_module()

# Text as the API server can hold it: any Unicode but lone surrogates (not UTF-8).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
SECRET_MARK = "Sx9"  # every secret value starts with it: short matches are no evidence
# Where the function may reach Vault in a fuzzed request: a closed local port, so a
# Vault step fails at once (connection refused) and never leaves the machine.
VAULT_ADDRESS = "http://127.0.0.1:9"
HUGE = 1_000_000  # characters of the occasional huge value
EVERYDAY_QUANTITY = st.builds(
    "{}{}".format, st.integers(1, 64), st.sampled_from(["", "", "m", "Mi", "Gi"])
)


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
    """build memoised by the node's content (strategies are built once per schema node);
    a node seen before is found by identity (it is kept, so its id is not reused)."""
    cache: dict[str, st.SearchStrategy[Any]] = {}
    seen: dict[int, tuple[JSON, st.SearchStrategy[Any]]] = {}

    def get(node: JSON) -> st.SearchStrategy[Any]:
        hit = seen.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        key = json.dumps(node, sort_keys=True)
        if key not in cache:
            cache[key] = build(node)
        seen[id(node)] = (node, cache[key])
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
    if kind == "number":
        return st.floats(
            node.get("minimum"), node.get("maximum"), allow_nan=False, allow_infinity=False
        )
    if kind == "string":
        low, high = node.get("minLength", 0), node.get("maxLength", 64)
        if "pattern" in node:
            matching = st.from_regex(node["pattern"], fullmatch=True).filter(
                lambda s: low <= len(s) <= high and "\n" not in s
            )
            # The quantity pattern alone admits numbers past what a quantity holds (2^63-1)
            # or a machine's cores (int32), which the function refuses, naming the field:
            # half the draws are of an everyday size, so that most XRs get composed.
            return (
                st.one_of(EVERYDAY_QUANTITY, matching)
                if node["pattern"] == QUANTITY_PATTERN
                else matching
            )
        return TEXT.filter(lambda s: low <= len(s) <= high)
    if kind == "array":
        low = node.get("minItems", 0)
        high = max(low, min(node.get("maxItems", 3), 3))
        unique = node.get("x-kubernetes-list-type") == "set" or node.get("uniqueItems")
        return st.lists(
            valid(node.get("items", {})),
            min_size=low,
            max_size=high,
            unique_by=(lambda v: json.dumps(v, sort_keys=True)) if unique else None,
        )
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


# What \s, \d and \w stand for in the regular expression engines a pattern meets: Go's
# RE2 (the API server checks the XRD's patterns; ASCII classes) and Rust's regex (pydantic
# checks the function's; \s is Unicode White_Space, without Python's \x1c-\x1f).
_CLASSES = {
    "re2": {"s": "\\t\\n\\f\\r ", "d": "0-9", "w": "0-9A-Za-z_"},
    "rust": {
        "s": "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    },
}


def _spelled(pattern: str, classes: dict[str, str]) -> str:
    r"""pattern with its \s, \d, \w (and \S, \D, \W outside brackets) spelt out."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            chars = classes.get(escaped.lower())
            if chars is None or (in_class and escaped.isupper()):
                out.append(pattern[i : i + 2])
            elif in_class:
                out.append(chars)
            else:
                out.append(f"[{'^' if escaped.isupper() else ''}{chars}]")
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def _not_matching(pattern: str) -> st.SearchStrategy[str]:
    """Text the pattern refuses in every engine it meets (Python's, RE2, Rust's)."""
    engines = [re.compile(pattern)] + [re.compile(_spelled(pattern, c)) for c in _CLASSES.values()]
    return TEXT.filter(lambda s: all(e.search(s) is None for e in engines))


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
        "number": st.one_of(TEXT, st.booleans(), st.lists(st.integers(), max_size=2)),
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
    if kind == "array":  # one item too few or too many (when that many is cheap to draw)
        items = valid(node.get("items", {}))
        for size in (node.get("minItems", 0) - 1, node.get("maxItems", -2) + 1):
            if 0 <= size <= 65:
                options.append(st.lists(items, min_size=size, max_size=size))
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


# Keys of a composed Secret holding secrets (the others are host names, ports, ...). A URI
# is not one: it holds no secret but a password, which the Secret holds under its own key.
_SECRET_KEYS = ("password", "token", "secret", "key", "kubeconfig")


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

    def add_composed(self, obj: JSON) -> None:
        """The secrets a composed Secret holds (generated passwords: only ever in it)."""
        for key, value in (obj.get("stringData") or {}).items():
            if any(word in key.lower() for word in _SECRET_KEYS):
                self.add(str(value))

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


_LABEL_1035 = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
_NAME = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
_LONG_NAME = st.from_regex(r"[a-z][a-z0-9]{40,60}(\.[a-z0-9]{1,20})?", fullmatch=True)
# What the API server writes into every object it holds (RFC 3339, seconds, UTC).
TIMESTAMP = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
)


def _name(draw: Draw) -> str:
    """An XR name: mostly a DNS-1035 label, which every kind accepts; else any DNS-1123 label
    or a long subdomain, which the kinds naming Services or namespaces after the XR refuse."""
    shape = draw(st.integers(0, 5))
    return str(draw(_LABEL_1035 if shape < 3 else _NAME if shape < 5 else _LONG_NAME))


def _metadata(draw: Draw, mutate: bool, *, namespaced: bool) -> Drawn:
    name = _name(draw)
    meta: JSON = {"name": name, "uid": f"uid-{name}", "creationTimestamp": draw(TIMESTAMP)}
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


_HOST = re.compile(HOSTNAME_PATTERN)
_SUBDOMAIN = re.compile(DNS_1123_SUBDOMAIN)
_TEAM_PROJECT = "fuzz-team"


def _with_tenant(settings: Any, xr: JSON) -> Any:
    """settings with a tenant first in `tenancy` for the XR's namespace allowing what the XR
    names (its hosts, its issuer) and giving it an Argo CD project, as a platform engineer
    sets up a team: without one the defaults allow no host, and an XR drawn in a namespace
    of its own would be refused before anything else is tried. Left as it is when the
    settings or the XR are not of the shape a tenant is made from."""
    meta = xr.get("metadata")
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    params = (xr.get("spec") or {}).get("parameters") if isinstance(xr.get("spec"), dict) else None
    if not isinstance(namespace, str) or not namespace or not isinstance(params, dict):
        return settings
    if settings is not None and not isinstance(settings, dict):
        return settings
    out = copy.deepcopy(settings) if settings else {}
    tenancy = out.setdefault("tenancy", {})
    if not isinstance(tenancy, dict) or not isinstance(tenancy.get("tenants", []), list):
        return settings
    hosts = params.get("hosts")
    tenant: JSON = {
        "namespaces": [namespace],
        "hosts": sorted(
            {h for h in hosts if isinstance(h, str) and len(h) <= 253 and _HOST.fullmatch(h)}
        )
        if isinstance(hosts, list)
        else [],
        "argocdProject": _TEAM_PROJECT,
    }
    issuer = (
        (params.get("tls") or {}).get("issuerRef") if isinstance(params.get("tls"), dict) else None
    )
    name = issuer.get("name") if isinstance(issuer, dict) else None
    if isinstance(issuer, dict) and isinstance(name, str) and _SUBDOMAIN.fullmatch(name):
        tenant["issuers"] = [{k: issuer[k] for k in ("kind", "name") if k in issuer}]
    tenancy["tenants"] = [tenant, *tenancy.get("tenants", [])]
    return out


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
    seed_namespace = (seed.xr.get("metadata") or {}).get("namespace") if seed else None
    if seed_namespace and not meta.bad:
        # The example's own namespace, which its input's tenancy rules are for.
        meta.value["namespace"] = seed_namespace
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
    if not settings.bad and not chance(draw, 4):
        settings.value = _with_tenant(settings.value, xr)
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
# Statuses written by hand: what the providers and controllers say when things go well or
# not, in the shapes the readiness rules read.
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

# Statuses drawn from the upstream CRDs' status schemas (the kind's Kind.crds): valid for
# the schema (CEL rules aside) or with one field broken. Sparse: each object gets its
# required fields and a few optional ones, so a large status stays small.
_OPTIONAL_MAX = 4
_ITEMS_MAX = 2
# Values a condition's type and status mostly take, so readiness rules meet them.
_HINTS: dict[str, tuple[str, ...]] = {
    "type": (
        "Ready",
        "Synced",
        "Available",
        "Accepted",
        "ResolvedRefs",
        "Programmed",
        "Succeeded",
        "Running",
        "Failed",
    ),
    "status": ("True", "False", "Unknown"),
}
_INT_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _crd_string(node: JSON) -> st.SearchStrategy[Any]:
    low, high = node.get("minLength", 0), min(node.get("maxLength", 64), 256)
    if node.get("format") == "date-time":
        return TIMESTAMP
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error:
            pattern = None
    if pattern:
        return st.from_regex(pattern, fullmatch=True).filter(
            lambda s: low <= len(s) <= high and "\n" not in s
        )
    return TEXT.filter(lambda s: low <= len(s) <= high)


def _admits(node: JSON, text: str) -> bool:
    """Whether a string node without an enum admits text (its pattern searched, as OpenAPI)."""
    if node.get("type") != "string" or "enum" in node or len(text) > node.get("maxLength", 64):
        return False
    try:
        return re.search(node.get("pattern", ""), text) is not None
    except re.error:
        return False


def _crd_object(node: JSON) -> st.SearchStrategy[Any]:
    props: dict[str, JSON] = node.get("properties") or {}
    if not props:
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return st.dictionaries(TEXT.filter(bool), crd_valid(extra), max_size=_ITEMS_MAX)
        return st.builds(dict)  # x-kubernetes-preserve-unknown-fields alone: anything goes
    required = [k for k in props if k in node.get("required", [])]
    optional = [k for k in props if k not in required]

    def value(key: str) -> st.SearchStrategy[Any]:
        sub = props[key]
        hints = [h for h in _HINTS.get(key, ()) if _admits(sub, h)]
        return st.one_of(st.sampled_from(hints), crd_valid(sub)) if hints else crd_valid(sub)

    def build(keys: list[str]) -> st.SearchStrategy[Any]:
        return st.fixed_dictionaries({k: value(k) for k in [*required, *keys]})

    if not optional:
        return build([])
    subsets = st.lists(st.sampled_from(optional), max_size=_OPTIONAL_MAX, unique=True)
    return subsets.flatmap(build)


@_cached
def crd_valid(node: JSON) -> st.SearchStrategy[Any]:
    """A value a CRD's structural schema node admits (CEL rules and formats but date-time
    aside): types, enums, bounds, patterns, list-map keys and sets unique."""
    if node.get("x-kubernetes-int-or-string"):
        return st.one_of(st.integers(0, 2**31 - 1), st.integers(0, 100).map(lambda n: f"{n}%"))
    if "enum" in node:
        out: st.SearchStrategy[Any] = st.sampled_from(node["enum"])
    elif node.get("type") == "integer":
        low, high = _INT_FORMATS.get(node.get("format", ""), _INT_FORMATS["int32"])
        out = st.integers(node.get("minimum", low), node.get("maximum", high))
    elif node.get("type") == "number":
        out = st.floats(
            node.get("minimum"), node.get("maximum"), allow_nan=False, allow_infinity=False
        )
    elif node.get("type") == "boolean":
        out = st.booleans()
    elif node.get("type") == "string":
        out = _crd_string(node)
    elif node.get("type") == "array":
        items = node.get("items") or {}
        keys = node.get("x-kubernetes-list-map-keys")
        size = {
            "min_size": node.get("minItems", 0),
            "max_size": max(
                node.get("minItems", 0), min(node.get("maxItems", _ITEMS_MAX), _ITEMS_MAX)
            ),
        }
        if keys:
            out = st.lists(
                crd_valid(items),
                unique_by=lambda i: tuple(json.dumps(i.get(k)) for k in keys),
                **size,
            )
        elif node.get("x-kubernetes-list-type") == "set":
            out = st.lists(
                crd_valid(items), unique_by=lambda i: json.dumps(i, sort_keys=True), **size
            )
        else:
            out = st.lists(crd_valid(items), **size)
    elif _is_object(node) or node.get("x-kubernetes-preserve-unknown-fields"):
        out = _crd_object(node)
    elif node.get("anyOf") or node.get("oneOf"):
        out = st.one_of([crd_valid(alt) for alt in node.get("anyOf") or node["oneOf"]])
    else:
        out = st.builds(dict)
    return st.one_of(st.none(), out) if node.get("nullable") else out


def _schema_at(node: JSON, path: tuple[Any, ...]) -> JSON | None:
    """The schema node of the value at path (a drawn value's keys and indexes)."""
    for part in path:
        if isinstance(part, int):
            node = node.get("items") or {}
        elif part in (node.get("properties") or {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node


def crd_broken(draw: Draw, node: JSON) -> Any:
    """A value valid for node but at one place: a value the schema refuses there, or a
    required field left out."""
    value = copy.deepcopy(draw(crd_valid(node)))  # changed below: never a drawn object itself
    path = draw(st.sampled_from(_paths(value)))
    sub = _schema_at(node, path)
    if path and isinstance(path[-1], str) and sub is not None and draw(st.booleans()):
        parent = _get(value, path[:-1])
        parent.pop(path[-1])  # left out: the field may be required
        return value
    typed = sub is not None and sub.get("type") in (
        "integer",
        "boolean",
        "string",
        "object",
        "array",
    )
    bad = draw(invalid(sub)) if typed and sub is not None else draw(_GARBAGE)
    return _replace(value, path, copy.deepcopy(bad))


@functools.cache
def _status_schemas(shared: Path, crds: tuple[str, ...]) -> dict[tuple[str, str], JSON]:
    out: dict[tuple[str, str], JSON] = {}
    for path in crds:
        for (group, version, kind), schema in crd_schemas(shared / path).items():
            status = (schema.get("properties") or {}).get("status")
            if isinstance(status, dict):
                out[(f"{group}/{version}", kind)] = status
    return out


def status_schemas(kind: AnyKind) -> dict[tuple[str, str], JSON]:
    """(apiVersion, kind) -> status schema, of every CRD version the kind declares."""
    return _status_schemas(shared_dir(), kind.crds)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    obj[path[0]] = _replace(obj[path[0]], path[1:], value)
    return obj


# k8s.io/apimachinery/pkg/util/rand: the characters of a generated name's suffix.
_NAME_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def applied(name: str, desired: JSON, xr: JSON) -> JSON:
    """A composed object as the API server holds it once Crossplane has applied it.

    A Secret's stringData is folded into data; an object without a name gets one
    (Crossplane's generateName <XR name>-, the API server's 5-character suffix, the
    prefix cut to 58: apimachinery's maxGeneratedNameLength); Crossplane's
    composition-resource-name annotation; the API server's uid, resourceVersion,
    generation and creationTimestamp. No status: that is what the cluster adds.
    """
    obj = fold_string_data(desired) if desired.get("kind") == "Secret" else copy.deepcopy(desired)
    obj.pop("status", None)
    meta = obj.setdefault("metadata", {})
    if not meta.get("name"):
        xr_name = str((xr.get("metadata") or {}).get("name", ""))
        digest = hashlib.sha256(name.encode()).digest()
        suffix = "".join(_NAME_SUFFIX_CHARS[b % len(_NAME_SUFFIX_CHARS)] for b in digest[:5])
        meta["name"] = f"{xr_name[:58]}-{suffix}"
    meta["annotations"] = {**(meta.get("annotations") or {}), RESOURCE_NAME: name}
    meta.update(
        uid=f"uid-{name}",
        resourceVersion="1",
        generation=1,
        creationTimestamp="2024-01-01T00:00:00Z",
    )
    return obj


def draw_status(draw: Draw, schema: JSON | None) -> Any:
    """An observed status: written by hand, or drawn from the CRD's status schema (valid
    or broken); some field of it of another shape than expected, sometimes."""
    choice = draw(st.integers(0, 2)) if schema is not None else 0
    if choice == 0 or schema is None:
        # Copies: a drawn constant (st.just) is one object shared by every example.
        status = copy.deepcopy(draw(_STATUS))
    elif choice == 1:
        status = copy.deepcopy(draw(crd_valid(schema)))
    else:
        status = crd_broken(draw, schema)
    if chance(draw, 5):  # a status field of another shape than expected
        path = draw(st.sampled_from(_paths(status)))
        status = _replace(status, path, copy.deepcopy(draw(_GARBAGE)))
    return status


def observe(
    draw: Draw,
    desired: dict[str, JSON],
    secrets: Secrets,
    xr: JSON,
    schemas: dict[tuple[str, str], JSON],
) -> dict[str, JSON]:
    """desired as a cluster would show it back: applied (applied()), with drawn statuses.

    Only statuses are drawn: a spec of another shape than its CRD's never gets past
    the API server, and a kept object (never dropped) is sent back as observed. Secrets
    have no status (the API server drops one).
    """
    observed: dict[str, JSON] = {}
    # In name order: a response's map of resources iterates in no fixed order (upb's hash
    # tables), and the draws must not depend on it for a seed to replay.
    for name, obj in sorted(desired.items()):
        secrets.add_composed(obj)
        observed[name] = with_status(draw, applied(name, obj, xr), schemas)
    return observed


def with_status(draw: Draw, obj: JSON, schemas: dict[tuple[str, str], JSON]) -> JSON:
    """obj with a drawn status (draw_status, from its CRD's schema when there is one); a
    Secret has none (the API server drops one)."""
    if obj.get("kind") != "Secret":
        schema = schemas.get((str(obj.get("apiVersion", "")), str(obj.get("kind", ""))))
        obj["status"] = draw_status(draw, schema)
    return obj


# Keys of the connection details the providers publish (provider-upjet-aws: username and
# password of an IAM AccessKey; endpoint and port of databases; kubeconfig of clusters).
_DETAIL_KEYS = ("username", "password", "endpoint", "port", "kubeconfig", "attribute.id")


def connection_details(
    draw: Draw, observed: dict[str, JSON], secrets: Secrets
) -> dict[str, dict[str, bytes]]:
    """What Crossplane read from the connection Secret of each observed object that names
    one (spec.writeConnectionSecretToRef): some keys, text or binary, sometimes none yet."""
    out: dict[str, dict[str, bytes]] = {}
    for name, obj in sorted(observed.items()):
        spec = obj.get("spec")
        if not isinstance(spec, dict) or not isinstance(
            spec.get("writeConnectionSecretToRef"), dict
        ):
            continue
        if chance(draw, 4):
            continue  # not written yet
        out[name] = {
            key: secrets.draw(draw, text=draw(st.integers(0, 4)) > 0)
            for key in _DETAIL_KEYS
            if not chance(draw, 3)
        }
    return out


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
