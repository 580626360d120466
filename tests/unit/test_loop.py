"""The pure parts of the reconcile-loop benchmark (make bench-loop): the CPU time read from
/proc, its table, the P&T Composition moved to a v2 XR kind and the order of the runs."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from harness import loopwatch
from harness.bench import stat_cpu_ticks
from harness.cases import load_yaml_docs
from harness.loop import calls_sent, configuration_order, ready_statuses, since
from harness.loopreport import (
    OURS,
    PEER,
    Cpu,
    Run,
    calls_table,
    converging_table,
    steady_table,
)
from harness.paths import ROOT, shared_dir
from harness.pntfunction import namespaced_api_version, peer_composition


def test_stat_ticks_are_utime_plus_stime_after_a_command_name_with_parentheses() -> None:
    # proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    # cmajflt utime stime cutime cstime ...; comm may hold ") " itself.
    line = "4242 (odd) name) S 1 4242 4242 0 -1 4194560 100 0 2 0 250 75 9 8 20 0 3 0 77 0 0\n"
    assert stat_cpu_ticks(line) == 325


def test_stat_ticks_of_this_process_match_what_the_kernel_reports_through_times() -> None:
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # some CPU time to read
        pass
    times = os.times()
    ticks = stat_cpu_ticks(Path("/proc/self/stat").read_text())
    assert ticks / os.sysconf("SC_CLK_TCK") == pytest.approx(times.user + times.system, abs=0.05)


def _run(
    function: str,
    wall: float | None,
    core: float,
    fn: float,
    *,
    cache: bool = False,
    steady: Cpu | None = None,
) -> Run:
    return Run("RedisInstance", function, 100, cache, 1.5, wall, Cpu(core, fn), steady, 2.0)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("|").split("|")]


def test_converging_table_gives_ours_over_peer_per_configuration() -> None:
    lines = converging_table([_run(OURS, 10.0, 4.0, 1.0), _run(PEER, 20.0, 5.0, 0.5)])
    assert len(lines) == 3
    assert len(_cells(lines[0])) == len(_cells(lines[2]))
    assert _cells(lines[2]) == [
        "RedisInstance", "100", "off",
        "20.0 s", "10.0 s", "0.50x",
        "5.0 s", "4.0 s", "0.80x",
        "0.5 s", "1.0 s", "2.00x",
        "5.5 s", "5.0 s", "0.91x",
        "2.0 / 2.0",
    ]  # fmt: skip


def test_converging_table_takes_medians_says_timeout_and_needs_both_sides() -> None:
    runs = [
        _run(OURS, 10.0, 4.0, 1.0, cache=True),
        _run(OURS, 14.0, 6.0, 3.0, cache=True),
        _run(OURS, 30.0, 2.0, 2.0, cache=True),
        _run(PEER, None, 5.0, 0.5, cache=True),
        _run(OURS, 10.0, 4.0, 1.0),  # no P&T run without the cache
    ]
    lines = converging_table(runs)
    assert len(lines) == 3
    cells = _cells(lines[2])
    assert cells[2:6] == ["on", "timeout", "14.0 s", "-"]
    assert cells[6:9] == ["5.0 s", "4.0 s", "0.80x"]


def test_steady_table_compares_the_window_after_convergence() -> None:
    runs = [
        _run(OURS, 10.0, 4.0, 1.0, steady=Cpu(0.3, 0.1)),
        _run(PEER, 20.0, 5.0, 0.5, steady=Cpu(0.6, 0.4)),
    ]
    lines = steady_table(runs)
    assert _cells(lines[2]) == [
        "RedisInstance", "100", "off",
        "0.6 s", "0.3 s", "0.50x",
        "0.4 s", "0.1 s", "0.25x",
        "1.0 s", "0.4 s", "0.40x",
    ]  # fmt: skip
    assert steady_table([_run(OURS, 10.0, 4.0, 1.0), _run(PEER, 20.0, 5.0, 0.5)])[2:] == []


def test_namespaced_twins_of_legacy_managed_resource_groups() -> None:
    assert namespaced_api_version("helm.crossplane.io/v1beta1") == "helm.m.crossplane.io/v1beta1"
    assert namespaced_api_version("s3.aws.upbound.io/v1beta2") == "s3.aws.m.upbound.io/v1beta2"
    for not_legacy in ("v1", "apps/v1", "helm.m.crossplane.io/v1beta1"):
        with pytest.raises(ValueError, match="not a provider's cluster-scoped group"):
            namespaced_api_version(not_legacy)


def test_the_platform_teams_redis_composition_moves_to_a_namespaced_kind_the_crds_serve() -> None:
    shared = shared_dir()
    (doc,) = load_yaml_docs(shared / "bench/patch-and-transform/seed-redis-composition.yaml")
    out = peer_composition(
        doc, "cache.platform.example.org/v1alpha1", "RedisInstance", {"helm.crossplane.io/v1beta1"}
    )
    assert out["metadata"] == {"name": "redisinstance-patch-and-transform"}
    assert out["spec"]["compositeTypeRef"] == {
        "apiVersion": "cache.platform.example.org/v1alpha1",
        "kind": "RedisInstance",
    }
    (step,) = out["spec"]["pipeline"]
    assert step["functionRef"] == {"name": "function-patch-and-transform"}
    (resource,) = step["input"]["resources"]
    (original,) = doc["spec"]["pipeline"][0]["input"]["resources"]
    assert resource["patches"] == original["patches"]
    assert original["base"]["apiVersion"] == "helm.crossplane.io/v1beta1"  # input untouched
    base = resource["base"]
    # What provider-helm's v2 CRD serves and requires (its file in $SHARED/crds).
    (crd,) = load_yaml_docs(shared / "crds/provider-helm/helm.m.crossplane.io_releases.yaml")
    assert crd["spec"]["scope"] == "Namespaced"
    group, version = base["apiVersion"].split("/")
    assert (group, base["kind"]) == (crd["spec"]["group"], crd["spec"]["names"]["kind"])
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    spec_schema = served["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    required = spec_schema["providerConfigRef"]["required"]
    assert sorted(base["spec"]["providerConfigRef"]) == sorted(required)
    assert base["spec"]["providerConfigRef"]["name"] == "helm-provider"


def test_runs_alternate_which_function_goes_first_across_the_whole_sequence() -> None:
    order = configuration_order([100, 500], repeats=1)
    assert [(cache, count) for cache, count, _ in order] == [
        (False, 100), (False, 500), (True, 100), (True, 500)
    ]  # fmt: skip
    assert [functions[0] for _, _, functions in order] == [OURS, PEER, OURS, PEER]
    assert all(sorted(functions) == sorted([OURS, PEER]) for _, _, functions in order)


def test_the_simulated_provider_answers_with_the_ready_examples_provider_status() -> None:
    statuses = ready_statuses(ROOT / "examples" / "redisinstance" / "dev")
    assert list(statuses) == [("helm.m.crossplane.io/v1beta1", "Release")]
    status = statuses[("helm.m.crossplane.io/v1beta1", "Release")]
    assert status["atProvider"]["state"] == "deployed"
    assert {(c["type"], c["status"]) for c in status["conditions"]} == {
        ("Ready", "True"),
        ("Synced", "True"),
    }


# Core's metrics as its controller-runtime server writes them (Prometheus text format 0.0.4):
# one series per label set, a label value may hold an escaped quote.
_METRICS = """\
# HELP function_run_function_request_total Total number of RunFunctionRequests sent.
# TYPE function_run_function_request_total counter
function_run_function_request_total{function_name="function-platform",function_package="f:v1"} 120
function_run_function_request_total{function_name="function-platform",function_package="f:v2"} 3
function_run_function_request_total{function_name="function-patch-and-transform",x="p\\"q"} 7e+01
function_run_function_response_total{function_name="function-platform",grpc_code="OK"} 99
function_run_function_request_total_other{function_name="function-platform"} 5
"""


def test_calls_sent_sums_each_functions_requests_over_its_other_labels() -> None:
    assert calls_sent(_METRICS) == {
        "function-platform": 123.0,
        "function-patch-and-transform": 70.0,
    }


def test_a_window_counts_the_calls_between_its_samples() -> None:
    window = since(Cpu(1.0, 0.5, 100.0), Cpu(3.0, 1.5, 600.0))
    assert (window.core_s, window.function_s, window.calls) == (2.0, 1.0, 500.0)
    assert window.function_ms_per_call == 2.0
    assert since(Cpu(1.0, 0.5), Cpu(3.0, 1.5, 600.0)).calls is None


def test_calls_table_gives_each_functions_cpu_per_call_in_both_windows() -> None:
    ours = _run(OURS, 10.0, 4.0, 1.0, steady=Cpu(1.0, 0.2, 50.0))
    peer = _run(PEER, 20.0, 5.0, 0.5, steady=Cpu(1.0, 0.1, 100.0))
    runs = [
        dataclasses.replace(ours, converging=Cpu(4.0, 1.0, 400.0)),
        dataclasses.replace(peer, converging=Cpu(5.0, 0.5, 250.0)),
    ]
    lines = calls_table(runs)
    assert len(lines) == 3
    assert len(_cells(lines[0])) == len(_cells(lines[2]))
    assert _cells(lines[2]) == [
        "RedisInstance", "100", "off",
        "250", "400", "2.00 ms", "2.50 ms", "1.25x",
        "100", "50", "1.00 ms", "4.00 ms", "4.00x",
    ]  # fmt: skip


def test_calls_table_says_dash_where_calls_were_not_read() -> None:
    lines = calls_table([_run(OURS, 10.0, 4.0, 1.0), _run(PEER, 20.0, 5.0, 0.5)])
    assert _cells(lines[2])[3:] == ["-"] * 10


class _Plane:
    def resource(self, api_version: str, kind: str) -> object:
        return object()


@pytest.mark.parametrize(
    ("status", "gives_up", "reason"),
    [
        (504, False, "a watch cache behind etcd: Too large resource version, not a failure"),
        (410, False, "a resourceVersion the server no longer holds: watched again"),
        (500, True, "a server error that lasts: reported after FAILURES in a row"),
    ],
)
def test_a_watch_outlasts_a_busy_server_but_not_a_failing_one(
    monkeypatch: pytest.MonkeyPatch, status: int, gives_up: bool, reason: str
) -> None:
    monkeypatch.setattr(loopwatch.time, "sleep", lambda _: None)
    w = loopwatch.Watch(_Plane(), "v1", "ConfigMap", lambda typ, obj: None)  # type: ignore[arg-type]
    answers = [status] * (loopwatch.FAILURES + 2)

    def watch_once() -> None:
        if not answers:
            w.stopped.set()
            return
        raise ApiException(status=answers.pop(), reason="busy")

    monkeypatch.setattr(w, "_watch_once", watch_once)
    w.run()
    assert (w.error is not None) == gives_up, reason
