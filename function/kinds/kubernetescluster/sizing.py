"""Machine counts and sizes of a KubernetesCluster: the XR's, else its preset's, else defaults."""

from dataclasses import dataclass, fields
from typing import Any

from function.kinds.kubernetescluster.model import KubernetesClusterParameters
from function.kinds.kubernetescluster.settings import ClusterSize, KubernetesClusterSettings
from function.refusal import Refusal


@dataclass(frozen=True)
class Size:
    """Machine counts and sizes after presets and defaults."""

    controlPlaneNodes: int
    workerNodes: int
    controlPlaneCPU: str
    controlPlaneMemory: str
    workerCPU: str
    workerMemory: str
    workerStorage: str


def resolve_size(params: KubernetesClusterParameters, settings: KubernetesClusterSettings) -> Size:
    """Each size from the XR, else its environment's preset, else the platform default."""
    preset = settings.presets.get(params.environment, ClusterSize())
    values: dict[str, Any] = {}
    for field in fields(Size):
        sources = (params, preset, settings.defaults)
        value = next((v for v in (getattr(s, field.name) for s in sources) if v is not None), None)
        if value is None:
            raise Refusal(f"input kubernetesCluster.defaults.{field.name} must be set")
        values[field.name] = value
    return Size(**values)
