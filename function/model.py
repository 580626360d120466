"""What every composite kind's API is made of: parameters, status, cross-field rules, XRD facts.

A kind's own models live in its package (function/kinds/<kind>/model.py);
the XRDs are generated from them (generate/crossplane.py, at build time).
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from function.naming import dns_label

API_VERSION = "v1alpha1"
DOMAIN = "platform.example.org"

Environment = Literal["dev", "staging", "uat", "preprod", "production", "sandbox"]
ENVIRONMENT_FIELD = Field(
    description="Environment the instance belongs to; picks per-environment defaults.",
)


def kubernetes_version_pattern(minors: tuple[str, ...]) -> str:
    """vX.Y.Z of one of these minors ("1.36"): the pattern of a kubernetesVersion parameter."""
    return r"^v(" + "|".join(m.replace(".", r"\.") for m in minors) + r")\.(0|[1-9][0-9]*)$"


@dataclass(frozen=True)
class Rule:
    """A rule across fields: CEL for the API server, the same check in Python for the function.

    Both are written next to each other so they cannot drift apart; the XRD
    generator emits ``cel`` as an x-kubernetes-validations rule on the
    parameters object and the function runs ``check`` on every request.
    """

    field: str
    cel: str
    message: str
    check: Callable[[Any], bool]
    # For a rule over a list: the items that break it, as {sub-path: value} ("[1].match"),
    # so the message names each one instead of the whole list.
    offenders: Callable[[Any], dict[str, Any]] | None = None
    # The same rule as a JSON Schema fragment (if/then, not, ...) for self-service forms
    # (generate/frontdoors/), or None where JSON Schema cannot say it (comparing two fields).
    form: dict[str, Any] | None = dataclasses.field(default=None, hash=False, compare=False)


def immutable(why: str) -> dict[str, Any]:
    """Field(json_schema_extra=...) for a field the API server refuses to change once set.

    A CEL transition rule (self == oldSelf) in the generated XRD; the kind's
    composer checks the same against what it observes, for XRs created before
    the rule existed, and answers with a FATAL saying what to do instead.
    """
    return {
        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": f"is immutable: {why}"}]
    }


class Parameters(BaseModel):
    """Base of every kind's spec.parameters: strict types, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    rules: ClassVar[tuple[Rule, ...]] = ()


Phase = Literal["Provisioning", "Ready", "Degraded"]


class CompositeStatus(BaseModel):
    """Status fields every composite kind reports."""

    model_config = ConfigDict(extra="forbid")

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
