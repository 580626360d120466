"""When an XR expires: creation time plus its lifetime, and the Expired condition.

The lifetime is spec.parameters.ttl, else the XR's ``ttl`` annotation, else a
default the kind gives (preview environments). The reaper (reaper.py) acts on
status.expiresAt, which is written from here only, so what users are told and
what removes their XR cannot disagree.
"""

import re
from datetime import UTC, datetime, timedelta

from crossplane.function import resource

from function.context import Composite, Desired
from function.formats import HOURS_MINUTES_SECONDS_MAX, HOURS_MINUTES_SECONDS_PATTERN
from function.refusal import Refusal
from function.validation import cut

CONDITION = "Expired"
ANNOTATION = "ttl"
_UNITS = {"h": 3600, "m": 60, "s": 1}
_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
# The longest lifetime, whichever way it is given: a year. A preview lives days; without
# a bound, creation time plus the lifetime leaves what a timestamp holds (year 9999).
MAXIMUM = "8760h"
MAXIMUM_RULE = f"must be at most {MAXIMUM} (a year)"
# Numbers of more digits than any lifetime within MAXIMUM has (8760h, 525600m, 31536000s):
# past the maximum, whatever their value (the XRD's CEL refuses them before parsing them,
# function/expiry/model.py).
TOO_MANY_DIGITS = "[0-9]{6,}h|[0-9]{9,}m|[0-9]{10,}s"


def clock() -> datetime:
    """The current time (tests replace it)."""
    return datetime.now(UTC)


def seconds(duration: str) -> int:
    """168h -> 604800; the duration must match HOURS_MINUTES_SECONDS_PATTERN."""
    return sum(int(n) * _UNITS[unit] for n, unit in re.findall(r"([0-9]+)([hms])", duration))


def within_maximum(duration: str) -> str:
    """duration, if it is at most MAXIMUM; ValueError (MAXIMUM_RULE) otherwise."""
    if re.search(TOO_MANY_DIGITS, duration) or seconds(duration) > seconds(MAXIMUM):
        raise ValueError(MAXIMUM_RULE)
    return duration


def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 UTC timestamp as the API server writes it (None if it is not one)."""
    try:
        return datetime.strptime(value, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime(_TIMESTAMP)


def lifetime(xr: Composite, ttl: str | None, default: str | None) -> str | None:
    """The XR's lifetime: the ttl parameter, else its ttl annotation, else default.

    Both set and different is refused rather than one silently winning.
    """
    annotated = xr.annotations.get(ANNOTATION)
    if annotated is not None and (
        len(annotated) > HOURS_MINUTES_SECONDS_MAX
        or not re.fullmatch(HOURS_MINUTES_SECONDS_PATTERN, annotated)
    ):
        raise Refusal(
            f"metadata.annotations.{ANNOTATION}: must be a duration such as 168h or 90m "
            f"(got {cut(repr(annotated))})"
        )
    if annotated is not None:
        try:
            within_maximum(annotated)
        except ValueError:
            raise Refusal(
                f"metadata.annotations.{ANNOTATION}: {MAXIMUM_RULE} (got {cut(repr(annotated))})"
            ) from None
    if ttl and annotated and seconds(ttl) != seconds(annotated):
        raise Refusal(
            f"spec.parameters.ttl ({ttl}) and metadata.annotations.{ANNOTATION} ({annotated}) "
            "disagree: set one of them"
        )
    return ttl or annotated or default


def expires_at(xr: Composite, duration: str) -> datetime | None:
    """Creation time plus duration; None before the API server has set creationTimestamp, and
    when the sum is past what a timestamp holds (a creationTimestamp in the year 9999)."""
    created = parse_timestamp(xr.created)
    if created is None:
        return None
    try:
        return created + timedelta(seconds=seconds(duration))
    except OverflowError:
        return None


def report_expiry(desired: Desired, expires: datetime) -> None:
    """The Expired condition at this moment, on desired. An answer saying Expired=False
    holds until the condition would turn True, not after (function/response_cache.py)."""
    at = clock()
    if at < expires:
        desired.hold_until(expires.timestamp())
    desired.conditions.append(condition(expires, at))


def condition(expires: datetime, at: datetime) -> resource.Condition:
    """Expired=True once at is past expires, else False saying when."""
    if at >= expires:
        return resource.Condition(
            typ=CONDITION,
            status="True",
            reason="LifetimeElapsed",
            message=f"expired at {timestamp(expires)}; the remove-expired operation deletes it",
        )
    return resource.Condition(
        typ=CONDITION,
        status="False",
        reason="WithinLifetime",
        message=f"expires at {timestamp(expires)}",
    )
