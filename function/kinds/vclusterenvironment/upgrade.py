"""A vCluster's Kubernetes version only moves forward.

Kubernetes supports upgrading a control plane one minor at a time and no
downgrade: its API server writes objects in the newest storage versions it
knows, which an older one may not read (kubernetes/website
content/en/releases/version-skew-policy.md). A vCluster's datastore is that
control plane's storage, so the version it runs (the release's
controlPlane.distro.k8s.version, read back from the observed release) is never
lowered; the XRD refuses the same at admission.
"""

from function.kinds.vclusterenvironment.model import KUBERNETES_VERSION_FIELD
from function.observed import digits, mapping, text
from function.refusal import Refusal
from function.structs import JSON

DOWNGRADE_WHY = (
    "Kubernetes does not downgrade a control plane (its datastore may hold what an older "
    "version cannot read); create a new VClusterEnvironment at the older version instead"
)


def version_key(version: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of vX.Y.Z, or None for any other text."""
    parts = version.removeprefix("v").split(".") if version.startswith("v") else []
    numbers = [digits(p, max_digits=9) for p in parts]
    if len(numbers) != 3 or None in numbers:
        return None
    major, minor, patch = (int(n or 0) for n in numbers)
    return major, minor, patch


def running_version(observed_release: JSON | None) -> str | None:
    """The Kubernetes version the observed vCluster release runs."""
    values = mapping(observed_release, "spec", "forProvider", "values")
    return text(values, "controlPlane", "distro", "k8s", "version")


def refuse_downgrade(observed_release: JSON | None, wanted: str) -> None:
    """A FATAL naming the field when wanted is older than what the release runs."""
    running = running_version(observed_release)
    was, now = version_key(running or ""), version_key(wanted)
    if was is not None and now is not None and now < was:
        raise Refusal(
            f"spec.parameters.{KUBERNETES_VERSION_FIELD} cannot go from {running} down to "
            f"{wanted}: {DOWNGRADE_WHY}"
        )
