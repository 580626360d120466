"""The function's metrics: scraped over HTTP from the real server after real gRPC calls."""

import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from prometheus_client.parser import text_string_to_metric_families

from function.metrics import STALE_AFTER, CompositeReadiness
from harness.cases import find_cases
from harness.process import free_port
from harness.requests import answered_case_request, request, xr
from harness.server import FunctionServer

REDIS = "cache.platform.example.org/v1alpha1"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as got:
        text = got.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples.get((metric, frozenset(labels.items())), 0.0)


def series(samples: Samples, metric: str, /, **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def server(tmp_path_factory: pytest.TempPathFactory, *args: str) -> FunctionServer:
    return FunctionServer(
        python=sys.executable,
        startup_timeout=20,
        log_path=tmp_path_factory.mktemp("log") / "function.log",
        args=args,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = free_port()
    with server(tmp_path_factory, "--metrics-port", str(port)) as running:
        yield running.target, port


def fd_links(pid: int) -> list[str]:
    """What process pid's open descriptors point at, skipping those it closes while we look."""
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            links.append(os.readlink(fd))
        except FileNotFoundError:  # closed between the listing and the read
            continue
    return links


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process pid listens on (its socket inodes in /proc/net/tcp*)."""
    inodes = {
        link.removeprefix("socket:[").removesuffix("]")
        for link in fd_links(pid)
        if link.startswith("socket:[")
    }
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_no_metrics_server_without_the_flag(tmp_path_factory: pytest.TempPathFactory) -> None:
    # One worker: with several, the gRPC port is the workers' and this process listens on none.
    with server(tmp_path_factory, "--workers", "1") as running:
        assert running.pid is not None
        assert listening_ports(running.pid) == {running.port}


def test_metrics_port_from_the_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # How install/packages.yaml sets it: METRICS_PORT in the container's environment.
    port = free_port()
    monkeypatch.setenv("METRICS_PORT", str(port))
    with server(tmp_path_factory) as running:
        assert running.pid is not None
        assert listening_ports(running.pid) == {running.port, port}
        assert any(name == "process_cpu_seconds_total" for name, _ in scrape(port))


def test_requests_results_vault_and_readiness_are_counted(served: tuple[str, int]) -> None:
    target, port = served
    before = scrape(port)
    with grpc.insecure_channel(target) as channel:
        stub = grpcv1.FunctionRunnerServiceStub(channel)

        def call(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
            rsp: fnv1.RunFunctionResponse = stub.RunFunction(req, timeout=20)
            return rsp

        ok = call(request(xr(REDIS, "RedisInstance", {"environment": "dev"}, name="ok")))
        bad = call(request(xr(REDIS, "RedisInstance", {"environment": "dev", "replicas": 0})))
        odd = call(request(xr("example.org/v1", "Widget", {}, name="w")))
        (vault_case,) = find_cases(filters=["postgresqlinstance/vault-unreachable"])
        vault = call(answered_case_request(vault_case, call))
        (ready_case,) = find_cases(filters=["redisinstance/ready"])
        call(answered_case_request(ready_case, call))
    assert [r.severity for r in bad.results] == [fnv1.SEVERITY_FATAL]
    assert [r.reason for r in odd.results] == ["UnsupportedKind"]
    after = scrape(port)

    def delta(metric: str, /, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    redis, pg = {"kind": "RedisInstance"}, {"kind": "PostgreSQLInstance"}
    # Case requests are sent twice (once to learn their requirements, once answered).
    assert delta("function_platform_requests_total", **redis, outcome="ok") == 3
    assert delta("function_platform_requests_total", **redis, outcome="fatal") == 1
    assert delta("function_platform_requests_total", kind="unsupported", outcome="fatal") == 1
    assert delta("function_platform_fatal_results_total", **redis, reason="InvalidParameters") == 1
    assert (
        delta("function_platform_fatal_results_total", kind="unsupported", reason="UnsupportedKind")
        == 1
    )
    assert delta("function_platform_results_total", **redis, severity="fatal") == 1
    assert delta("function_platform_requests_total", **pg, outcome="warning") == 2
    vault_failed = {"outcome": "failed", "reason": "VaultUnreachable"}
    assert delta("function_platform_vault_sync_total", **pg, **vault_failed) == 2
    assert delta("function_platform_request_duration_seconds_count", **redis) == 4
    assert delta("function_platform_request_duration_seconds_sum", **redis) > 0
    assert delta("function_platform_composed_resources_count", **redis) == 4
    # A Redis composes a release and a Secret (le="2"); the FATAL none (le="0").
    assert delta("function_platform_composed_resources_bucket", **redis, le="0.0") == 1
    assert delta("function_platform_composed_resources_bucket", **redis, le="1.0") == 1
    assert delta("function_platform_composed_resources_bucket", **redis, le="2.0") == 4
    assert len(ok.desired.resources) == 2
    ready = "function_platform_composite_ready"
    assert series(after, ready, **redis, namespace="team-a", name="ok") == 0  # nothing observed
    assert series(after, ready, **redis, namespace="dev", name="dev-redis") == 1
    assert series(after, ready, **pg, namespace="shop", name="orders") == 0
    # A FATAL leaves readiness alone: the invalid XR "app" has no series.
    assert (ready, frozenset({**redis, "namespace": "team-a", "name": "app"}.items())) not in after
    assert vault.desired.resources


def test_readiness_of_an_xr_not_called_for_long_is_dropped() -> None:
    now = [1000.0]
    readiness = CompositeReadiness(clock=lambda: now[0])
    readiness.set("RedisInstance", "a", "gone", ready=True)
    now[0] += STALE_AFTER / 2
    readiness.set("RedisInstance", "a", "kept", ready=False)
    now[0] += STALE_AFTER / 2 + 1
    (family,) = readiness.collect()
    assert [(s.labels["name"], s.value) for s in family.samples] == [("kept", 0.0)]
