"""The lifetime part of a kind's API: the ttl parameter and status.expiresAt, as mixins."""

from typing import Annotated

from pydantic import BaseModel, Field

# A Go duration in hours, minutes and seconds (168h, 90m, 1h30m), as the seed's ttl
# annotation writes it. RE2-compatible: the API server's regex engine has no look-ahead.
DURATION_PATTERN = r"^([0-9]+h([0-9]+m)?([0-9]+s)?|[0-9]+m([0-9]+s)?|[0-9]+s)$"
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=20)]

TTL_FIELD = Field(
    default=None,
    description="Lifetime from creation (a duration: 168h, 90m). Once past, status shows "
    "Expired=True and the platform's remove-expired CronOperation deletes the XR. The "
    "annotation ttl (the same syntax) is read when this is unset. Preview environments "
    "(pr-<number>) get the platform's default lifetime when neither is set. Not allowed "
    "in production.",
)


class ExpiringParameters(BaseModel):
    """Mixin of spec.parameters for kinds whose XRs may have a lifetime."""

    ttl: Duration | None = TTL_FIELD


class ExpiringStatus(BaseModel):
    """Mixin of status for kinds with ExpiringParameters."""

    expiresAt: str | None = Field(
        default=None,
        description="When the XR expires (RFC 3339, UTC): creation time plus its lifetime.",
    )
