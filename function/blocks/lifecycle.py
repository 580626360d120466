"""The rule for objects that need an input which appears later (a kubeconfig Secret).

Not composed before the input exists, so nothing is created that cannot work
yet; never dropped once composed, so a briefly missing input (a Secret being
rotated, a fetch that failed) does not delete what was installed with it.
"""

from collections.abc import Iterable

from function.context import Observed


def compose_once_input_exists(input_exists: bool, observed: Observed, names: Iterable[str]) -> bool:
    """Whether to compose the resources names: the input exists, or one of them already does."""
    return input_exists or any(name in observed for name in names)
