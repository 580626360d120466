"""Request plumbing: RunFunctionRequest in, RunFunctionResponse out.

Everything kind-specific lives in the kinds' packages. For an XR this module
reads it, finds its kind, parses the function input and spec.parameters, lets the
kind compose, lets the Vault service apply the kind's intents, and is the one
place that writes the response: desired resources with their readiness, XR status
and conditions, requirements, results and the TTL. Each step refuses what it
cannot accept by raising function.refusal.Refusal, which becomes the one FATAL.
"""

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NoReturn, Protocol

import grpc
from crossplane.function import logging, resource, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from google.protobuf import duration_pb2
from google.protobuf.message import DecodeError

from function import logs, response_cache, wire
from function.admission import Admission, BusyError, Turn
from function.catalogue import lookup
from function.context import Composite, Context, Desired, Observed, WarningResult
from function.expiry import lifetime
from function.input import (
    SETTINGS_NOT_REQUESTED,
    SETTINGS_REQUIREMENT,
    environment_config,
    parse_input,
    settings_of,
)
from function.kind import AnyKind
from function.logs import Logger
from function.model import Parameters
from function.platform import PlatformSettings
from function.readiness import Readiness, is_failing
from function.refusal import Refusal
from function.settings import SettingsModel
from function.structs import JSON, dig, merge_state, object_dict, to_struct
from function.validation import check_composite, cut, parse_parameters
from function.vault import sync as vaultsync
from function.vault.model import VaultReporting

# Imported when a request needs them, not at start-up (each costs a tenth of a second or
# more, mostly hvac and requests): function.vault.operation for the Vault garbage
# collector, function.expiry.kubeapi and .reaper for the remove-expired Operation. The
# Vault step (function.vault.sync) imports its client when it has something to send.

# Seconds kept between the end of the Vault step and the caller's deadline.
ANSWER_MARGIN = 0.5

_READY = {True: fnv1.READY_TRUE, False: fnv1.READY_FALSE}
_STATUS = {
    "True": fnv1.STATUS_CONDITION_TRUE,
    "False": fnv1.STATUS_CONDITION_FALSE,
    "Unknown": fnv1.STATUS_CONDITION_UNKNOWN,
}


class CallContext(Protocol):
    """What the runner asks of its call: function/transport.py's Context, or grpc's
    ServicerContext for a caller in this process."""

    def time_remaining(self) -> float | None: ...

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn: ...


class ServedCall(CallContext, Protocol):
    """A call the server serves (function/transport.py's Context): one it may wait in."""

    def waiting(self) -> AbstractContextManager[None]: ...


# What is told of every call: function/metrics.py's observe under --metrics-port.
Observe = Callable[[fnv1.RunFunctionRequest, fnv1.RunFunctionResponse, float], None]
# While a call waits on something else (Vault, the Kubernetes API): another composes meanwhile.
Waiting = Callable[[], AbstractContextManager[None]]

# The largest response sent: gRPC's default message limit, which the server's
# --max-send-message-size sets (function/cli.py). A response that would be larger is
# replaced by a FATAL result naming its size and its largest part: grpc would refuse to
# send it (RESOURCE_EXHAUSTED, grpc/grpc doc/statuscodes.md), and a desired state cut
# to fit would drop resources. The FATAL is a few hundred bytes, so no request of any size
# gets a response past this bound.
RESPONSE_MAX = 4 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """A response and until when (Unix time) it holds for an equal request."""

    response: fnv1.RunFunctionResponse
    # response_cache.VOLATILE: it depends on more than the request and is never kept.
    holds_until: float = math.inf


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """The gRPC servicer Crossplane calls."""

    def __init__(
        self,
        cache: response_cache.ResponseCache | None = None,
        observe: Observe | None = None,
        *,
        admission: Admission | None = None,
        response_max: int = RESPONSE_MAX,
    ) -> None:
        self.log: Logger = logging.get_logger()
        self.cache = cache or response_cache.ResponseCache(0)
        self.observe = observe
        self.admission = admission or Admission(0)
        self.turn = Turn()
        self.response_max = response_max

    def RunFunction(  # noqa: N802 (gRPC's name)
        self, req: fnv1.RunFunctionRequest, context: CallContext
    ) -> fnv1.RunFunctionResponse:
        """One call as messages (in-process callers); never cached."""
        rsp = self._respond(req, context, contextlib.nullcontext).response
        size = rsp.ByteSize()
        return rsp if size <= self.response_max else self._oversized(req, rsp, size)

    def serve(self, data: bytes, context: ServedCall) -> bytes:
        """One call as the server receives it, serialized (v1, and v1beta1 whose messages
        are the same on the wire): the cached response to an equal request comes back as
        it was kept (function/response_cache.py). Within the process's bounds
        (function/admission.py): its bytes are counted in flight, and it composes in its
        turn."""
        started = time.perf_counter()
        try:
            with self.admission.hold(len(data)):
                return self._in_turn(data, context, started)
        except BusyError as busy:
            self.log.info(
                "call refused: too many request bytes in flight",
                bytes=len(data),
                in_flight=self.admission.in_flight,
                budget=self.admission.budget,
            )
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(busy))

    def _in_turn(self, data: bytes, context: ServedCall, started: float) -> bytes:
        if not self._take_turn(context):
            self.log.info("call dropped: its deadline passed before its turn", bytes=len(data))
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed waiting to compose")
        try:
            return self._serve(data, context, started)
        finally:
            self.turn.give()

    def _take_turn(self, context: ServedCall) -> bool:
        """Whether the call got the composing turn before its deadline. A call that must wait
        for it waits as for Vault: another thread takes calls meanwhile. The turn may be
        held long (the drain at SIGTERM holds it while the calls already received are taken,
        function/server.py), and a call received but never taken is cancelled at stop()."""
        if self.turn.take(0):
            return True
        with context.waiting():
            return self.turn.take(context.time_remaining())

    def _serve(self, data: bytes, context: ServedCall, started: float) -> bytes:
        try:
            req, deep = wire.decode_request(data)
        except DecodeError:
            self.log.info(
                "call refused: not a RunFunctionRequest, or nested past protobuf's 65535 levels",
                bytes=len(data),
            )
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a RunFunctionRequest")
        except wire.TooDeepError as e:
            self.log.info("request refused: nested too deep", depth=e.depth, bytes=len(data))
            rsp = fnv1.RunFunctionResponse(meta=fnv1.ResponseMeta(tag=e.tag))
            refused: bytes = _fatal(rsp, Refusal(str(e), "TooDeep"), "").SerializeToString()
            return refused
        if deep:
            with wire.lifted():
                return self._answer(req, context, started)
        return self._answer(req, context, started)

    def _answer(self, req: fnv1.RunFunctionRequest, context: ServedCall, started: float) -> bytes:
        """The kept answer to an equal request, else the one composed now, serialized."""
        # The digest only where there is a cache to look it up in (--response-cache-mib 0).
        request_key = response_cache.key(req) if self.cache.enabled else None
        cached = None if request_key is None else self.cache.get(request_key)
        if cached is not None:
            if self.observe is not None:
                rsp = fnv1.RunFunctionResponse.FromString(cached)
                self.observe(req, rsp, time.perf_counter() - started)
            return cached
        answered = self._respond(req, context, functools.partial(self._waiting, context))
        out: bytes = answered.response.SerializeToString(deterministic=True)
        if len(out) > self.response_max:
            fatal: bytes = self._oversized(req, answered.response, len(out)).SerializeToString()
            return fatal
        # Kept while an answer sent now would not outlive what it depends on once
        # Crossplane has kept it for its meta.ttl (_ttl): a preview's expiry.
        if request_key is not None:
            until = answered.holds_until - answered.response.meta.ttl.seconds
            self.cache.put(request_key, out, until)
        return out

    @contextlib.contextmanager
    def _waiting(self, context: ServedCall) -> Iterator[None]:
        """While this call waits on Vault or the Kubernetes API: another thread takes calls
        (function/transport.py) and another call composes."""
        with context.waiting(), wire.lowered(), self.turn.released():
            yield

    def _respond(
        self, req: fnv1.RunFunctionRequest, context: CallContext, waiting: Waiting
    ) -> Answer:
        # Called on one of the transport's threads (function/transport.py):
        # a call waiting on Vault holds only its own. The Vault step ends in time
        # for the answer to reach the caller before its deadline.
        started = time.perf_counter()
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining - ANSWER_MARGIN
        answered = respond(req, self.log, deadline, waiting)
        if self.observe is not None:
            self.observe(req, answered.response, time.perf_counter() - started)
        return answered

    def _oversized(
        self, req: fnv1.RunFunctionRequest, rsp: fnv1.RunFunctionResponse, size: int
    ) -> fnv1.RunFunctionResponse:
        """The FATAL answer in place of a response over response_max, naming its size and its
        largest part; logged."""
        parts = {
            f"desired resource {name!r}": r.ByteSize() for name, r in rsp.desired.resources.items()
        }
        parts["the XR's desired status"] = rsp.desired.composite.ByteSize()
        parts["the pipeline context"] = rsp.context.ByteSize()
        largest = max(parts, key=parts.__getitem__)
        subject = _subject(req)
        self.log.error(
            "response too large: answered with a FATAL result",
            size=size,
            limit=self.response_max,
            largest=largest,
            largest_size=parts[largest],
            xr=subject,
        )
        refusal = Refusal(
            f"its response would be {size} bytes, over the {self.response_max} the function "
            f"sends (--max-send-message-size); the largest part is {largest} "
            f"({parts[largest]} bytes)",
            "ResponseTooLarge",
        )
        return _fatal(
            fnv1.RunFunctionResponse(meta=fnv1.ResponseMeta(tag=req.meta.tag)), refusal, subject
        )


# The SDK's default ttl (response.DEFAULT_TTL, a minute), built once: the SDK's response.to
# builds it from a timedelta on every call. A composed answer gets its own (_write).
_DEFAULT_TTL = duration_pb2.Duration(seconds=int(response.DEFAULT_TTL.total_seconds()))


def _response_to(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
    """The SDK's response.to(req): the request's tag, desired state and context, the
    default ttl."""
    # Set field by field: a message given to the constructor is copied by serializing it
    # and parsing it back.
    rsp = fnv1.RunFunctionResponse()
    rsp.meta.tag = req.meta.tag
    rsp.meta.ttl.CopyFrom(_DEFAULT_TTL)
    rsp.desired.CopyFrom(req.desired)
    rsp.context.CopyFrom(req.context)
    return rsp


def _subject(req: fnv1.RunFunctionRequest) -> str:
    """The XR as messages name it ("Kind namespace/name"), read without converting it."""
    if not req.observed.HasField("composite"):
        return ""
    fields = req.observed.composite.resource.fields
    meta = fields["metadata"].struct_value.fields if "metadata" in fields else {}
    name = meta["name"].string_value if "name" in meta else ""
    namespace = meta["namespace"].string_value if "namespace" in meta else ""
    kind = fields["kind"].string_value if "kind" in fields else ""
    return f"{cut(kind)} {cut(namespace + '/' + name if namespace else name)}"


# A result's or condition's message is never longer than this (values in it are cut
# already, validation.SHOWN_MAX; this is the backstop, far under gRPC's 4 MiB).
MESSAGE_MAX = 16 * 1024


def _fatal(
    rsp: fnv1.RunFunctionResponse, refusal: Refusal, subject: str
) -> fnv1.RunFunctionResponse:
    """The response with the refusal as its one FATAL result about subject (the XR)."""
    rsp.results.append(
        fnv1.Result(
            severity=fnv1.SEVERITY_FATAL,
            reason=refusal.reason,
            message=cut(refusal.message(subject), MESSAGE_MAX),
            target=fnv1.TARGET_COMPOSITE,
        )
    )
    return rsp


def _credentials(req: fnv1.RunFunctionRequest) -> dict[str, Mapping[str, bytes]]:
    # The request's own maps, read in place: the request outlives the call's composing.
    return {
        name: c.credential_data.data
        for name, c in req.credentials.items()
        if c.WhichOneof("source") == "credential_data"
    }


def _required(req: fnv1.RunFunctionRequest) -> dict[str, list[JSON]]:
    # Crossplane before v2 called them extra resources; accept either.
    out: dict[str, list[JSON]] = {}
    for source in (req.extra_resources, req.required_resources):
        for name, found in source.items():
            out[name] = [object_dict(item.resource) for item in found.items]
    return out


def _observed(req: fnv1.RunFunctionRequest, readiness: Readiness) -> Observed:
    def loader(r: fnv1.Resource) -> Callable[[], JSON]:
        return lambda: object_dict(r.resource)

    loaders: dict[str, Callable[[], JSON]] = {}
    details: dict[str, Mapping[str, bytes]] = {}
    for name, r in req.observed.resources.items():
        loaders[name] = loader(r)
        if r.connection_details:
            details[name] = dict(r.connection_details)
    return Observed(loaders, readiness, details)


def _input(req: fnv1.RunFunctionRequest) -> bytes:
    return bytes(req.input.SerializeToString(deterministic=True))


def run(
    req: fnv1.RunFunctionRequest, log: Logger | None = None, deadline: float | None = None
) -> fnv1.RunFunctionResponse:
    """Compose the desired state for one request; never raises."""
    return respond(req, log, deadline).response


def respond(
    req: fnv1.RunFunctionRequest,
    log: Logger | None = None,
    deadline: float | None = None,
    waiting: Waiting = contextlib.nullcontext,
) -> Answer:
    """The answer to one request, and until when it holds; never raises.

    Anything unexpected (a bug) becomes one FATAL InternalError result and one log
    line naming the exception's type and where it was raised, never its message or
    the frames' variables, which may hold secrets. Such an answer is never kept:
    every call logs it.
    """
    try:
        if not req.observed.HasField("composite"):
            with waiting():  # mostly the Kubernetes API's or Vault's time
                return _operation(req, log)
        return _compose(req, log, deadline, waiting)
    except Exception as e:
        xr = Composite.from_object(object_dict(req.observed.composite.resource))
        what = cut(xr.kind) or "the request"
        if log is not None:
            log.error(
                "internal error",
                kind=what,
                name=cut(xr.name),
                namespace=cut(xr.namespace),
                **logs.describe_exception(e),
            )
        internal = Refusal(f"internal error composing {what}; see function logs", "InternalError")
        return Answer(_fatal(_response_to(req), internal, what), response_cache.VOLATILE)


def _compose(
    req: fnv1.RunFunctionRequest, log: Logger | None, deadline: float | None, waiting: Waiting
) -> Answer:
    """An XR's desired state: every step refuses what it cannot accept, with one FATAL."""
    rsp = _response_to(req)
    xr_object = object_dict(req.observed.composite.resource)
    xr = Composite.from_object(xr_object)
    required = _required(req)
    _settings_asked(rsp, required)
    try:
        kind = _kind(xr)
        check_composite(xr_object, namespaced=kind.api.scope == "Namespaced")
        platform = parse_input(_input(req), kind, environment_config(required))
        ctx: Context[Parameters, SettingsModel] = Context(
            xr=xr,
            params=parse_parameters(kind.api.parameters, dig(xr_object, "spec", "parameters")),
            settings=settings_of(platform, kind),
            platform=platform,
            observed=_observed(req, kind.readiness),
            credentials=_credentials(req),
            required=required,
        )
        desired = kind.compose(ctx)
        undeclared = kind.undeclared(desired.requirements)
        if undeclared:  # Crossplane holds no RBAC to fetch them (Kind.requires)
            raise RuntimeError(f"{kind.api.kind} requires undeclared kinds: {undeclared}")
    except Refusal as refusal:
        return Answer(_fatal(rsp, refusal, f"{xr.kind} {cut(xr.ref)}"))
    observed = dig(xr_object, "status", "vault")
    vault = _sync_vault(ctx, desired, log, observed, deadline, waiting=waiting)
    _write(rsp, ctx, desired, vault.retry_after if vault else None)
    return Answer(rsp, response_cache.VOLATILE if vault and vault.volatile else desired.holds_until)


def _ttl(seconds: int, retry_after: int | None, holds_until: float) -> int:
    """meta.ttl in seconds: the platform's interval, shorter when Vault asks for a retry, and
    ending at least a second before the answer stops holding (a preview's Expired=False).

    Crossplane core with --enable-function-response-cache serves a response again for an
    equal request (by meta.tag) until meta.ttl after it received it, without calling the
    function; with realtime compositions it calls again meta.ttl later (crossplane v2.3.4
    internal/xfn/cached/cached_runner.go, internal/controller/apiextensions/composite/
    reconciler.go). The second absorbs the time the answer takes to reach core; an answer
    holding less than that gets 0, which core does not cache.
    """
    if retry_after:
        seconds = min(seconds, retry_after)
    if math.isfinite(holds_until):
        left = holds_until - lifetime.clock().timestamp()
        seconds = min(seconds, max(0, math.floor(left) - 1))
    return seconds


def _settings_asked(rsp: fnv1.RunFunctionResponse, required: Mapping[str, object]) -> bool:
    """Whether the step asked Crossplane for the settings' EnvironmentConfig up front (found
    or not); a warning when it did not, as its settings are then its input alone."""
    if SETTINGS_REQUIREMENT in required:
        return True
    rsp.results.append(_SETTINGS_NOT_REQUESTED)
    return False


_SETTINGS_NOT_REQUESTED = fnv1.Result(
    severity=fnv1.SEVERITY_WARNING,
    reason="SettingsNotRequested",
    message=SETTINGS_NOT_REQUESTED,
    target=fnv1.TARGET_COMPOSITE,
)


def _kind(xr: Composite) -> AnyKind:
    kind = lookup(xr.api_version, xr.kind)
    if kind is None:
        raise Refusal(
            f"this function does not compose {cut(xr.kind)} ({cut(xr.api_version)})",
            "UnsupportedKind",
        )
    return kind


def _operation(req: fnv1.RunFunctionRequest, log: Logger | None) -> Answer:
    """An Operation (no observed composite): the Vault garbage collector
    (install/components/vault-gc) or the removal of expired XRs
    (install/components/remove-expired), as its input says. Both act on state outside the
    request, so their answers are never kept."""
    rsp = _response_to(req)
    # Nor by Crossplane core: it keeps no response of ttl 0 (crossplane v2.3.4
    # internal/xfn/cached/cached_runner.go), and an Operation reads no ttl otherwise.
    rsp.meta.ClearField("ttl")
    required = _required(req)
    try:
        if SETTINGS_REQUIREMENT not in required:  # an Operation acts on the cluster's settings
            raise Refusal(SETTINGS_NOT_REQUESTED, "InvalidInput")
        settings = parse_input(_input(req), None, environment_config(required))
        if settings.operation == "remove-expired":
            _remove_expired(req, required, rsp, log)
        else:
            _collect_vault_garbage(req, required, rsp, settings, log)
    except Refusal as refusal:
        _fatal(rsp, refusal, "")
    return Answer(rsp, response_cache.VOLATILE)


def _collect_vault_garbage(
    req: fnv1.RunFunctionRequest,
    required: Mapping[str, list[JSON]],
    rsp: fnv1.RunFunctionResponse,
    settings: PlatformSettings,
    log: Logger | None,
) -> None:
    from function.vault import operation as vaultgc  # noqa: PLC0415 (see the imports)

    output, problem = vaultgc.collect(settings, _credentials(req), required, log)
    rsp.output.CopyFrom(to_struct(output))
    if problem is not None:
        raise Refusal(problem, "VaultGarbageCollection")


def _remove_expired(
    req: fnv1.RunFunctionRequest,
    required: Mapping[str, list[JSON]],
    rsp: fnv1.RunFunctionResponse,
    log: Logger | None,
) -> None:
    from function.expiry import kubeapi, lifetime, reaper  # noqa: PLC0415 (see the imports)

    # Each expiring kind's settings, for the lifetime its composer gives (a preview's default).
    config = environment_config(required)
    settings = {
        name: settings_of(parse_input(_input(req), kind, config), kind)
        for name, kind in reaper.EXPIRING.items()
    }
    api: kubeapi.APIServer | None = None
    try:
        api = kubeapi.APIServer.in_cluster()
    except kubeapi.KubeAPIError as e:
        no_api = f"{e.reason}: {e.message}"
    output, problem = reaper.remove_expired(required, api, lifetime.clock(), log, settings)
    rsp.output.CopyFrom(to_struct(output))
    if problem is not None:
        raise Refusal(problem if api else f"{no_api}; {problem}", "RemoveExpired")


def _sync_vault(
    ctx: Context[Parameters, SettingsModel],
    desired: Desired,
    log: Logger | None,
    observed: JSON | None,
    deadline: float | None,
    *,
    waiting: Waiting,
) -> vaultsync.Outcome | None:
    """Apply the kind's Vault intents and remove what the observed status.vault names and the
    intents no longer do; what came of it joins the desired state as plain data. None when
    there was nothing to do."""
    if not desired.vault and not observed:
        return None  # nothing to apply and nothing recorded to remove
    stale = vaultsync.stale(ctx.xr, observed, desired.vault, ctx.platform)
    if not desired.vault and not stale:
        return None
    with waiting():
        outcome = vaultsync.sync(
            ctx.xr, [*desired.vault, *stale], ctx.platform, ctx.credentials, log, deadline=deadline
        )
    desired.warnings.extend(outcome.warnings())
    desired.conditions.append(outcome.condition())
    if isinstance(desired.status, VaultReporting):
        where = vaultsync.status_of(desired.vault, ctx.platform)
        if where.path or where.credentialsPath:
            desired.status.vault = where
        elif stale and not outcome.ok:
            # Keep the record of what is still to remove, so the next call retries it.
            desired.status.vault = vaultsync.recorded(observed)
    return outcome


def _phase(ready: Mapping[str, bool], failing: bool) -> tuple[str, bool]:
    """The XR's phase from its composed resources' readiness, and whether all are ready."""
    if failing:
        return "Degraded", False
    all_ready = all(ready.values())
    return ("Ready" if all_ready else "Provisioning"), all_ready


def _write(
    rsp: fnv1.RunFunctionResponse,
    ctx: Context[Parameters, SettingsModel],
    desired: Desired,
    retry_after: int | None,
) -> None:
    observed = {name: ctx.observed.get(name) for name in sorted(desired.resources)}
    ready = {name: ctx.observed.ready(name) for name in observed}
    phase, all_ready = _phase(ready, any(is_failing(o) for o in observed.values()))
    status: JSON = desired.status.model_dump(exclude_none=True) if desired.status else {}
    status["phase"] = phase
    composed = [(name, desired.resources[name], _READY[ready[name]]) for name in observed]
    merge_state(rsp.desired, composed, {"status": status})

    for key in sorted(desired.requirements):
        sel = desired.requirements[key]
        response.require_resources(
            rsp,
            key,
            sel.api_version,
            sel.kind,
            match_labels=dict(sel.labels) if sel.labels else None,
            match_name=None if sel.labels else sel.name,
            namespace=sel.namespace,
        )
    for warning in desired.warnings:
        _warn(rsp, warning)
    for condition in desired.conditions:
        _condition(rsp, condition)
    ttl = ctx.platform.ttl
    seconds = ttl.readySeconds if all_ready else ttl.provisioningSeconds
    rsp.meta.ttl.FromSeconds(_ttl(seconds, retry_after, desired.holds_until))


def _warn(rsp: fnv1.RunFunctionResponse, warning: WarningResult) -> None:
    rsp.results.append(
        fnv1.Result(
            severity=fnv1.SEVERITY_WARNING,
            reason=warning.reason or None,
            message=cut(warning.message, MESSAGE_MAX),
            target=fnv1.TARGET_COMPOSITE,
        )
    )


def _condition(rsp: fnv1.RunFunctionResponse, c: resource.Condition) -> None:
    rsp.conditions.append(
        fnv1.Condition(
            type=c.typ,
            status=_STATUS.get(c.status, fnv1.STATUS_CONDITION_UNKNOWN),
            reason=c.reason or "",
            message=cut(c.message, MESSAGE_MAX) if c.message else None,
            target=fnv1.TARGET_COMPOSITE,
        )
    )
