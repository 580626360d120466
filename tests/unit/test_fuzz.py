"""Property-based fuzzing of every catalogue kind through the real servicer (tests/fuzzing.py).

Each example is one or two requests to FunctionRunner.RunFunction, built by
harness.requests: the drawn XR, input and credentials; then, when the first response
composed something, the same XR again with that desired state observed back (statuses,
folded Secrets, some fields of another shape) and the requirements answered with
Secrets whose data may be binary, not base64 or missing.

Oracle, for every response:
- nothing raises, no InternalError, at most one FATAL;
- an XR, input or parameter broken on purpose gets one FATAL naming each broken field
  (of the first stage that fails: metadata and spec, then the input, then parameters);
- a response without FATAL composes objects that validate against their CRDs (or the
  strict core schemas and chart values schemas), an XR status that validates against
  its XRD, Helm release names Helm accepts;
- no resource observed disappears from the desired state (XR and input unchanged);
- no secret value, in any form, is in the response (outside composed Secrets' data) or
  in the logs, written at DEBUG.

The suite runs a fixed, derandomized budget (FUZZ_EXAMPLES per kind, default below);
`make fuzz` runs a larger random one (HYPOTHESIS_PROFILE=fuzz).
"""

from __future__ import annotations

import collections
import io
import os
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import structlog
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import json_format
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from function import logs
from function.kind import AnyKind
from function.runner import FunctionRunner
from function.structs import to_dict
from generate.schema import openapi
from harness.crdschema import ComposedValidator, json_schema
from harness.paths import shared_dir
from harness.requests import build, desired
from tests import fuzzing
from tests.composing import NoDeadline

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120" if PROFILE == "ci" else "4000"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=PROFILE == "ci",  # the same examples on every CI run
    deadline=None,  # no timed test: figures come from `make fuzz`, not from here
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
HELM_RELEASE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
STAGES = ("InvalidComposite", "InvalidInput", "InvalidParameters")
FATAL_REASONS_OF_VALID = {"InvalidParameters", "InvalidInput", "ComposeFailed"}
STATS: collections.Counter[str] = collections.Counter()


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
    copy = fnv1.RunFunctionResponse()
    copy.CopyFrom(rsp)
    for r in copy.desired.resources.values():
        if r.resource.fields["kind"].string_value == "Secret":
            for key in ("data", "stringData"):
                if key in r.resource.fields:
                    del r.resource.fields[key]
    return json_format.MessageToJson(copy, ensure_ascii=False)


def check(
    kind: AnyKind,
    case: fuzzing.Request,
    rsp: fnv1.RunFunctionResponse,
    log: str,
    validator: ComposedValidator,
    *,
    data_secrets: fuzzing.Secrets,
    kept: set[str],
) -> bool:
    """The oracle for one response; True when it composed (no FATAL)."""
    reasons = [r.reason for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    assert "InternalError" not in [r.reason for r in rsp.results], log
    assert len(reasons) <= 1, reasons
    assert rsp.ByteSize() < 1024 * 1024, "a response near gRPC's limit"
    full = json_format.MessageToJson(rsp, ensure_ascii=False)
    assert case.secrets.found_in(full) == [], "a credential in the response"
    assert data_secrets.found_in(_without_secret_data(rsp)) == [], "Secret data outside Secrets"
    assert (case.secrets.found_in(log) + data_secrets.found_in(log)) == [], "a secret in the logs"
    if case.bad:
        assert len(reasons) == 1, f"broken {case.bad} but no FATAL"
        message = next(r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL)
        assert reasons[0] in STAGES, message
        # Checked in order: the XR's shape, the input, the parameters. An earlier stage
        # may fail on what the schema alone admits (the input's own rules, say).
        stage = STAGES.index(reasons[0])
        assert stage <= min(_stage(p) for p in case.bad), message
        named = [p for p in case.bad if _stage(p) == stage]
        if len(named) <= fuzzing.PROBLEMS_MAX:
            missing = [p for p in named if not fuzzing.named_in(message, p)]
            assert missing == [], f"FATAL does not name {missing}: {message}"
        STATS[f"{kind.api.kind} fatal {reasons[0]}"] += 1
        return False
    if reasons:
        message = next(r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL)
        assert reasons[0] in FATAL_REASONS_OF_VALID, message
        STATS[f"{kind.api.kind} fatal {reasons[0]}"] += 1
        if os.environ.get("FUZZ_VERBOSE"):
            STATS[f"{kind.api.kind} fatal {message.partition(': ')[2][:60]}"] += 1
        return False
    composed = desired(rsp)
    dropped = sorted(kept - set(composed))
    assert dropped == [], f"observed resources dropped from the desired state: {dropped}"
    problems = [e for name, obj in composed.items() for e in validator.errors(name, obj)]
    status = to_dict(rsp.desired.composite.resource).get("status", {})
    problems += _status_errors(kind, status)
    problems += _release_name_errors(composed)
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
    keys = ["password", "username", "value"] + [
        v for v in _strings(params) if re.fullmatch(r"[-._a-zA-Z0-9]{1,64}", v)
    ]
    out: dict[str, list[dict[str, Any]]] = {}
    for key, selector in sorted(rsp.requirements.resources.items()):
        if fuzzing.chance(draw, 4):
            continue  # not there (yet)
        if selector.kind == "Secret":
            out[key] = [fuzzing.secret_answer(draw, selector.match_name, keys, secrets)]
        else:
            out[key] = [
                {
                    "apiVersion": selector.api_version,
                    "kind": selector.kind,
                    "metadata": {"name": selector.match_name},
                }
            ]
    return out


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    return []


@pytest.mark.parametrize("kind", fuzzing.kinds(), ids=lambda k: k.api.kind)
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_requests(
    kind: AnyKind, data: st.DataObject, servicer: Servicer, validator: ComposedValidator
) -> None:
    case = fuzzing.draw_request(data.draw, kind)
    input_ = None
    if case.settings is not None:
        input_ = {
            "apiVersion": "fn.platform.example.org/v1beta1",
            "kind": "Input",
            "spec": case.settings,
        }
    first = servicer(build(case.xr, case.observed, {}, input_, case.credentials))
    data_secrets = fuzzing.Secrets(mark=fuzzing.SECRET_MARK + "d")
    composed = check(
        kind, case, first, servicer.log.getvalue(), validator, data_secrets=data_secrets, kept=set()
    )
    if not composed:
        return
    observed = fuzzing.observe(data.draw, desired(first), data_secrets)
    required = _answers(data.draw, first, case, data_secrets)
    second = servicer(build(case.xr, observed, required, input_, case.credentials))
    check(
        kind,
        case,
        second,
        servicer.log.getvalue(),
        validator,
        data_secrets=data_secrets,
        kept=set(observed),
    )
