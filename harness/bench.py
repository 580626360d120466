"""Benchmark RunFunction over real gRPC on loopback, for every example case.

    python -m harness.bench [--requests N] [--concurrency C] [--out bench/results.md]
                            [--server-arg ARG ...] [filter ...]

Starts the function server (python -m function --insecure) on a free port and
sends each example's request the way Crossplane does (harness.requests): observed
composed resources from observed.yaml, required resources answered from
required.yaml after the function asks for them, the Composition step's input and
the example credentials. Reports p50/p99 latency of sequential calls, requests per
second at a fixed concurrency, and the server's peak RSS; writes a Markdown
table with the machine and versions. Invalid-XR cases are left out (they stop
at validation and would flatter the figures).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from harness import process
from harness.cases import Case, find_cases
from harness.paths import ROOT
from harness.requests import answered_case_request
from harness.server import FunctionServer

CALL_TIMEOUT = 30.0
WARM_UP_CALLS = 20


@dataclasses.dataclass(frozen=True)
class Row:
    """One case's figures."""

    case: str
    p50_ms: float
    p99_ms: float
    rps: float
    bytes: int
    # The server process's CPU time (user + system) per sequential call: less disturbed
    # than wall-clock latency when other work shares the machine.
    cpu_ms: float


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process and its children have used so far (/proc/<pid>/stat
    utime, stime): a call's cost without the wait for a core that a busy machine adds."""
    total = 0
    for p in process.tree(pid):
        with contextlib.suppress(OSError):
            total += stat_cpu_ticks(Path(f"/proc/{p}/stat").read_text())
    return total / os.sysconf("SC_CLK_TCK")


def stat_cpu_ticks(stat: str) -> int:
    """utime + stime, in clock ticks, of a /proc/<pid>/stat line: fields 14 and 15 (proc(5)),
    counted after the command name, which is in parentheses and may hold spaces and ')'. The
    process's figures cover all its threads."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def bench_case(target: str, case: Case, requests: int, concurrency: int, pid: int) -> Row:
    """Latency of sequential calls, then throughput at `concurrency`, for one case."""
    with grpc.insecure_channel(target) as channel:
        # The generated gRPC client has no annotations.
        stub = grpcv1.FunctionRunnerServiceStub(channel)  # type: ignore[no-untyped-call]

        def call(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
            rsp: fnv1.RunFunctionResponse = stub.RunFunction(req, timeout=CALL_TIMEOUT)
            return rsp

        req = answered_case_request(case, call)
        for _ in range(WARM_UP_CALLS):
            call(req)
        latencies = []
        cpu_before = cpu_seconds(pid)
        for _ in range(requests):
            start = time.perf_counter()
            call(req)
            latencies.append((time.perf_counter() - start) * 1000)
        cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / requests
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            start = time.perf_counter()
            list(pool.map(lambda _: call(req), range(requests)))
            rps = requests / (time.perf_counter() - start)
    return Row(
        case=case.id,
        p50_ms=statistics.median(latencies),
        p99_ms=percentile(latencies, 0.99),
        rps=rps,
        bytes=req.ByteSize(),
        cpu_ms=cpu_ms,
    )


def memory_mib(pid: int, field: str, source: str = "status") -> float:
    """A memory figure in kB of /proc/<pid>/<source> (status: VmRSS, VmHWM; smaps_rollup:
    Pss) for the process and its children, summed."""
    total = 0.0
    for p in process.tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/{source}").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1]) / 1024
    return total


def pss_mib(pid: int) -> float:
    """Proportional resident memory of the process and its children: pages the workers share
    with the supervisor (forked, copy-on-write) count once, not once per process as in VmRSS."""
    return memory_mib(pid, "Pss", "smaps_rollup")


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of the process and its children."""
    return memory_mib(pid, "VmHWM")


def machine() -> str:
    """OS, cores, CPU model, Python and the versions that matter, for the results file."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{p} {metadata.version(p)}"
        for p in ("crossplane-function-sdk-python", "grpcio", "protobuf", "pydantic")
    )
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}); "
        f"Python {platform.python_version()}; {versions}"
    )


def commit() -> str:
    """The checkout's short commit, for the header of a figures file."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def results_markdown(rows: Sequence[Row], requests: int, concurrency: int, rss: float) -> str:
    commit_id = commit()
    lines = [
        "# RunFunction benchmark",
        "",
        f"`make bench` (python -m harness.bench) on {datetime.now(UTC):%Y-%m-%d}, "
        f"commit {commit_id}.",
        f"Machine: {machine()}.",
        "Real gRPC on loopback, one server process serving as it does by default (the answer "
        "to an equal request cached: every call after the first of a case gets it unless "
        "its answer went to Vault); "
        f"{requests} sequential calls per case "
        f"for latency, then {requests} calls at concurrency {concurrency} for "
        f"throughput. Peak RSS of the server over the whole run: {rss:.1f} MiB.",
        "",
        "Cases whose XR sets `vaultPath` also run the Vault step, against the `vault-address` "
        "of examples/credentials.yaml: a closed loopback port, so their figures include one "
        "refused connection per call (the warning path), not a Vault round trip.",
        "",
        "| case | request bytes | p50 ms | p99 ms | req/s | server CPU ms/call |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {r.case} | {r.bytes} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.rps:.0f} "
            f"| {r.cpu_ms:.3f} |"
            for r in rows
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="extra flag for the function server, e.g. --server-arg=--metrics-port=9100",
    )
    parser.add_argument("filters", nargs="*")
    args = parser.parse_args(argv)
    cases = [c for c in find_cases(ROOT, args.filters) if not c.expects_error]
    rows = []
    # One process unless a --server-arg says otherwise (the last --workers given counts).
    with FunctionServer(ROOT, args=["--workers", "1", *args.server_arg]) as server:
        assert server.pid is not None
        for case in cases:
            row = bench_case(server.target, case, args.requests, args.concurrency, server.pid)
            rows.append(row)
            print(
                f"{row.case:48} p50 {row.p50_ms:6.2f} ms  p99 {row.p99_ms:6.2f} ms  "
                f"{row.rps:7.0f} req/s  CPU {row.cpu_ms:6.3f} ms/call",
                flush=True,
            )
        assert server.pid is not None
        rss = peak_rss_mib(server.pid)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(results_markdown(rows, args.requests, args.concurrency, rss))
    print(f"peak RSS {rss:.1f} MiB; written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
