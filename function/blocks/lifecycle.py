"""The rule for objects that need an input which appears later (a kubeconfig Secret).

Not composed before the input exists, so nothing is created that cannot work
yet; never dropped once composed, so a briefly missing input (a Secret being
rotated, a fetch that failed) does not delete what was installed with it:
Crossplane deletes every observed composed resource the desired state leaves out
(crossplane v2.3.4, internal/controller/apiextensions/composite/
composition_functions.go, its garbage collection of composed resources).
"""

from collections.abc import Iterable

from function.context import Observed
from function.observed import mapping
from function.structs import JSON

# What of an observed object's metadata the function composes.
_METADATA = ("name", "namespace", "labels", "annotations")


def compose_once_input_exists(input_exists: bool, observed: Observed, names: Iterable[str]) -> bool:
    """Whether to compose the resources names: the input exists, or one of them already does."""
    return input_exists or any(name in observed for name in names)


def kept(observed: JSON, *fields: str) -> JSON:
    """An observed resource composed again as it is, when what it is composed from is missing:
    its apiVersion and kind, and the top-level fields named (of metadata: name, namespace,
    labels and annotations)."""
    out: JSON = {k: observed[k] for k in ("apiVersion", "kind", *fields) if k in observed}
    if "metadata" in fields:
        metadata = mapping(observed, "metadata") or {}
        out["metadata"] = {k: metadata[k] for k in _METADATA if k in metadata}
    return out
