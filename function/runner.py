"""Request plumbing: RunFunctionRequest in, RunFunctionResponse out.

Everything kind-specific lives in the kinds' packages; this module parses the
input, dispatches on the XR's kind, lets the Vault service apply the kind's
intents, and is the one place that writes the response: desired resources with
their readiness, XR status and conditions, requirements, results and the TTL.
"""

import time
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from crossplane.function import logging, resource, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from google.protobuf.message import DecodeError

from function import answers, logs
from function.catalogue import lookup
from function.context import ComposeError, Composite, Context, Desired, Observed, WarningResult
from function.input import parse_input
from function.kind import Kind
from function.platform import PlatformSettings
from function.readiness import is_failing
from function.structs import JSON, dig, merge_into, to_dict, to_struct
from function.validation import composite_problems, cut, joined
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


# What is told of every call: function/metrics.py's observe under --metrics-port.
Observe = Callable[[fnv1.RunFunctionRequest, fnv1.RunFunctionResponse, float], None]


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """The gRPC servicer Crossplane calls."""

    def __init__(
        self, remembered: answers.Answers | None = None, observe: Observe | None = None
    ) -> None:
        self.log = logging.get_logger()
        self.remembered = remembered or answers.Answers(0)
        self.observe = observe

    def RunFunction(  # noqa: N802 (gRPC's name)
        self, req: fnv1.RunFunctionRequest, context: grpc.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        """One call as messages (v1beta1 and in-process callers); never remembered."""
        rsp, _ = self._compose(req, context)
        return rsp

    def answer(self, data: bytes, context: grpc.ServicerContext) -> bytes:
        """One v1 call as the server receives it, serialized: a remembered answer to an
        equal request comes back as it was kept (function/answers.py)."""
        started = time.perf_counter()
        try:
            req = fnv1.RunFunctionRequest.FromString(data)
        except DecodeError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a RunFunctionRequest")
        request_key = answers.key(req)
        remembered = self.remembered.get(request_key)
        if remembered is not None:
            if self.observe is not None:
                rsp = fnv1.RunFunctionResponse.FromString(remembered)
                self.observe(req, rsp, time.perf_counter() - started)
            return remembered
        rsp, until = self._compose(req, context)
        out: bytes = rsp.SerializeToString(deterministic=True)
        self.remembered.put(request_key, out, until)  # not kept when until has passed
        return out

    def _compose(
        self, req: fnv1.RunFunctionRequest, context: grpc.ServicerContext
    ) -> tuple[fnv1.RunFunctionResponse, float]:
        # Called on one of the threaded server's threads (function/server.py):
        # a call waiting on Vault holds only its own. The Vault step ends in time
        # for the answer to reach the caller before its deadline.
        started = time.perf_counter()
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining - ANSWER_MARGIN
        rsp, until = answers.run_tracked(lambda: run(req, self.log, deadline))
        if self.observe is not None:
            self.observe(req, rsp, time.perf_counter() - started)
        return rsp, until


# A result's or condition's message is never longer than this (values in it are cut
# already, validation.SHOWN_MAX; this is the backstop, far under gRPC's 4 MiB).
MESSAGE_MAX = 16 * 1024


def _fatal(rsp: fnv1.RunFunctionResponse, reason: str, message: str) -> fnv1.RunFunctionResponse:
    rsp.results.append(
        fnv1.Result(
            severity=fnv1.SEVERITY_FATAL,
            reason=reason,
            message=cut(message, MESSAGE_MAX),
            target=fnv1.TARGET_COMPOSITE,
        )
    )
    return rsp


def _credentials(req: fnv1.RunFunctionRequest) -> dict[str, Mapping[str, bytes]]:
    return {
        name: dict(c.credential_data.data)
        for name, c in req.credentials.items()
        if c.WhichOneof("source") == "credential_data"
    }


def _required(req: fnv1.RunFunctionRequest) -> dict[str, list[JSON]]:
    # Crossplane before v2 called them extra resources; accept either.
    out: dict[str, list[JSON]] = {}
    for source in (req.extra_resources, req.required_resources):
        for name, found in source.items():
            out[name] = [to_dict(item.resource) for item in found.items]
    return out


def _observed(req: fnv1.RunFunctionRequest) -> Observed:
    def loader(r: fnv1.Resource) -> Callable[[], JSON]:
        return lambda: to_dict(r.resource)

    resources = req.observed.resources
    return Observed(
        {name: loader(r) for name, r in resources.items()},
        {name: dict(r.connection_details) for name, r in resources.items() if r.connection_details},
    )


def _input(req: fnv1.RunFunctionRequest, kind: Kind[Any, Any] | None) -> PlatformSettings | str:
    """The parsed function input for an XR of kind (None: an Operation), or its FATAL's message."""
    settings = parse_input(req.input.SerializeToString(deterministic=True), kind)
    if isinstance(settings, tuple):
        return "invalid function input: " + joined(list(settings))
    return settings


def run(
    req: fnv1.RunFunctionRequest, log: Any = None, deadline: float | None = None
) -> fnv1.RunFunctionResponse:
    """Compose the desired state for one request; never raises.

    Anything unexpected (a bug) becomes one FATAL InternalError result and one log
    line naming the exception's type and where it was raised, never its message or
    the frames' variables, which may hold secrets.
    """
    try:
        return _run(req, log, deadline)
    except Exception as e:
        answers.mark_volatile()  # a bug's answer is not kept: every call logs it
        xr = Composite.from_object(to_dict(req.observed.composite.resource))
        what = cut(xr.kind) or "the request"
        if log is not None:
            log.error(
                "internal error",
                kind=what,
                name=cut(xr.name),
                namespace=cut(xr.namespace),
                **logs.describe_exception(e),
            )
        return _fatal(
            response.to(req), "InternalError", f"internal error composing {what}; see function logs"
        )


def _run(
    req: fnv1.RunFunctionRequest, log: Any, deadline: float | None
) -> fnv1.RunFunctionResponse:
    rsp = response.to(req)
    if not req.observed.HasField("composite"):
        return _operation(req, rsp, log)
    xr_object = to_dict(req.observed.composite.resource)
    xr = Composite.from_object(xr_object)
    kind = lookup(xr.api_version, xr.kind)
    if kind is None:
        return _fatal(
            rsp,
            "UnsupportedKind",
            f"this function does not compose {cut(xr.kind)} ({cut(xr.api_version)})",
        )
    title = f"{xr.kind} {cut(xr.ref)}"
    shape = composite_problems(xr_object, namespaced=kind.api.scope == "Namespaced")
    if shape:
        return _fatal(rsp, "InvalidComposite", f"invalid {title}: " + joined(shape))
    settings = _input(req, kind)
    if isinstance(settings, str):
        return _fatal(rsp, "InvalidInput", settings)
    ctx = kind.context(
        xr=xr,
        parameters=dig(xr_object, "spec", "parameters"),
        settings=settings,
        observed=_observed(req),
        credentials=_credentials(req),
        required=_required(req),
    )
    if isinstance(ctx, list):
        return _fatal(rsp, "InvalidParameters", f"invalid {title}: " + joined(ctx))
    try:
        desired = kind.compose(ctx)
    except ComposeError as e:
        return _fatal(rsp, "ComposeFailed", f"cannot compose {title}: {e}")
    retry_after = _sync_vault(ctx, desired, log, dig(xr_object, "status", "vault"), deadline)
    _write(rsp, kind, ctx, desired, retry_after)
    return rsp


def _operation(
    req: fnv1.RunFunctionRequest, rsp: fnv1.RunFunctionResponse, log: Any
) -> fnv1.RunFunctionResponse:
    """An Operation (no observed composite): the Vault garbage collector (install/vault-gc.yaml)
    or the removal of expired XRs (install/remove-expired.yaml), as its input says."""
    answers.mark_volatile()  # both act on state outside the request
    settings = _input(req, None)
    if isinstance(settings, str):
        return _fatal(rsp, "InvalidInput", settings)
    if settings.operation == "remove-expired":
        return _remove_expired(req, rsp, log)
    from function.vault import operation as vaultgc  # noqa: PLC0415 (see the imports)

    output, problem = vaultgc.collect(settings, _credentials(req), _required(req), log)
    rsp.output.CopyFrom(to_struct(output))
    if problem is not None:
        return _fatal(rsp, "VaultGarbageCollection", problem)
    return rsp


def _remove_expired(
    req: fnv1.RunFunctionRequest, rsp: fnv1.RunFunctionResponse, log: Any
) -> fnv1.RunFunctionResponse:
    from function.expiry import kubeapi, lifetime, reaper  # noqa: PLC0415 (see the imports)

    api: kubeapi.APIServer | None = None
    try:
        api = kubeapi.APIServer.in_cluster()
    except kubeapi.KubeAPIError as e:
        no_api = f"{e.reason}: {e.message}"
    output, problem = reaper.remove_expired(_required(req), api, lifetime.now(), log)
    rsp.output.CopyFrom(to_struct(output))
    if problem is not None:
        return _fatal(rsp, "RemoveExpired", problem if api else f"{no_api}; {problem}")
    return rsp


def _sync_vault(
    ctx: Context[Any, Any],
    desired: Desired,
    log: Any,
    observed: JSON | None,
    deadline: float | None,
) -> int | None:
    """Apply the kind's Vault intents and remove what the observed status.vault names and the
    intents no longer do; what came of it joins the desired state as plain data."""
    if not desired.vault and not observed:
        return None  # nothing to apply and nothing recorded to remove
    stale = vaultsync.stale(ctx.xr, observed, desired.vault, ctx.platform)
    if not desired.vault and not stale:
        return None
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
    return outcome.retry_after


def _phase(ready: Mapping[str, bool], failing: bool) -> tuple[str, bool]:
    """The XR's phase from its composed resources' readiness, and whether all are ready."""
    if failing:
        return "Degraded", False
    all_ready = all(ready.values())
    return ("Ready" if all_ready else "Provisioning"), all_ready


def _write(
    rsp: fnv1.RunFunctionResponse,
    kind: Kind[Any, Any],
    ctx: Context[Any, Any],
    desired: Desired,
    retry_after: int | None,
) -> None:
    observed = {name: ctx.observed.get(name) for name in sorted(desired.resources)}
    ready = {name: kind.readiness.is_ready(obj) for name, obj in observed.items()}
    for name in observed:
        target = rsp.desired.resources[name]
        merge_into(target.resource, desired.resources[name])
        target.ready = _READY[ready[name]]

    phase, all_ready = _phase(ready, any(is_failing(o) for o in observed.values()))
    status: JSON = desired.status.model_dump(exclude_none=True) if desired.status else {}
    status["phase"] = phase
    merge_into(rsp.desired.composite.resource, {"status": status})

    for key in sorted(ctx.requirements):
        sel = ctx.requirements[key]
        response.require_resources(
            rsp, key, sel.api_version, sel.kind, match_name=sel.name, namespace=sel.namespace
        )
    for warning in desired.warnings:
        _warn(rsp, warning)
    for condition in desired.conditions:
        _condition(rsp, condition)
    ttl = ctx.platform.ttl
    seconds = ttl.readySeconds if all_ready else ttl.provisioningSeconds
    rsp.meta.ttl.FromSeconds(min(seconds, retry_after) if retry_after else seconds)


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
