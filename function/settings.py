"""Pieces of the function input that several kinds' settings are made of.

The input is the ``input`` of the Composition's pipeline step (kind Input):
platform-wide settings (function/platform.py) plus one section per kind
(function/kinds/<kind>/settings.py), assembled in function/input.py. Every
field has a default, so an empty input works.
"""

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import AfterValidator, Field

from function.formats import GoDuration
from function.model import StrictModel

# The function input's API: the Composition step's input is an object of this kind.
INPUT_GROUP = "fn.platform.example.org"
INPUT_VERSION = "v1beta1"
INPUT_KIND = "Input"
# The EnvironmentConfig holding the platform settings in the cluster (function/input.py).
SETTINGS_NAME = "function-platform"
# Where a message about a setting the platform has not made tells a platform engineer to.
SETTINGS_WHERE = (
    f"the platform settings (EnvironmentConfig {SETTINGS_NAME} data, or the Composition's "
    "input.spec)"
)


class SettingsModel(StrictModel):
    """Base of every settings model (a part of the function input)."""


class ProviderConfigRef(SettingsModel):
    """Which provider configuration a managed resource uses."""

    kind: Literal["ClusterProviderConfig", "ProviderConfig"] = Field(
        default="ClusterProviderConfig",
        description="ClusterProviderConfig (cluster-wide) or ProviderConfig (in the XR namespace).",
    )
    name: str = Field(description="Name of the provider configuration.")


class HelmChart(SettingsModel):
    """A Helm chart, pinned."""

    repository: str = Field(description="Chart repository URL.")
    name: str = Field(description="Chart name.")
    version: str = Field(description="Chart version, pinned.")


class SecretReference(SettingsModel):
    """A Secret in a given namespace."""

    namespace: str = Field(description="Namespace of the Secret.")
    name: str = Field(description="Name of the Secret.")


# How long provider-helm waits for a release's workloads to be ready (Helm's --wait
# --timeout): a release whose pods never become ready fails instead of reporting Ready.
WaitTimeout = Annotated[
    GoDuration,
    Field(
        description="How long Helm waits for the release's workloads to be ready (a Go "
        "duration, e.g. 10m); past it the release fails instead of being reported Ready.",
    ),
]


class AddOnChart(SettingsModel):
    """A Helm chart installed into a workload cluster, and the namespace it goes to."""

    chart: HelmChart = Field(description="The chart, pinned.")
    namespace: str = Field(description="Namespace in the workload cluster.")
    waitTimeout: WaitTimeout = "10m"


StorageClass = Annotated[
    str | None,
    Field(description="Storage class of the volumes; unset: the cluster's default."),
]


class Metrics(SettingsModel):
    """Prometheus metrics of each instance, scraped through the Prometheus Operator."""

    enabled: bool = Field(
        default=False,
        description="Expose each instance's metrics and compose a PodMonitor (monitoring."
        "coreos.com/v1) for it; needs the Prometheus Operator's CRDs in the cluster.",
    )


class Credentials(SettingsModel):
    """The Composition step's credentials the function reads."""

    name: str = Field(
        default="platform", description="Name of the step credentials (a Secret) to read."
    )
    passwordKeyField: str = Field(
        default="password-key",
        description="Key of the Secret holding the secret key from which generated passwords "
        "are derived (HMAC of the XR's UID). Keep it stable: a changed key changes only "
        "passwords not yet created.",
    )


class TTL(SettingsModel):
    """How soon Crossplane calls the function again."""

    provisioningSeconds: int = Field(
        default=30, ge=5, le=3600, description="While anything is not ready yet."
    )
    readySeconds: int = Field(default=600, ge=30, le=86400, description="Once all is ready.")


V = TypeVar("V")


def keyed_by(keys: Iterable[Any], *, every: bool = True) -> AfterValidator:
    """A dict setting keyed by these keys (sizes, versions, ...): every one (every=True) or some.

    Such a setting passes its schema with a key left out or misspelt, and then the
    composer has nothing to look up: this makes it a field error of the input.
    """
    wanted = tuple(str(k) for k in keys)

    def check(value: Mapping[str, V]) -> Mapping[str, V]:
        missing = [k for k in wanted if k not in value] if every else []
        unknown = sorted(k for k in value if k not in wanted)
        if missing or unknown:
            found = [f"missing {', '.join(missing)}"] if missing else []
            found += [f"unknown {', '.join(unknown)}"] if unknown else []
            rule = "a key for each of" if every else "keys among"
            raise ValueError(f"must have {rule} {', '.join(wanted)}: {'; '.join(found)}")
        return value

    return AfterValidator(check)


def literal_values(literal: Any) -> tuple[Any, ...]:
    """The values of a Literal type."""
    return get_args(literal)
