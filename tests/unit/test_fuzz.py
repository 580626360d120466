"""Property-based fuzzing of every catalogue kind through the real servicer (tests/fuzzing.py).

Each example is up to four requests to FunctionRunner.RunFunction, built by
harness.requests: the drawn XR, input and credentials; then, when the first response
composed something, the same XR again with that desired state observed back (as the
API server holds it, with statuses written by hand or drawn from the upstream CRDs'
status schemas, valid or broken, and connection details), the requirements answered
with Secrets whose data may be binary, not base64 or missing, and Namespaces sometimes
controlled by a composed object of their name (as a Kubeflow Profile controls its own);
then, when that composed
too, a third with the second's output observed back (its statuses kept, the XR's status
the second wrote); then, when the second composed objects the first had not, a fourth
with those observed too, with statuses of their own.

Oracle, for every response:
- nothing raises, no InternalError, at most one FATAL;
- every requirement is of a kind Crossplane core may read with its aggregated ClusterRole
  and install/crossplane-rbac.yaml (tests/rbac.py);
- an XR, input or parameter broken on purpose gets one FATAL naming each broken field
  (of the first stage that fails: metadata and spec, then the input, then parameters);
- a valid draw (nothing broken on purpose) refused names what to fix (names_what_to_fix:
  a spec.parameters or metadata field, an input.spec or EnvironmentConfig data path, a
  platform setting under an input section, the step's credentials, a Secret's key);
- a response without FATAL composes objects that validate against their CRDs (or the
  strict core schemas and chart values schemas) with metadata the API server accepts
  (tests/kubemeta.py), an XR status that validates against its XRD, Helm release names
  Helm accepts, and what its kind's invariants demand of the parameters
  (tests/invariants.py, written independently of the composers);
- no resource observed disappears from the desired state (XR and input unchanged);
- no secret value, in any form, is in the response (outside composed Secrets' data) or
  in the logs, written at DEBUG;
- the third response's desired state (resources, requirements and, unless the second
  composed something new, the XR's status) is the second's: composing is idempotent once
  what was composed is observed;
- per kind, at least COMPOSED_SHARE of the valid draws compose (once SHARE_MIN_DRAWS
  valid draws were made): a composer that refuses everything, naming a field, fails.
test_the_oracle_catches_a_mutant runs the property against broken RedisInstance composers.

Budget and seed: FUZZ_EXAMPLES examples per kind (default below; `make fuzz`: 2000), a
fixed number, never a time. The seed changes on every run unless FUZZ_SEED is set; it
is printed at the end of the run (tests/unit/conftest.py), and a failure carries the
command that replays it (the same seed and budget: a kind's run does not depend on the
others', tests/fuzzing.py _import_every_module).
"""

from __future__ import annotations

import collections
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import hypothesis
import jsonschema
import pytest
import structlog
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import json_format
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from function import catalogue, logs
from function.kind import AnyKind
from function.refusal import Refusal
from function.runner import FunctionRunner
from function.structs import to_dict
from generate.schema import openapi
from harness.crdschema import ComposedValidator, json_schema
from harness.paths import shared_dir
from harness.requests import build, desired
from tests import fuzzing, invariants, kubemeta, rbac
from tests.composing import NoDeadline

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120" if PROFILE == "ci" else "2000"))
# A new seed on every run, so that CI covers new ground each time with the same budget.
SEED = int(os.environ.get("FUZZ_SEED") or int.from_bytes(os.urandom(4), "big"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # no timed test: the budget is a number of examples
    database=None,
    print_blob=True,
    # No shrinking: a failure is reported at once with its draws and a reproduce blob
    # (shrinking these nested requests takes minutes).
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
# The least share of valid draws (nothing broken on purpose) that compose, per kind. The
# others are refused, naming a field, for what the XRD schema alone admits: its CEL rules
# (which the draws do not follow), XR names the kind's objects cannot be named after,
# quantities past what a machine holds, settings the input leaves unset. A run's share
# varies widely from seed to seed (Hypothesis explores one region of the inputs at a
# time), so the least is about half the lowest of the runs measured at the CI budget
# (120 examples): mean, lowest and runs in the comments.
COMPOSED_SHARE = {
    "PostgreSQLInstance": 0.15,  # 0.56, 0.30, 28 runs
    "RedisInstance": 0.20,  # 0.71, 0.37 (FUZZ_SEED=3032781032), 29 runs
    "KubernetesCluster": 0.25,  # 0.69, 0.48, 16 runs
    "VClusterEnvironment": 0.25,  # 0.70, 0.47, 16 runs
    "ServiceIngress": 0.10,  # 0.54, 0.20, 28 runs
    "MLOpsPlatform": 0.25,  # 0.69, 0.47, 16 runs
}
# Below this many valid draws (FUZZ_EXAMPLES far under the CI budget) the share says little.
SHARE_MIN_DRAWS = 40
HELM_RELEASE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
STAGES = ("InvalidComposite", "InvalidInput", "InvalidParameters")
FATAL_REASONS_OF_VALID = {"InvalidParameters", "InvalidInput", "ComposeFailed"}
STATS: collections.Counter[str] = collections.Counter()
# Keys of the Secrets a requirement is answered with: a login's, Cluster API's kubeconfig
# (value), vCluster's vc-<name> (config, its TLS files and the exported ServiceAccount's
# token: vcluster v0.36.1 pkg/util/kubeconfig/kubeconfig.go), besides any key a parameter
# names.
SECRET_KEYS = (
    "password",
    "username",
    "value",
    "config",
    "certificate-authority",
    "client-certificate",
    "client-key",
    "token",
)
_CONDITION_STATUS = {
    fnv1.STATUS_CONDITION_TRUE: "True",
    fnv1.STATUS_CONDITION_FALSE: "False",
    fnv1.STATUS_CONDITION_UNKNOWN: "Unknown",
}


def reproduce(kind: str) -> str:
    """The commands that replay this run of kind (the same seed and budget)."""
    env = f"FUZZ_SEED={SEED} FUZZ_EXAMPLES={EXAMPLES}"
    return (
        f"reproduce: {env} make fuzz, or {kind} alone: {env} .venv/bin/python -m pytest "
        f"'tests/unit/test_fuzz.py::test_fuzzed_requests[{kind}]' -p no:cacheprovider"
    )


def summary() -> str:
    """The run's seed, for the end of pytest's output (tests/unit/conftest.py)."""
    return (
        f"fuzz: seed {SEED}, {EXAMPLES} examples per kind; "
        f"rerun: FUZZ_SEED={SEED} FUZZ_EXAMPLES={EXAMPLES} make fuzz"
    )


class Servicer:
    """The real FunctionRunner, its logs captured at DEBUG."""

    def __init__(self) -> None:
        self.log = io.StringIO()
        logs.configure(debug=True, output=self.log)
        self.runner = FunctionRunner()

    def __call__(self, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        self.log.seek(0)
        self.log.truncate()
        result: Any = self.runner.RunFunction(req, NoDeadline())  # type: ignore[arg-type]
        assert isinstance(result, fnv1.RunFunctionResponse)
        return result


@pytest.fixture(scope="module")
def servicer() -> Iterator[Servicer]:
    s = Servicer()
    yield s
    structlog.reset_defaults()
    if STATS:
        print("\nfuzz:", dict(sorted(STATS.items())))


@pytest.fixture(scope="module")
def validator() -> ComposedValidator:
    return ComposedValidator(shared_dir())


def _stage(path: str) -> int:
    if path == "spec" or path.startswith("metadata"):
        return 0
    return 1 if path.startswith("input.") else 2


def _without_secret_data(rsp: fnv1.RunFunctionResponse) -> str:
    """The response without composed Secrets' data, nor that of a Secret a provider-kubernetes
    Object places (README, "Argo CD and the client key": a documented trade-off)."""
    copy = fnv1.RunFunctionResponse()
    copy.CopyFrom(rsp)
    for r in copy.desired.resources.values():
        fields = r.resource.fields
        if fields["kind"].string_value == "Object":
            manifest = fields["spec"].struct_value.fields["forProvider"].struct_value.fields
            fields = manifest["manifest"].struct_value.fields
        if fields["kind"].string_value == "Secret":
            for key in ("data", "stringData"):
                if key in fields:
                    del fields[key]
    return json_format.MessageToJson(copy, ensure_ascii=False)


# ---------------------------------------------------------------- what a refusal names

# The input's sections (platform-wide and one per kind), from the generated input CRD.
_SECTIONS = "|".join(sorted(fuzzing.input_schema()["properties"], key=len, reverse=True))
# Where function/refusal.py's FATALs point a user or platform engineer: a field of the XR,
# of the input (as function/input.py names it: input.spec.<path> or EnvironmentConfig
# <name>: data.<path>), a platform setting by its path under an input section (as
# function/settings.py SETTINGS_WHERE says where to set it), the step's credentials (the
# request's other input: function/secrets.py names the Secret and key it lacks), or a
# Secret's key whose data cannot be used (README, "What bad input gets": the Secret and
# key, never the value).
_NAMED = re.compile(
    r"spec\.parameters\.(?P<param>[A-Za-z_][A-Za-z0-9_]*)"
    r"|metadata\.(?:name|namespace|uid|annotations\.\S+|labels\.\S+)"
    rf"|input\.spec\.(?:{_SECTIONS})\b"
    rf"|EnvironmentConfig \S+: data\.(?:{_SECTIONS})\b"
    rf"|\b(?:{_SECTIONS})\.[A-Za-z]"
    r"|the Composition step's credentials ['\"]"
    r"|key '[^']*' of Secret '"
)


def names_what_to_fix(kind: AnyKind, message: str) -> bool:
    """Whether a FATAL names a field or setting (a spec.parameters field must exist)."""
    params = set(fuzzing.parameters_schema(kind).get("properties", {}))
    return any(m["param"] is None or m["param"] in params for m in _NAMED.finditer(message))


# ---------------------------------------------------------------- the oracle


@dataclass
class Oracle:
    """Checks every response of one drawn case."""

    kind: AnyKind
    case: fuzzing.Request
    validator: ComposedValidator
    data_secrets: fuzzing.Secrets

    def check(self, rsp: fnv1.RunFunctionResponse, log: str, *, kept: set[str]) -> bool:
        """The oracle for one response; True when it composed (no FATAL)."""
        kind, case = self.kind, self.case
        results = [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
        reasons = [r.reason for r in results]
        assert "InternalError" not in reasons, log
        assert len(reasons) <= 1, reasons
        assert rsp.ByteSize() < 1024 * 1024, "a response near gRPC's limit"
        full = json_format.MessageToJson(rsp, ensure_ascii=False)
        assert case.secrets.found_in(full) == [], "a credential in the response"
        data_secrets = self.data_secrets
        leaked = data_secrets.found_in(_without_secret_data(rsp))
        assert leaked == [], "Secret data outside Secrets"
        in_log = case.secrets.found_in(log) + data_secrets.found_in(log)
        assert in_log == [], "a secret in the logs"
        unfetchable = sorted(
            f"{key}: {s.kind}"
            for key, s in rsp.requirements.resources.items()
            if not rbac.may_fetch(s.api_version, s.kind)
        )
        assert unfetchable == [], "requirements Crossplane core may not fetch"
        if case.bad:
            assert len(reasons) == 1, f"broken {case.bad} but no FATAL"
            message = results[0].message
            assert reasons[0] in STAGES, message
            # Checked in order: the XR's shape, the input, the parameters. An earlier stage
            # may fail on what the schema alone admits (the input's own rules, say).
            stage = STAGES.index(reasons[0])
            assert stage <= min(_stage(p) for p in case.bad), message
            named = [p for p in case.bad if _stage(p) == stage]
            missing = [p for p in named if not fuzzing.named_in(message, p)]
            # A FATAL lists PROBLEMS_MAX problems, then how many more (function/refusal.py):
            # those left out are in no fixed order (the input's maps are not).
            more = re.search(r"; and ([0-9]+) more$", message)
            assert len(missing) <= (int(more.group(1)) if more else 0), (
                f"FATAL does not name {missing}: {message}"
            )
            STATS[f"{kind.api.kind} fatal {reasons[0]}"] += 1
            return False
        if reasons:
            message = results[0].message
            assert reasons[0] in FATAL_REASONS_OF_VALID, message
            assert names_what_to_fix(kind, message), f"a FATAL naming no field: {message}"
            STATS[f"{kind.api.kind} fatal {reasons[0]}"] += 1
            if os.environ.get("FUZZ_VERBOSE"):
                STATS[f"{kind.api.kind} fatal {message.partition(': ')[2][:60]}"] += 1
            return False
        composed = desired(rsp)
        dropped = sorted(kept - set(composed))
        assert dropped == [], f"observed resources dropped from the desired state: {dropped}"
        problems = [e for name, obj in composed.items() for e in self.validator.errors(name, obj)]
        problems += [e for name, obj in composed.items() for e in kubemeta.object_errors(name, obj)]
        status = to_dict(rsp.desired.composite.resource).get("status", {})
        problems += _status_errors(kind, status)
        problems += _release_name_errors(composed)
        problems += invariants.violations(kind.api.kind, case.xr, case.settings, composed, status)
        assert problems == [], "\n".join(problems)
        STATS[f"{kind.api.kind} composed"] += 1
        return True


def _status_errors(kind: AnyKind, status: Any) -> list[str]:
    schema = json_schema(openapi(kind.api.status))
    return [
        f"status: {e.message[:200]}" for e in jsonschema.Draft7Validator(schema).iter_errors(status)
    ]


def _release_name_errors(composed: dict[str, Any]) -> list[str]:
    out = []
    for name, obj in composed.items():
        if obj.get("kind") != "Release":
            continue
        release = ((obj.get("metadata") or {}).get("annotations") or {}).get(
            "crossplane.io/external-name", ""
        )
        if len(release) > 53 or not HELM_RELEASE_NAME.fullmatch(release):
            out.append(f"{name}: Helm release name {release!r} (at most 53, a DNS subdomain)")
    return out


def _answers(
    draw: fuzzing.Draw,
    rsp: fnv1.RunFunctionResponse,
    case: fuzzing.Request,
    secrets: fuzzing.Secrets,
) -> dict[str, list[dict[str, Any]]]:
    params = (case.xr.get("spec") or {}).get("parameters") or {}
    keys = [*SECRET_KEYS] + [
        v for v in _strings(params) if re.fullmatch(r"[-._a-zA-Z0-9]{1,64}", v)
    ]
    out: dict[str, list[dict[str, Any]]] = {}
    for key, selector in sorted(rsp.requirements.resources.items()):
        if fuzzing.chance(draw, 4):
            continue  # not there (yet)
        if selector.kind == "Secret":
            out[key] = [fuzzing.secret_answer(draw, selector.match_name, keys, secrets)]
            continue
        answer: dict[str, Any] = {
            "apiVersion": selector.api_version,
            "kind": selector.kind,
            "metadata": {"name": selector.match_name},
        }
        creator = _creator(rsp, selector) if selector.kind == "Namespace" else None
        if creator is not None and draw(st.booleans()):
            answer["metadata"]["ownerReferences"] = [creator]
        out[key] = [answer]
    return out


def _creator(rsp: fnv1.RunFunctionResponse, selector: Any) -> dict[str, Any] | None:
    """The controller reference a composed cluster-scoped object of the namespace's name
    would put on a namespace it creates (as Kubeflow's profile controller does for its
    Profile), with the uid fuzzing.applied gives it; None when there is none."""
    for name, obj in sorted(desired(rsp).items()):
        meta = obj.get("metadata") or {}
        if meta.get("name") == selector.match_name and not meta.get("namespace"):
            return {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": selector.match_name,
                "uid": f"uid-{name}",
                "controller": True,
                "blockOwnerDeletion": True,
            }
    return None


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    return []


# ---------------------------------------------------------------- idempotence


def _xr_as_written(xr: dict[str, Any], rsp: fnv1.RunFunctionResponse) -> dict[str, Any]:
    """The XR once Crossplane has written the response's status and conditions."""
    status = dict(to_dict(rsp.desired.composite.resource).get("status", {}))
    status["conditions"] = [
        {
            "type": c.type,
            "status": _CONDITION_STATUS.get(c.status, "Unknown"),
            "reason": c.reason,
            "message": c.message,
            "lastTransitionTime": "2024-01-01T00:00:00Z",
        }
        for c in rsp.conditions
    ]
    return {**xr, "status": status}


def _state(rsp: fnv1.RunFunctionResponse, *, status: bool) -> dict[str, Any]:
    """What idempotence compares: desired resources, requirements and (status) the XR's status.

    The XR's status only when the second call composed nothing it did not observe: an
    object the second call composed first is observed (exists) only in the third, which
    rightly changes readiness, and with it the phase and what the status reports.
    """
    out = {"resources": desired(rsp), "requirements": json_format.MessageToDict(rsp.requirements)}
    if status:
        out["status"] = to_dict(rsp.desired.composite.resource).get("status", {})
    return out


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in _differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    if a == b:
        return []
    return [f"{path}: {json.dumps(a, default=str)[:200]} then {json.dumps(b, default=str)[:200]}"]


# ---------------------------------------------------------------- the property


@dataclass
class Tally:
    """Valid draws (nothing broken on purpose) of one kind's run, and how many composed."""

    valid: int = 0
    composed: int = 0


def example(
    kind: AnyKind,
    draw: fuzzing.Draw,
    servicer: Servicer,
    validator: ComposedValidator,
    tally: Tally,
) -> None:
    """One drawn case: up to four requests, each response checked by the oracle."""
    case = fuzzing.draw_request(draw, kind)
    input_ = None
    if case.settings is not None:
        input_ = {
            "apiVersion": "fn.platform.example.org/v1beta1",
            "kind": "Input",
            "spec": case.settings,
        }
    oracle = Oracle(kind, case, validator, fuzzing.Secrets(mark=fuzzing.SECRET_MARK + "d"))
    first = servicer(build(case.xr, case.observed, {}, input_, case.credentials))
    first_composed = oracle.check(first, servicer.log.getvalue(), kept=set())
    if not case.bad:
        tally.valid += 1
        tally.composed += first_composed
    if not first_composed:
        return
    observed = fuzzing.observe(
        draw, desired(first), oracle.data_secrets, case.xr, fuzzing.status_schemas(kind)
    )
    required = _answers(draw, first, case, oracle.data_secrets)
    details = fuzzing.connection_details(draw, observed, oracle.data_secrets)
    second = servicer(
        build(case.xr, observed, required, input_, case.credentials, connection_details=details)
    )
    if not oracle.check(second, servicer.log.getvalue(), kept=set(observed)):
        return
    # The second's output applied, the statuses the second call observed kept; what the
    # second still asks for answered as before.
    composed = desired(second)
    for obj in composed.values():
        oracle.data_secrets.add_composed(obj)
    applied = {
        name: fuzzing.applied(name, obj, case.xr)
        | ({"status": observed[name]["status"]} if "status" in observed.get(name, {}) else {})
        for name, obj in composed.items()
    }
    written = _xr_as_written(case.xr, second)
    still_asked = {k: v for k, v in required.items() if k in second.requirements.resources}
    third = servicer(
        build(written, applied, still_asked, input_, case.credentials, connection_details=details)
    )
    assert oracle.check(third, servicer.log.getvalue(), kept=set(applied)), (
        "refused once its own output was observed"
    )
    same_world = set(composed) <= set(observed)
    changed = _differences(_state(second, status=same_world), _state(third, status=same_world))
    assert changed == [], "not idempotent: the second call, then the third:\n" + "\n".join(
        changed[:20]
    )
    if same_world:
        return
    # What the second call composed first (workloads, add-ons) observed with statuses of its
    # own: a fourth call, under the same oracle.
    for name in sorted(set(applied) - set(observed)):
        fuzzing.with_status(draw, applied[name], fuzzing.status_schemas(kind))
    details |= fuzzing.connection_details(
        draw, {n: applied[n] for n in set(applied) - set(observed)}, oracle.data_secrets
    )
    fourth = servicer(
        build(written, applied, still_asked, input_, case.credentials, connection_details=details)
    )
    oracle.check(fourth, servicer.log.getvalue(), kept=set(applied))


def fuzz_kind(
    kind: AnyKind,
    servicer: Servicer,
    validator: ComposedValidator,
    *,
    examples: int = EXAMPLES,
    seed: int | None = SEED,
) -> Tally:
    """Run the property for kind: examples drawn from seed (None: derandomized)."""
    tally = Tally()

    @settings(FUZZ_SETTINGS, max_examples=examples, derandomize=seed is None)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        example(kind, data.draw, servicer, validator, tally)

    (run if seed is None else hypothesis.seed(seed)(run))()
    return tally


def check_share(kind: AnyKind, tally: Tally) -> None:
    least = COMPOSED_SHARE[kind.api.kind]
    if tally.valid < SHARE_MIN_DRAWS:
        return
    share = tally.composed / tally.valid
    assert share >= least, (
        f"{kind.api.kind}: {tally.composed} of {tally.valid} valid draws composed "
        f"({share:.0%}); at least {least:.0%} must"
    )


@pytest.mark.parametrize("kind", fuzzing.kinds(), ids=lambda k: k.api.kind)
def test_fuzzed_requests(kind: AnyKind, servicer: Servicer, validator: ComposedValidator) -> None:
    try:
        tally = fuzz_kind(kind, servicer, validator)
        STATS[f"{kind.api.kind} valid draws"] = tally.valid
        STATS[f"{kind.api.kind} valid draws composed"] = tally.composed
        check_share(kind, tally)
    except Exception as e:
        e.add_note(reproduce(kind.api.kind))
        raise


def test_every_kind_has_a_share_and_invariants() -> None:
    kinds = {k.api.kind for k in fuzzing.kinds()}
    assert set(COMPOSED_SHARE) == kinds
    assert set(invariants.INVARIANTS) == kinds


# ---------------------------------------------------------------- the oracle's own test

MUTANT_EXAMPLES = 80


def _refuse_naming_a_field(compose: Any) -> Any:
    def mutant(ctx: Any) -> Any:
        raise Refusal("spec.parameters.memoryGB: refused by a mutant")

    return mutant


def _refuse_naming_nothing(compose: Any) -> Any:
    def mutant(ctx: Any) -> Any:
        raise Refusal("not today")

    return mutant


def _drop_memory_limits(compose: Any) -> Any:
    def mutant(ctx: Any) -> Any:
        out = compose(ctx)
        for obj in out.resources.values():
            values = ((obj.get("spec") or {}).get("forProvider") or {}).get("values") or {}
            (values.get("resources") or {}).pop("limits", None)
        return out

    return mutant


@pytest.mark.parametrize(
    ("mutate", "caught"),
    [
        (_refuse_naming_a_field, "valid draws composed"),
        (_refuse_naming_nothing, "a FATAL naming no field"),
        (_drop_memory_limits, "RedisInstance invariant: memory limit"),
    ],
    ids=["refuses-every-XR", "refuses-naming-nothing", "drops-memory-limits"],
)
def test_the_oracle_catches_a_mutant(
    mutate: Any,
    caught: str,
    servicer: Servicer,
    validator: ComposedValidator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A RedisInstance composer broken on purpose fails the property, for the right reason."""
    entry = next(e for e in catalogue.ENTRIES if e.kind == "RedisInstance")
    real = catalogue.load(entry)
    mutant = replace(real, compose=mutate(real.compose))
    load = catalogue.load
    monkeypatch.setattr(catalogue, "load", lambda e: mutant if e == entry else load(e))
    monkeypatch.setattr(sys.modules[__name__], "STATS", collections.Counter())  # not the run's
    with pytest.raises(AssertionError, match=re.escape(caught)):
        check_share(
            mutant, fuzz_kind(mutant, servicer, validator, examples=MUTANT_EXAMPLES, seed=None)
        )
