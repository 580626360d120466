"""The pods of the namespace's other platform instances, which the environment's quota and
limit range bound as much as its own.

Every PostgreSQLInstance and RedisInstance of the XR's namespace is read (a required
resource listing each kind there), and its pods are worked out from its parameters and
its kind's platform settings, both read through the catalogue (kinds never import each
other), as their composers size them:
- a dedicated PostgreSQLInstance: a CloudNativePG Cluster of
  postgresqlInstance.dedicated.instances[environment] (else 1) pods, whose postgres
  container and bootstrap-controller init container both take the Cluster's resources
  (cloudnative-pg v1.30 pkg/specs/pods.go): requests and limits of
  dedicated.resources[size], CPU included, so the namespace's defaults never apply to
  them; with backups, the Barman Cloud plugin's sidecar, which sets none (its ObjectStore's
  instanceSidecarConfiguration.resources is left unset) and takes the defaults. A shared
  one runs nothing here.
- a RedisInstance: the Valkey chart (0.11.0) runs replicas pods (a StatefulSet of
  replica.replicas + 1), or one Deployment pod that a rolling update doubles while it runs
  (strategy RollingUpdate, maxSurge 25% rounds up to one) when it keeps no volume; the
  server sets memoryGB Gi as request and limit and no CPU, its init container and the
  metrics exporter set nothing (initResources, metrics.exporter.resources: {}).
An instance whose parameters or kind's settings do not parse is left out: its own
composer refuses it.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from function.catalogue import ENTRIES, load
from function.context import Selector
from function.kinds.vclusterenvironment.model import ServiceKind
from function.kinds.vclusterenvironment.pods import Container, Pod, container
from function.kinds.vclusterenvironment.services import API_VERSIONS
from function.kinds.vclusterenvironment.settings import EnvironmentContext
from function.observed import text
from function.refusal import Refusal
from function.settings import literal_values
from function.structs import JSON
from function.validation import parse_parameters

KINDS: tuple[str, ...] = literal_values(ServiceKind)


@dataclass(frozen=True)
class Instance:
    """An instance of the namespace and the pods it runs there."""

    kind: str
    name: str
    pods: tuple[Pod, ...]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name!r}"


def requirement_key(kind: str) -> str:
    return f"instances-{kind.lower()}"


def requirements(ctx: EnvironmentContext) -> dict[str, Selector]:
    """Every PostgreSQLInstance and RedisInstance of the XR's namespace."""
    return {
        requirement_key(kind): Selector(
            API_VERSIONS[kind], kind, name=None, namespace=ctx.xr.namespace
        )
        for kind in KINDS
    }


def _settings(ctx: EnvironmentContext, kind: str) -> Any:
    """The kind's platform settings as its composer reads them (its defaults where unset)."""
    entry = next(e for e in ENTRIES if e.kind == kind)
    settings = load(entry).settings
    given = getattr(ctx.platform, entry.input_field, None)
    if isinstance(given, settings):
        return given
    try:
        return settings.model_validate(given or {})
    except ValidationError:
        return None


def _parameters(kind: str, xr: JSON) -> Any:
    entry = next(e for e in ENTRIES if e.kind == kind)
    spec = xr.get("spec")
    try:
        return parse_parameters(
            load(entry).api.parameters, spec.get("parameters") if isinstance(spec, dict) else None
        )
    except Refusal:
        return None


def _resources(cpu: str, memory: str) -> JSON:
    amounts = {"cpu": cpu, "memory": memory}
    return {"requests": amounts, "limits": amounts}


def _postgresql(params: Any, settings: Any) -> tuple[Pod, ...]:
    if params.deployment != "dedicated":
        return ()
    compute = settings.dedicated.resources.get(params.size)
    if compute is None:
        return ()
    resources = _resources(compute.cpu, compute.memory)
    sidecars = (Container("plugin-barman-cloud"),) if params.enableBackup else ()
    pod = Pod(
        (container("postgres", resources), *sidecars),
        (container("bootstrap-controller", resources),),
    )
    count: int = settings.dedicated.instances.get(params.environment, 1)
    return (pod,) * count


def _redis(params: Any, settings: Any) -> tuple[Pod, ...]:
    memory = f"{params.memoryGB}Gi"
    server = container("valkey", {"requests": {"memory": memory}, "limits": {"memory": memory}})
    sidecars = (Container("metrics"),) if settings.metrics.enabled else ()
    pod = Pod((server, *sidecars), (Container("init"),))
    replicas: int = params.replicas
    surge = 1 if replicas == 1 and not params.persistence else 0
    return (pod,) * (replicas + surge)


PODS = {"PostgreSQLInstance": _postgresql, "RedisInstance": _redis}


def instances(ctx: EnvironmentContext) -> list[Instance]:
    """The namespace's instances that run pods, by kind and name."""
    out = []
    for kind in KINDS:
        settings = _settings(ctx, kind)
        for xr in ctx.required.get(requirement_key(kind), []):
            name = text(xr, "metadata", "name")
            if not isinstance(xr, dict) or xr.get("kind") != kind or not name:
                continue
            if text(xr, "metadata", "namespace") != ctx.xr.namespace:
                continue
            params = _parameters(kind, xr)
            if params is None or settings is None:
                continue
            pods = PODS[kind](params, settings)
            if pods:
                out.append(Instance(kind, name, pods))
    return sorted(out, key=lambda i: (i.kind, i.name))
