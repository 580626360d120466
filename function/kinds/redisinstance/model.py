"""RedisInstance: a Valkey (Redis-compatible) server with auth, from the official chart."""

from pydantic import Field

from function.formats import DNS_1123_SUBDOMAIN
from function.model import (
    DOMAIN,
    ENVIRONMENT_FIELD,
    STANDARD_COLUMNS,
    CompositeAPI,
    CompositeStatus,
    ConnectionSecret,
    Environment,
    Parameters,
    PrinterColumn,
    Rule,
    StrictModel,
    immutable,
)


class SecretKeyRef(StrictModel):
    """A key of a Secret in the instance's namespace."""

    name: str = Field(pattern=DNS_1123_SUBDOMAIN, max_length=253, description="Secret name.")
    key: str = Field(
        default="password", pattern=r"^[-._a-zA-Z0-9]+$", max_length=253, description="Key."
    )


class RedisParameters(Parameters):
    """spec.parameters of a RedisInstance."""

    environment: Environment = ENVIRONMENT_FIELD
    replicas: int = Field(
        default=1,
        ge=1,
        le=9,
        description="Server count: one primary and replicas-1 read replicas. Cannot change "
        "between 1 and more (the chart's volume layout differs).",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "(self == 1) == (oldSelf == 1)",
                    "message": "cannot change between 1 and more: the chart keeps the data on "
                    "a different volume layout; create a new RedisInstance and migrate",
                }
            ]
        },
    )
    memoryGB: int = Field(
        default=1, ge=1, le=256, description="Memory limit of each server, in GiB."
    )
    persistence: bool = Field(
        default=True,
        description="Keep data on a persistent volume. May be turned on, not off.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self || !oldSelf",
                    "message": "cannot be turned off: that deletes the volume holding the data",
                }
            ]
        },
    )
    persistenceSizeGB: int = Field(
        default=8,
        ge=1,
        le=4096,
        description="Volume size of each server when persistent, in GiB.",
        json_schema_extra=immutable(
            "StatefulSet volume templates cannot be resized; create a new RedisInstance"
        ),
    )
    passwordSecretRef: SecretKeyRef | None = Field(
        default=None,
        description="Use the password in this Secret instead of a generated one. "
        "Auth is always on.",
    )

    rules = (
        Rule(
            field="persistenceSizeGB",
            cel="!self.persistence || self.persistenceSizeGB >= self.memoryGB",
            message="must be at least memoryGB when persistence is on (a snapshot needs room "
            "for the whole dataset)",
            check=lambda p: not p.persistence or p.persistenceSizeGB >= p.memoryGB,
        ),
        Rule(
            field="persistence",
            cel="self.replicas == 1 || self.persistence",
            message="must be true when replicas > 1 (replicas sync through volumes)",
            check=lambda p: p.replicas == 1 or p.persistence,
            form={
                "if": {"properties": {"replicas": {"minimum": 2}}, "required": ["replicas"]},
                "then": {"properties": {"persistence": {"const": True}}},
            },
        ),
    )


class RedisStatus(CompositeStatus):
    """status of a RedisInstance."""

    endpoint: str | None = Field(default=None, description="host:port of the primary.")


CONNECTION = ConnectionSecret(
    suffix="redis", keys=("host", "password", "port", "uri"), workload_property="cache"
)

API = CompositeAPI(
    group=f"cache.{DOMAIN}",
    kind="RedisInstance",
    plural="redisinstances",
    parameters=RedisParameters,
    status=RedisStatus,
    description="A Redis-compatible (Valkey) server with auth and a connection Secret.",
    printer_columns=(
        PrinterColumn("Environment", ".spec.parameters.environment"),
        PrinterColumn("Replicas", ".spec.parameters.replicas", "integer"),
        *STANDARD_COLUMNS,
        PrinterColumn("Endpoint", ".status.endpoint"),
    ),
    connection=CONNECTION,
)
