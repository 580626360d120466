"""Refuse a parameter change that would destroy data, judged from what is already composed.

The XRD's transition rule (function.model.immutable) stops such a change at
admission; this is the function's side of the same rule, for XRs that were
created before it: the old value is read back from the observed resources.
"""

from typing import Any

from function.refusal import Refusal
from function.validation import cut


def refuse_change(field: str, was: Any, now: Any, why: str) -> None:
    """Refusal (a FATAL) when was is known and differs from now."""
    if was is not None and was != now:
        raise Refusal(
            f"spec.parameters.{field} cannot change from {cut(repr(was))} to "
            f"{cut(repr(now))}: {why}"
        )


def refuse_lowering(field: str, was: int | None, now: int, why: str) -> None:
    """Refusal (a FATAL) when was is known and now is lower."""
    if was is not None and now < was:
        raise Refusal(f"spec.parameters.{field} cannot be lowered from {was} to {now}: {why}")
