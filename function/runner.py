"""Request plumbing: RunFunctionRequest in, RunFunctionResponse out.

Everything kind-specific lives in the kinds' packages; this module parses the
input, dispatches on the XR's kind, lets the Vault service apply the kind's
intents, and is the one place that writes the response: desired resources with
their readiness, XR status and conditions, requirements, results and the TTL.
"""

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from crossplane.function import logging, resource, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from function.catalogue import lookup
from function.context import ComposeError, Composite, Context, Desired, Observed, WarningResult
from function.input import parse_input
from function.kind import Kind
from function.platform import PlatformSettings
from function.readiness import is_failing
from function.structs import JSON, to_dict, to_struct
from function.vault import operation as vaultgc
from function.vault import sync as vaultsync
from function.vault.model import VaultReporting

_READY = {True: fnv1.READY_TRUE, False: fnv1.READY_FALSE}
_STATUS = {
    "True": fnv1.STATUS_CONDITION_TRUE,
    "False": fnv1.STATUS_CONDITION_FALSE,
    "Unknown": fnv1.STATUS_CONDITION_UNKNOWN,
}


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """The gRPC servicer Crossplane calls."""

    def __init__(self) -> None:
        self.log = logging.get_logger()

    async def RunFunction(  # noqa: N802 (gRPC's name)
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        # In a worker thread: the Vault step blocks on the network (hvac), and
        # a slow Vault must not hold up the event loop serving other calls.
        return await asyncio.to_thread(run, req, self.log)


def _fatal(rsp: fnv1.RunFunctionResponse, reason: str, message: str) -> fnv1.RunFunctionResponse:
    rsp.results.append(
        fnv1.Result(
            severity=fnv1.SEVERITY_FATAL,
            reason=reason,
            message=message,
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


def _input(req: fnv1.RunFunctionRequest) -> PlatformSettings | str:
    """The parsed function input, or the message of its FATAL."""
    settings = parse_input(req.input.SerializeToString(deterministic=True))
    if isinstance(settings, tuple):
        return "invalid function input: " + "; ".join(settings)
    return settings


def run(req: fnv1.RunFunctionRequest, log: Any = None) -> fnv1.RunFunctionResponse:
    """Compose the desired state for one request."""
    rsp = response.to(req)
    if not req.observed.HasField("composite"):
        return _operation(req, rsp, log)
    xr_object = to_dict(req.observed.composite.resource)
    xr = Composite.from_object(xr_object)
    kind = lookup(xr.api_version, xr.kind)
    if kind is None:
        return _fatal(
            rsp, "UnsupportedKind", f"this function does not compose {xr.kind} ({xr.api_version})"
        )
    settings = _input(req)
    if isinstance(settings, str):
        return _fatal(rsp, "InvalidInput", settings)
    ctx = kind.context(
        xr=xr,
        parameters=xr_object.get("spec", {}).get("parameters"),
        settings=settings,
        observed=_observed(req),
        credentials=_credentials(req),
        required=_required(req),
    )
    if isinstance(ctx, list):
        return _fatal(
            rsp,
            "InvalidParameters",
            f"invalid {xr.kind} {xr.ref}: " + "; ".join(ctx),
        )
    try:
        desired = kind.compose(ctx)
    except ComposeError as e:
        return _fatal(rsp, "ComposeFailed", f"cannot compose {xr.kind} {xr.ref}: {e}")
    except Exception:  # a bug: say so without a traceback in the result, log it for us
        if log is not None:
            log.exception("composer failed", kind=xr.kind, name=xr.name, namespace=xr.namespace)
        return _fatal(
            rsp, "InternalError", f"internal error composing {xr.kind}; see function logs"
        )
    retry_after = _sync_vault(ctx, desired, log, xr_object.get("status", {}).get("vault"))
    _write(rsp, kind, ctx, desired, retry_after)
    return rsp


def _operation(
    req: fnv1.RunFunctionRequest, rsp: fnv1.RunFunctionResponse, log: Any
) -> fnv1.RunFunctionResponse:
    """An Operation (no observed composite): the Vault garbage collector (install/vault-gc.yaml)."""
    settings = _input(req)
    if isinstance(settings, str):
        return _fatal(rsp, "InvalidInput", settings)
    output, problem = vaultgc.collect(settings, _credentials(req), _required(req), log)
    rsp.output.CopyFrom(to_struct(output))
    if problem is not None:
        return _fatal(rsp, "VaultGarbageCollection", problem)
    return rsp


def _sync_vault(
    ctx: Context[Any, Any], desired: Desired, log: Any, observed: JSON | None
) -> int | None:
    """Apply the kind's Vault intents and remove what the observed status.vault names and the
    intents no longer do; what came of it joins the desired state as plain data."""
    stale = vaultsync.stale(ctx.xr, observed, desired.vault, ctx.platform)
    if not desired.vault and not stale:
        return None
    outcome = vaultsync.sync(ctx.xr, [*desired.vault, *stale], ctx.platform, ctx.credentials, log)
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
        target.resource.CopyFrom(to_struct(desired.resources[name]))
        target.ready = _READY[ready[name]]

    phase, all_ready = _phase(ready, any(is_failing(o) for o in observed.values()))
    status: JSON = desired.status.model_dump(exclude_none=True) if desired.status else {}
    status["phase"] = phase
    rsp.desired.composite.resource.update({"status": status})

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
            message=warning.message,
            target=fnv1.TARGET_COMPOSITE,
        )
    )


def _condition(rsp: fnv1.RunFunctionResponse, c: resource.Condition) -> None:
    rsp.conditions.append(
        fnv1.Condition(
            type=c.typ,
            status=_STATUS.get(c.status, fnv1.STATUS_CONDITION_UNKNOWN),
            reason=c.reason or "",
            message=c.message or None,
            target=fnv1.TARGET_COMPOSITE,
        )
    )
