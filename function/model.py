"""What every composite kind's API is made of: parameters, status, cross-field rules, XRD facts.

A kind's own models live in its package (function/kinds/<kind>/model.py);
the XRDs are generated from them (generate/crossplane.py, at build time). The strict base
model and the section helper here are also those of the function input (function/settings.py).
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from function.formats import DNS_1123_LABEL
from function.naming import dns_label

API_VERSION = "v1alpha1"
DOMAIN = "platform.example.org"

Environment = Literal["dev", "staging", "uat", "preprod", "production", "sandbox"]
ENVIRONMENT_FIELD = Field(
    description="Environment the instance belongs to; picks per-environment defaults.",
)
# A team's name: a DNS label, which is also a valid label value (at most 63 characters).
Team = Annotated[str, Field(pattern=DNS_1123_LABEL, max_length=63)]
TEAM_FIELD = Field(
    description="The team the instance belongs to (a DNS label): what the platform's "
    "policies and cost reports select it by.",
)
# Governance labels: what policies (network, admission, cost) select a team's and an
# environment's objects by. One key each, for every kind that sets them.
ENVIRONMENT_LABEL = f"{DOMAIN}/environment"
TEAM_LABEL = f"{DOMAIN}/team"


def kubernetes_version_pattern(minors: tuple[str, ...]) -> str:
    """vX.Y.Z of one of these minors ("1.36"): the pattern of a kubernetesVersion parameter.

    The patch has at most nine digits: what the function reads as a number
    (function.observed.digits) and far within the int64 of the XRD's CEL, whose int() of a
    longer one fails and refuses any change with the no-downgrade rule's message.
    """
    minor = "|".join(m.replace(".", r"\.") for m in minors)
    return r"^v(" + minor + r")\.(0|[1-9][0-9]{0,8})$"


# The Kubernetes minors a kubernetesVersion parameter may name: the one place they are
# listed. Both are still supported upstream in December 2026 (14 months per minor), within
# the workload versions of Cluster API v1.14 (docs/book/src/reference/versions.md), and
# tags of ghcr.io/loft-sh/kubernetes that vCluster 0.36.1 documents.
KUBERNETES_MINORS = ("1.35", "1.36")
KUBERNETES_VERSION_PATTERN = kubernetes_version_pattern(KUBERNETES_MINORS)
# A kubernetesVersion parameter, and what its description says it takes.
KubernetesVersion = Annotated[str, Field(pattern=KUBERNETES_VERSION_PATTERN, max_length=32)]
KUBERNETES_VERSIONS = f"vX.Y.Z of a supported minor ({', '.join(KUBERNETES_MINORS)})"
# Each kind's default release, as its upstream runs it: KubernetesCluster's is the release
# Cluster API v1.14.0's own e2e runs (test/e2e/config/docker.yaml), VClusterEnvironment's
# the default image tag of the vCluster 0.36.1 chart.
CLUSTER_API_KUBERNETES_VERSION = "v1.36.1"
VCLUSTER_KUBERNETES_VERSION = "v1.36.0"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A rule across fields: CEL for the API server, the same check in Python for the function.

    Both are written next to each other so they cannot drift apart. The XRD
    generator emits ``cel`` as an x-kubernetes-validations rule on the object
    whose ``rules`` list it (Parameters, RuledModel), and the function runs
    ``check`` on every request.
    """

    # The field a rule is reported on (the XRD's fieldPath, the message's path); None: on
    # the object whose rules list it.
    field: str | None = None
    cel: str
    message: str
    check: Callable[[Any], bool]
    # For a rule over a list: the items that break it, as {sub-path: value} ("[1].match"),
    # so the message names each one instead of the whole list.
    offenders: Callable[[Any], dict[str, Any]] | None = None
    # The same rule as a JSON Schema fragment (if/then, not, ...) for self-service forms
    # (generate/frontdoors/), or None where JSON Schema cannot say it (comparing two fields).
    form: dict[str, Any] | None = dataclasses.field(default=None, hash=False, compare=False)

    def validation(self) -> dict[str, JsonValue]:
        """The rule as an x-kubernetes-validations entry of the object it is on."""
        out: dict[str, JsonValue] = {"rule": self.cel, "message": self.message}
        if self.field is not None:
            out |= {"fieldPath": f".{self.field}", "reason": "FieldValueInvalid"}
        return out


@dataclass(frozen=True, kw_only=True)
class Transition:
    """A rule between an object's old and new spec.parameters: a CEL transition rule (oldSelf)
    on the parameters object, for what a rule on one field cannot say.

    A rule on a field (immutable()) is evaluated only when the field is set both before and
    after the update: removing the field, or setting one that was unset, passes it
    (Kubernetes CRD validation rules, "transition rules"). On the parameters object, which
    every XR has, the rule sees both. The function never sees the old object: the kind's
    composer checks the same against what it observes.
    """

    # The field a rule is reported on (the XRD's fieldPath).
    field: str
    cel: str
    message: str

    def validation(self) -> dict[str, JsonValue]:
        """The rule as an x-kubernetes-validations entry of the parameters object."""
        return {
            "rule": self.cel,
            "message": self.message,
            "fieldPath": f".{self.field}",
            "reason": "FieldValueInvalid",
        }


def unchanged_presence(field: str, why: str) -> Transition:
    """A Transition keeping an optional field as it was: never added, removed or changed."""
    return Transition(
        field=field,
        cel=f"has(oldSelf.{field}) == has(self.{field}) && "
        f"(!has(self.{field}) || self.{field} == oldSelf.{field})",
        message=f"cannot be set, removed or changed once created: {why}",
    )


def immutable(why: str) -> dict[str, Any]:
    """Field(json_schema_extra=...) for a field the API server refuses to change once set.

    A CEL transition rule (self == oldSelf) in the generated XRD; the kind's
    composer checks the same against what it observes, for XRs created before
    the rule existed, and answers with a FATAL saying what to do instead.
    """
    return {
        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": f"is immutable: {why}"}]
    }


def never_lower(why: str) -> dict[str, Any]:
    """Field(json_schema_extra=...) for a number the API server refuses to lower once set.

    A CEL transition rule (self >= oldSelf) in the generated XRD; the kind's composer
    checks the same against what it observes (function.blocks.immutable.refuse_lowering).
    """
    return {
        "x-kubernetes-validations": [
            {"rule": "self >= oldSelf", "message": f"cannot be lowered: {why}"}
        ]
    }


class StrictModel(BaseModel):
    """Base of what users and platform engineers write: spec.parameters, its nested objects and
    the function input. Strict types, unknown fields rejected, frozen (shared between calls)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def section(model: type[BaseModel], description: str | None = None) -> Any:
    """Field of a nested object that has a default for each of its fields: defaulted to
    model(), described by description, else by the model's docstring.

    Any, as pydantic's Field is: the value of a field declaration, not of the field.
    """
    return Field(default=model(), description=model.__doc__ if description is None else description)


class Parameters(StrictModel):
    """Base of every kind's spec.parameters: its rules are reported one message each, on their
    field, next to the field errors (function/validation.py); its transitions are the XRD's
    alone (the function checks them against what it observes)."""

    rules: ClassVar[tuple[Rule, ...]] = ()
    transitions: ClassVar[tuple[Transition, ...]] = ()


def _rule_validations(schema: dict[str, JsonValue], model: type[Any]) -> None:
    rules: tuple[Rule, ...] = model.rules
    if rules:
        schema["x-kubernetes-validations"] = [r.validation() for r in rules]


class RuledModel(StrictModel):
    """Base of a nested object of spec.parameters with rules across its fields: CEL on the
    object in the XRD, and one error of the object naming every rule it breaks."""

    model_config = ConfigDict(json_schema_extra=_rule_validations)
    rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        broken = [rule.message for rule in self.rules if not rule.check(self)]
        if broken:
            raise ValueError("; ".join(broken))
        return self


class StatusModel(BaseModel):
    """Base of status and its nested objects: unknown fields rejected, but neither strict nor
    frozen, since the function writes status (the runner fills status.vault in after the
    kind's composer built it) and never parses it from a user."""

    model_config = ConfigDict(extra="forbid")


Phase = Literal["Provisioning", "Ready", "Degraded"]


class CompositeStatus(StatusModel):
    """Status fields every composite kind reports."""

    phase: Phase | None = Field(
        default=None,
        description="Provisioning until every composed resource is ready, Degraded when one "
        "reports a failure, else Ready.",
    )
    connectionSecret: str | None = Field(
        default=None, description="Name of the Secret in this namespace holding connection details."
    )


@dataclass(frozen=True)
class PrinterColumn:
    """A column of kubectl get."""

    name: str
    json_path: str
    type: str = "string"


@dataclass(frozen=True)
class ConnectionSecret:
    """The Secret a kind writes next to its XR for workloads: its name and its keys.

    One definition for the composer that writes it and for what mounts it (the
    KubeVela webservice component generated in generate/frontdoors/kubevela.py).
    """

    suffix: str
    keys: tuple[str, ...]
    # What a workload calls this dependency: its property in the webservice
    # component and, upper-cased, the prefix of its environment variables.
    workload_property: str

    def name(self, xr_name: str) -> str:
        """The Secret's name for an XR of this name."""
        return dns_label(xr_name, self.suffix)


P = TypeVar("P", bound=Parameters)


@dataclass(frozen=True)
class CompositeAPI(Generic[P]):
    """A kind's API: what the XRD generator and the dispatcher need."""

    group: str
    kind: str
    plural: str
    parameters: type[P]
    status: type[CompositeStatus]
    description: str
    printer_columns: tuple[PrinterColumn, ...] = ()
    categories: tuple[str, ...] = ("platform",)
    scope: Literal["Namespaced", "Cluster"] = "Namespaced"
    # The connection Secret a workload mounts, for kinds that write one.
    connection: ConnectionSecret | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{API_VERSION}"

    @property
    def xrd_name(self) -> str:
        return f"{self.plural}.{self.group}"


STANDARD_COLUMNS = (
    PrinterColumn("Phase", ".status.phase"),
    PrinterColumn("Secret", ".status.connectionSecret"),
)
