"""The lifetime part of a kind's API: the ttl parameter and status.expiresAt, as mixins."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from function.expiry.lifetime import MAXIMUM, MAXIMUM_RULE, TOO_MANY_DIGITS, within_maximum
from function.formats import HoursMinutesSeconds

# A lifetime (the ttl parameter, a kind's default): a duration of at most MAXIMUM. The XRD
# checks the same with CEL's duration(), which parses Go's time.ParseDuration syntax (every
# value of the pattern is in it) and fails to evaluate past Go's ~292 years: numbers of more
# digits than a lifetime within MAXIMUM has are refused first (TOO_MANY_DIGITS, as the
# function does), so that what is left parses and the message says the maximum.
Lifetime = Annotated[
    HoursMinutesSeconds,
    AfterValidator(within_maximum),
    Field(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"!self.matches('{TOO_MANY_DIGITS}') && "
                    f"duration(self) <= duration('{MAXIMUM}')",
                    "message": MAXIMUM_RULE,
                }
            ]
        }
    ),
]


TTL_FIELD = Field(
    default=None,
    description=f"Lifetime from creation (a duration: 168h, 90m; at most {MAXIMUM}, a year). "
    "Once past, status shows Expired=True and the platform's remove-expired CronOperation "
    "deletes the XR. The "
    "annotation ttl (the same syntax) is read when this is unset. Preview environments "
    "(pr-<number>) get the platform's default lifetime when neither is set. Not allowed "
    "in production.",
)


class ExpiringParameters(BaseModel):
    """Mixin of spec.parameters for kinds whose XRs may have a lifetime."""

    ttl: Lifetime | None = TTL_FIELD


class ExpiringStatus(BaseModel):
    """Mixin of status for kinds with ExpiringParameters."""

    expiresAt: str | None = Field(
        default=None,
        description="When the XR expires (RFC 3339, UTC): creation time plus its lifetime.",
    )
