"""Request plumbing: RunFunctionRequest in, RunFunctionResponse out.

Everything kind-specific lives in the composers; this module parses and
checks the input, dispatches on the XR's kind, and writes what the composer
wants into the response: desired resources with their readiness, XR status
and conditions, requirements, results and the TTL.
"""

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

import grpc
from crossplane.function import logging, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from google.protobuf import struct_pb2
from pydantic import ValidationError

from function import readiness
from function.catalogue import lookup
from function.context import ComposeError, Composite, Context, Desired, Observed
from function.settings import FunctionSettings
from function.structs import JSON, to_dict, to_struct
from function.validation import describe, parse_parameters
from function.vault import sync as vaultsync

_READY = {True: fnv1.READY_TRUE, False: fnv1.READY_FALSE}


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


def _settings(req: fnv1.RunFunctionRequest) -> FunctionSettings | tuple[str, ...]:
    # A Composition's input is the same on every call: parse each distinct one once.
    return _parse_settings(req.input.SerializeToString(deterministic=True))


@functools.lru_cache(maxsize=64)
def _parse_settings(serialized_input: bytes) -> FunctionSettings | tuple[str, ...]:
    raw = to_dict(struct_pb2.Struct.FromString(serialized_input)).get("spec", {})
    try:
        return FunctionSettings.model_validate(raw)  # frozen: safe to share between calls
    except ValidationError as e:
        return tuple(describe(err, base="input.spec") for err in e.errors(include_url=False))


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


def run(req: fnv1.RunFunctionRequest, log: Any = None) -> fnv1.RunFunctionResponse:
    """Compose the desired state for one request."""
    rsp = response.to(req)
    xr_object = to_dict(req.observed.composite.resource)
    xr = Composite.from_object(xr_object)
    entry = lookup(xr.api_version, xr.kind)
    if entry is None:
        return _fatal(
            rsp, "UnsupportedKind", f"this function does not compose {xr.kind} ({xr.api_version})"
        )
    settings = _settings(req)
    if isinstance(settings, tuple):
        return _fatal(rsp, "InvalidInput", "invalid function input: " + "; ".join(settings))
    params = parse_parameters(entry.api.parameters, xr_object.get("spec", {}).get("parameters"))
    if isinstance(params, list):
        return _fatal(
            rsp,
            "InvalidParameters",
            f"invalid {xr.kind} {xr.namespace}/{xr.name}: " + "; ".join(params),
        )
    ctx: Context[Any] = Context(
        xr=xr,
        params=params,
        settings=settings,
        observed=Observed(req.observed.resources),
        credentials=_credentials(req),
        required=_required(req),
    )
    try:
        desired = entry.compose(ctx)
    except ComposeError as e:
        return _fatal(
            rsp, "ComposeFailed", f"cannot compose {xr.kind} {xr.namespace}/{xr.name}: {e}"
        )
    except Exception:  # a bug: say so without a traceback in the result, log it for us
        if log is not None:
            log.exception("composer failed", kind=xr.kind, name=xr.name, namespace=xr.namespace)
        return _fatal(
            rsp, "InternalError", f"internal error composing {xr.kind}; see function logs"
        )
    vault = (
        vaultsync.sync(xr, desired.vault, settings, ctx.credentials, log) if desired.vault else None
    )
    _write(rsp, ctx, desired)
    if vault is not None:
        vault.write(rsp)
    return rsp


def _phase(ctx: Context[Any], desired: Desired) -> tuple[str, bool]:
    observed = [ctx.observed.get(name) for name in desired.resources]
    if any(readiness.is_failing(o) for o in observed):
        return "Degraded", False
    ready = all(readiness.is_ready(o) for o in observed)
    return ("Ready" if ready else "Provisioning"), ready


def _write(rsp: fnv1.RunFunctionResponse, ctx: Context[Any], desired: Desired) -> None:
    for name in sorted(desired.resources):
        target = rsp.desired.resources[name]
        target.resource.CopyFrom(to_struct(desired.resources[name]))
        target.ready = _READY[readiness.is_ready(ctx.observed.get(name))]

    phase, all_ready = _phase(ctx, desired)
    status: JSON = desired.status.model_dump(exclude_none=True) if desired.status else {}
    status["phase"] = phase
    if desired.vault and (vault := vaultsync.status(desired.vault, ctx.settings)):
        status["vault"] = vault
    rsp.desired.composite.resource.update({"status": status})

    for key in sorted(ctx.requirements):
        sel = ctx.requirements[key]
        response.require_resources(
            rsp, key, sel.api_version, sel.kind, match_name=sel.name, namespace=sel.namespace
        )
    for message in desired.warnings:
        response.warning(rsp, message)
    response.set_conditions(rsp, *desired.conditions)
    ttl = ctx.settings.ttl
    rsp.meta.ttl.FromSeconds(ttl.readySeconds if all_ready else ttl.provisioningSeconds)
