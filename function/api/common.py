"""Building blocks shared by every composite kind's API."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "v1alpha1"
DOMAIN = "platform.example.org"

Environment = Literal["dev", "staging", "uat", "preprod", "production", "sandbox"]
ENVIRONMENT_FIELD = Field(
    description="Environment the instance belongs to; picks per-environment defaults.",
)

# A KV v2 style path: segments of letters, digits, '_', '-' and inner dots, so
# no '..', no leading or trailing '/', no empty segment. RE2-compatible (the
# API server's regex engine has no look-ahead).
_VAULT_SEGMENT = r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*"
VaultPath = Annotated[
    str,
    Field(
        pattern=rf"^{_VAULT_SEGMENT}(/{_VAULT_SEGMENT})*$",
        min_length=1,
        max_length=200,
        description="Vault KV v2 path (mount first, e.g. secret/database/dev) where credentials "
        "are registered. Leave unset to skip Vault.",
    ),
]


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


class VaultStatus(BaseModel):
    """Where the instance's credentials are registered in Vault: paths only, never data.

    Set whenever the XR has a vaultPath; condition VaultSynced says whether
    Vault holds what it should.
    """

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(default=None, description="KV v2 path of the credentials.")
    credentialsPath: str | None = Field(
        default=None, description="Where dynamic credentials are read (database engine)."
    )


@dataclass(frozen=True)
class PrinterColumn:
    """A column of kubectl get."""

    name: str
    json_path: str
    type: str = "string"


@dataclass(frozen=True)
class CompositeKind:
    """Everything the XRD generator and the dispatcher need to know about a kind."""

    group: str
    kind: str
    plural: str
    parameters: type[Parameters]
    status: type[CompositeStatus]
    description: str
    printer_columns: tuple[PrinterColumn, ...] = ()
    categories: tuple[str, ...] = ("platform",)

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
