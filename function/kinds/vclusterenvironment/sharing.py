"""One environment per namespace.

Each environment brings the namespace a LimitRange and a ResourceQuota. With two
LimitRanges, Kubernetes' LimitRanger applies the defaults of each in turn
(plugin/pkg/admission/limitranger: a default is set only where the container sets
none), in the order it lists them: which environment's defaults a pod gets is not
determined, and two quotas bound the same pods twice. So the namespace's
VClusterEnvironments are read (a required resource listing the kind in the XR's
namespace) and every one but the first is refused.

A FATAL, not a warning and a wait: nothing resolves it but a person deleting or
moving one of them, and a FATAL composes nothing. The first is the one that has
composed (Crossplane lists what it composed in spec.crossplane.resourceRefs), else
the oldest (creation time, then name). An environment that has already composed its
vCluster is never refused: a FATAL would freeze it.
"""

from function.context import RequiredKind, Selector
from function.kinds.vclusterenvironment.model import API
from function.kinds.vclusterenvironment.settings import EnvironmentContext
from function.observed import objects, text
from function.refusal import Refusal
from function.structs import JSON

ENVIRONMENTS = "environments"  # required resource key
ENVIRONMENT_KIND = RequiredKind(API.api_version, API.kind, API.plural)


def requirement(ctx: EnvironmentContext) -> Selector:
    """Every VClusterEnvironment in the XR's namespace."""
    return ENVIRONMENT_KIND.every(ctx.xr.namespace)


def _others(ctx: EnvironmentContext) -> list[JSON]:
    """The namespace's other environments, as fetched (items of another shape left out)."""
    return [
        env
        for env in ctx.required.get(ENVIRONMENTS, [])
        if env.get("kind") == API.kind
        and text(env, "metadata", "namespace") == ctx.xr.namespace
        and text(env, "metadata", "name") not in (None, "", ctx.xr.name)
    ]


def _first(env: JSON, created: str, name: str) -> bool:
    """Whether env came before the environment created at `created` named `name`."""
    if objects(env, "spec", "crossplane", "resourceRefs"):
        return True
    theirs = (text(env, "metadata", "creationTimestamp") or "", text(env, "metadata", "name"))
    return bool(theirs[0]) and theirs < (created, name)


def refuse_second(ctx: EnvironmentContext, composed_already: bool) -> None:
    """A FATAL when another environment holds the namespace and this one has composed nothing."""
    if composed_already:
        return
    first = sorted(
        str(text(env, "metadata", "name"))
        for env in _others(ctx)
        if _first(env, ctx.xr.created, ctx.xr.name)
    )
    if first:
        raise Refusal(
            f"metadata.namespace: namespace {ctx.xr.namespace!r} already has "
            f"VClusterEnvironment {first[0]!r}; a second one would add a second LimitRange and "
            "ResourceQuota, and which LimitRange's defaults a pod gets would not be determined: "
            "create this environment in a namespace of its own"
        )
