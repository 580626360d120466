"""The function's own Prometheus metrics, served on --metrics-port (off by default).

One hook on the request path (observe, called by runner.FunctionRunner after each
RunFunction) reads what the response already holds, so composers and the runner
know nothing of metrics:

- function_platform_requests_total{kind,outcome}: outcome ok, warning or fatal
  (the most severe result, as Crossplane's function_run_function_response_total).
- function_platform_request_duration_seconds{kind}: latency histogram.
- function_platform_results_total{kind,severity} and
  function_platform_fatal_results_total{kind,reason}.
- function_platform_vault_sync_total{kind,outcome,reason}: the VaultSynced condition.
- function_platform_composed_resources{kind}: desired composed resources per request.
- function_platform_composite_ready{kind,namespace,name}: 1 when every composed
  resource of the XR was ready at its last call, else 0 (a FATAL leaves it as it
  was); an XR not called for STALE_AFTER seconds (deleted, or served by another
  replica) is dropped, so the series of deleted XRs do not live on.

Labels are bounded: kind is a catalogue kind, "Operation", or "unsupported";
reasons are the function's own constants. The client library's process metrics
(CPU, memory, open files) come with the default registry.
"""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from function.catalogue import ENTRIES
from function.vault.sync import CONDITION as VAULT_CONDITION

PREFIX = "function_platform"
OPERATION = "Operation"
UNSUPPORTED = "unsupported"
# Crossplane calls a Ready XR again at least every TTL.readySeconds (600 s by default)
# and on every change, so an XR silent for much longer is gone or served elsewhere.
STALE_AFTER = 1800.0

_KINDS = frozenset(e.kind for e in ENTRIES)
_SEVERITY = {
    fnv1.SEVERITY_FATAL: "fatal",
    fnv1.SEVERITY_WARNING: "warning",
    fnv1.SEVERITY_NORMAL: "normal",
}
_VAULT_OUTCOME = {fnv1.STATUS_CONDITION_TRUE: "synced"}

REQUESTS = Counter(
    f"{PREFIX}_requests",
    "RunFunction requests by composite kind and outcome (ok, warning, fatal).",
    ["kind", "outcome"],
    registry=None,
)
DURATION = Histogram(
    f"{PREFIX}_request_duration_seconds",
    "Time from receiving a RunFunction request to its response, by composite kind.",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=None,
)
RESULTS = Counter(
    f"{PREFIX}_results",
    "Results returned, by composite kind and severity.",
    ["kind", "severity"],
    registry=None,
)
FATALS = Counter(
    f"{PREFIX}_fatal_results",
    "FATAL results returned, by composite kind and reason.",
    ["kind", "reason"],
    registry=None,
)
VAULT_SYNC = Counter(
    f"{PREFIX}_vault_sync",
    "Vault synchronisations by composite kind, outcome (synced, failed) and reason.",
    ["kind", "outcome", "reason"],
    registry=None,
)
COMPOSED = Histogram(
    f"{PREFIX}_composed_resources",
    "Composed resources in the desired state of one response, by composite kind.",
    ["kind"],
    buckets=(0, 1, 2, 4, 8, 16, 32, 64),
    registry=None,
)


class CompositeReadiness(Collector):
    """function_platform_composite_ready: each XR's readiness at its last call."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str], tuple[float, bool]] = {}

    def set(self, kind: str, namespace: str, name: str, ready: bool) -> None:
        with self._lock:
            self._seen[(kind, namespace, name)] = (self._clock(), ready)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            f"{PREFIX}_composite_ready",
            "1 when every resource the XR composes was ready at its last call, else 0.",
            labels=["kind", "namespace", "name"],
        )
        oldest = self._clock() - STALE_AFTER
        with self._lock:
            for key in [k for k, (seen, _) in self._seen.items() if seen < oldest]:
                del self._seen[key]
            entries = sorted(self._seen.items())
        for labels, (_, ready) in entries:
            family.add_metric(list(labels), 1.0 if ready else 0.0)
        yield family


READINESS = CompositeReadiness()
_METRICS: tuple[Collector, ...] = (REQUESTS, DURATION, RESULTS, FATALS, VAULT_SYNC, COMPOSED)
_enabled = False


def enable() -> None:
    """Register the metrics in the default registry; from then on observe records."""
    global _enabled  # noqa: PLW0603 (one switch, set once at start-up)
    if not _enabled:
        for collector in (*_METRICS, READINESS):
            REGISTRY.register(collector)
        _enabled = True


def serve(port: int, address: str = "0.0.0.0") -> None:
    """Record metrics and serve them over HTTP on port (all interfaces: scraped by pod IP)."""
    enable()
    start_http_server(port, addr=address, registry=REGISTRY)


# Labelled children by (metric, label values): labels() validates and locks on every call,
# which was most of the hook's cost; the label sets are few and bounded.
_CHILDREN: dict[tuple[object, tuple[str, ...]], Any] = {}


def _child(metric: Counter | Histogram, *labels: str) -> Any:
    child = _CHILDREN.get((metric, labels))
    if child is None:
        child = _CHILDREN.setdefault((metric, labels), metric.labels(*labels))
    return child


def _struct(struct: Any, key: str) -> Any:
    """struct[key] as a Struct, or None (a missing or non-object field never raises)."""
    if struct is None or key not in struct.fields:
        return None
    value = struct.fields[key]
    return value.struct_value if value.HasField("struct_value") else None


def _string(struct: Any, key: str) -> str:
    return struct.fields[key].string_value if struct is not None and key in struct.fields else ""


def observe(req: fnv1.RunFunctionRequest, rsp: fnv1.RunFunctionResponse, seconds: float) -> None:
    """Record one request; a no-op unless serve() was called."""
    if not _enabled:
        return
    composite = req.observed.composite.resource if req.observed.HasField("composite") else None
    if composite is None:
        kind = OPERATION
    else:
        kind = _string(composite, "kind")
        kind = kind if kind in _KINDS else UNSUPPORTED
    worst = "ok"
    for result in rsp.results:
        severity = _SEVERITY.get(result.severity, "unspecified")
        _child(RESULTS, kind, severity).inc()
        if result.severity == fnv1.SEVERITY_FATAL:
            _child(FATALS, kind, result.reason or "Unspecified").inc()
            worst = "fatal"
        elif result.severity == fnv1.SEVERITY_WARNING and worst == "ok":
            worst = "warning"
    _child(REQUESTS, kind, worst).inc()
    _child(DURATION, kind).observe(seconds)
    for condition in rsp.conditions:
        if condition.type == VAULT_CONDITION:
            outcome = _VAULT_OUTCOME.get(condition.status, "failed")
            _child(VAULT_SYNC, kind, outcome, condition.reason).inc()
    if composite is None:
        return
    _child(COMPOSED, kind).observe(len(rsp.desired.resources))
    if worst != "fatal" and kind != UNSUPPORTED:
        phase = _string(_struct(rsp.desired.composite.resource, "status"), "phase")
        metadata = _struct(composite, "metadata")
        READINESS.set(
            kind, _string(metadata, "namespace"), _string(metadata, "name"), phase == "Ready"
        )
