"""Composer tests without protobuf: a Context built the way the runner builds it.

The parameters and the function input go through the same parsing as a real
request (Kind.context, function_input()), so a test cannot hand a composer
something the function would have refused.
"""

from collections.abc import Mapping
from typing import Any

from function.context import Composite, Context, Desired, Observed, P, S
from function.input import function_input
from function.kind import Kind
from function.structs import JSON

PASSWORD_KEY = b"test-password-key"


def context(
    kind: Kind[P, S],
    parameters: Any,
    *,
    name: str = "app",
    namespace: str = "team-a",
    observed: Mapping[str, JSON] | None = None,
    connection_details: Mapping[str, Mapping[str, bytes]] | None = None,
    required: Mapping[str, list[JSON]] | None = None,
    settings: JSON | None = None,
    credentials: Mapping[str, Mapping[str, bytes]] | None = None,
) -> Context[P, S]:
    """The context of an XR of kind with these parameters; AssertionError if they are invalid.

    namespace="" is a cluster-scoped XR; connection_details are the observed resources'
    (what Crossplane read from their connection Secrets).
    """
    ctx = kind.context(
        xr=Composite(
            api_version=kind.api.api_version,
            kind=kind.api.kind,
            name=name,
            namespace=namespace,
            uid=f"uid-{namespace}-{name}",
        ),
        parameters=parameters,
        settings=function_input().model_validate(settings or {}),
        observed=Observed.of(observed or {}, connection_details),
        credentials=(
            {"platform": {"password-key": PASSWORD_KEY}} if credentials is None else credentials
        ),
        required=required or {},
    )
    assert not isinstance(ctx, list), f"invalid parameters: {ctx}"
    return ctx


def status(desired: Desired) -> JSON:
    """The status the composer set, as it is written to the XR (unset fields left out)."""
    return desired.status.model_dump(exclude_none=True) if desired.status else {}


class NoDeadline:
    """A servicer context of a call without a deadline: all RunFunction reads of its context."""

    def time_remaining(self) -> float | None:
        return None
