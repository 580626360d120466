"""Composer tests without protobuf: a Context built the way the runner builds it.

The parameters and the function input go through the same parsing as a real
request (parse_parameters, function_input(), input.settings_of), so a test cannot hand
a composer something the function would have refused.
"""

from collections.abc import Mapping
from typing import Any

from function.context import Composite, Context, Desired, Observed, P, S
from function.input import function_input, settings_of
from function.kind import Kind
from function.model import Parameters
from function.refusal import Refusal
from function.structs import JSON
from function.validation import parse_parameters

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
    platform = function_input().model_validate(settings or {})
    try:
        params = parse_parameters(kind.api.parameters, parameters)
    except Refusal as refusal:
        raise AssertionError(f"invalid parameters: {list(refusal.problems)}") from None
    return Context(
        xr=Composite(
            api_version=kind.api.api_version,
            kind=kind.api.kind,
            name=name,
            namespace=namespace,
            uid=f"uid-{namespace}-{name}",
        ),
        params=params,
        settings=settings_of(platform, kind),
        platform=platform,
        observed=Observed.of(observed or {}, kind.readiness, connection_details),
        credentials=(
            {"platform": {"password-key": PASSWORD_KEY}} if credentials is None else credentials
        ),
        required=required or {},
    )


def refused(model: type[Parameters], parameters: Any) -> list[str] | None:
    """The problems parse_parameters names in parameters (None: they are valid)."""
    try:
        parse_parameters(model, parameters)
    except Refusal as refusal:
        return list(refusal.problems)
    return None


def status(desired: Desired) -> JSON:
    """The status the composer set, as it is written to the XR (unset fields left out)."""
    return desired.status.model_dump(exclude_none=True) if desired.status else {}


class NoDeadline:
    """A servicer context of a call without a deadline: all RunFunction reads of its context."""

    def time_remaining(self) -> float | None:
        return None


def profile_ref(name: str, uid: str = "") -> JSON:
    """The reference Kubeflow's profile controller puts on the namespace it creates: the
    Profile of the same name as its controller (kubeflow/dashboard v2.0.0
    profile_controller.go, controllerutil.SetControllerReference)."""
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "Profile",
        "name": name,
        "uid": uid or f"uid-profile-{name}",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def namespace(name: str, controller: JSON | None) -> JSON:
    """A Namespace, with controller as its controller reference when given."""
    meta: JSON = {"name": name}
    if controller is not None:
        meta["ownerReferences"] = [controller]
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def profile_namespace(name: str, uid: str = "") -> JSON:
    """A workspace Namespace as Kubeflow's profile controller creates it."""
    return namespace(name, profile_ref(name, uid))
