"""Refusal: why a request is not composed, raised where the problem is found.

Every step of a request (reading the XR, the function input, spec.parameters,
composing) raises a Refusal for what it cannot accept; the runner turns it into
the one FATAL result of the response (function/runner.py), the way
function-patch-and-transform's fn.go turns every failed step into
``response.Fatal(rsp, errors.Wrap(err, "cannot ..."))``. The reason is the
result's machine-readable reason; its wording here is the only place a FATAL's
message is phrased.
"""

from collections.abc import Sequence

PROBLEMS_MAX = 20

# The message of each reason, {subject} being the XR ("RedisInstance team-a/cache").
# A reason missing here is phrased as its problems alone (the Operations' reasons).
_WORDING: dict[str, str] = {
    "InvalidComposite": "invalid {subject}",
    "InvalidInput": "invalid function input",
    "InvalidParameters": "invalid {subject}",
    "ComposeFailed": "cannot compose {subject}",
    "ResponseTooLarge": "cannot answer for {subject}",
}


class Refusal(Exception):  # noqa: N818 (a refusal is an answer, not an error of the function)
    """A request the function will not compose: one FATAL result naming every problem.

    A composer raises Refusal(problem) (reason ComposeFailed): something the user or
    the platform engineer must fix.
    """

    def __init__(self, problems: str | Sequence[str], reason: str = "ComposeFailed") -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        self.reason = reason
        super().__init__(joined(self.problems))

    def message(self, subject: str) -> str:
        """The FATAL's message about subject (the XR, as "Kind namespace/name")."""
        wording = _WORDING.get(self.reason)
        if wording is None:
            return joined(self.problems)
        head = wording.format(subject=subject)
        return f"{head}: {joined(self.problems)}" if self.problems else head


def joined(problems: Sequence[str]) -> str:
    """Problems as one message: the first PROBLEMS_MAX, then how many more."""
    listed = "; ".join(problems[:PROBLEMS_MAX])
    more = len(problems) - PROBLEMS_MAX
    return listed + (f"; and {more} more" if more > 0 else "")
