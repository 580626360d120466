"""A catalogue entry: everything the shared code needs to know about one composite kind.

Each kind's package (function/kinds/<kind>/__init__.py) builds one Kind; the
catalogue lists them. The XRD and Composition generator, the function input,
the dispatcher, readiness, validation and the test harness all read a kind
from here, so adding a kind touches nothing outside its folder but one
catalogue line.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias

from function.context import SECRET, Composite, Context, Desired, P, RequiredKind, S, Selector
from function.model import CompositeAPI
from function.readiness import Readiness
from function.structs import JSON, api_group


@dataclass(frozen=True)
class Kind(Generic[P, S]):
    """One composite kind: its API, its input section, its composer and what it composes."""

    api: CompositeAPI[P]
    # The kind's section of the function input: input.spec.<input_field>.
    input_field: str
    settings: type[S]
    compose: Callable[[Context[P, S]], Desired]
    readiness: Readiness
    # Upstream CRDs of what it composes, as paths under $SHARED (deps/upstream.yaml lists them).
    crds: tuple[str, ...] = ()
    # Helm chart name -> folder under $SHARED/schemas/charts with its values.schema.json.
    chart_values_schemas: Mapping[str, str] = field(default_factory=dict)
    # Built-in Kubernetes resources it composes, as (API group, plural): ("", "secrets").
    builtins: tuple[tuple[str, str], ...] = (("", "secrets"),)
    # Rules a Role it composes grants: Crossplane must hold them itself to create that Role
    # (Kubernetes' escalation check), so they join Crossplane's ClusterRole.
    granted: tuple[JSON, ...] = ()
    # Kinds its composer may ask Crossplane to fetch (Desired.require): Crossplane is given
    # get, list and watch on them, and a requirement of any other kind is a bug.
    requires: tuple[RequiredKind, ...] = (SECRET,)
    # For a kind whose XRs expire (its status has expiresAt): an XR's lifetime from its
    # identity, parameters and settings, None when it has none, a Refusal when the kind does
    # not accept it. Its composer and the remove-expired Operation both ask it, so what an
    # XR is told and what deletes it cannot disagree.
    lifetime: Callable[[Composite, P, S], str | None] | None = None

    def resources(self) -> set[tuple[str, str]]:
        """(API group, plural) of everything it composes, for Crossplane's RBAC.

        CRD files are named <group>_<plural>.yaml, as controller-gen writes them
        (the catalogue test checks each name against the CRD it holds).
        """
        out = set(self.builtins)
        for path in self.crds:
            group, _, plural = path.rsplit("/", 1)[-1].removesuffix(".yaml").partition("_")
            out.add((group, plural))
        return out

    def undeclared(self, requirements: Mapping[str, Selector]) -> list[str]:
        """The requirements whose kind is not in requires: Crossplane could not fetch them."""
        if not requirements:
            return []
        declared = {(api_group(r.api_version), r.kind) for r in self.requires}
        return sorted(
            key
            for key, sel in requirements.items()
            if (api_group(sel.api_version), sel.kind) not in declared
        )

    @property
    def package(self) -> str:
        """The kind's package, e.g. function.kinds.redisinstance."""
        return self.compose.__module__.rsplit(".", 1)[0]


# A kind of any parameters and settings. The catalogue imports kinds by name, so their
# types are not known statically, and a Kind is invariant in both (its composer reads
# them, its API builds them): only Any lets every kind be one value of this type.
AnyKind: TypeAlias = Kind[Any, Any]
