"""The lifetime part of a kind's API: the ttl parameter and status.expiresAt, as mixins."""

from pydantic import BaseModel, Field

from function.formats import HoursMinutesSeconds

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

    ttl: HoursMinutesSeconds | None = TTL_FIELD


class ExpiringStatus(BaseModel):
    """Mixin of status for kinds with ExpiringParameters."""

    expiresAt: str | None = Field(
        default=None,
        description="When the XR expires (RFC 3339, UTC): creation time plus its lifetime.",
    )
