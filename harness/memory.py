"""Memory under large requests: concurrent ~4 MB requests to one worker, peak and settled RSS.

    python -m harness.memory [--rounds 3] [--concurrency 16] [--compare DIR] [--out bench/memory.md]

Starts the real server (`python -m function --insecure --workers 1`, the deployed shape:
one process per pod) on loopback and sends it `--rounds` rounds of `--concurrency`
distinct requests of about 3.9 MB each (under the 4 MiB gRPC receive limit), all of a
round at once, each on its own connection. The bulk of a request sits where Crossplane
can put it: in the step's input, in an observed resource, in the EnvironmentConfig of
the settings, or in an observed HTTPRoute's status (ServiceIngress copies what the
Gateways say into the XR's status); shapes alternate, so every round mixes them, and
every request is new (no cache can answer it). Peak RSS is the kernel's high-water mark
(VmHWM); PSS is sampled every few milliseconds. Ten seconds after the last answer, RSS
and PSS again: what the process keeps. --compare measures another checkout (an older
commit) the same way first. The figures go to the Markdown file with the command, the
machine and the load average (other work on the machine skews them).
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from function.input import SETTINGS_REQUIREMENT
from function.structs import JSON
from harness import process
from harness.bench import memory_mib
from harness.compare import checkouts, load_average, report_head
from harness.paths import ROOT
from harness.requests import request, xr
from harness.server import FunctionServer, default_python

# Under grpc's default 4 MiB receive limit (4,194,304 bytes), as Crossplane may send.
TARGET_BYTES = 3_900_000
# The container's memory limit (install/packages.yaml).
LIMIT_MIB = 256
SETTLE_SECONDS = 10.0
SAMPLE_SECONDS = 0.005
CALL_TIMEOUT = 120.0
SHAPES = ("input", "observed", "environment", "route")

# One entry of the bulk: many small fields, the most Python objects per byte.
_ENTRY_BYTES = 80


def _bulk(i: int, n_bytes: int) -> JSON:
    """About n_bytes of small string fields, distinct for each i."""
    entries = n_bytes // _ENTRY_BYTES
    return {f"k{i:03d}-{j:06d}": f"value {j} of request {i} " + "x" * 40 for j in range(entries)}


def _route(i: int, n_bytes: int) -> JSON:
    """An HTTPRoute as a Gateway controller reports it, with long condition messages."""
    parents = 8
    message = ("the route is accepted; " * (n_bytes // parents // 24))[: n_bytes // parents]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": f"app-{i}", "namespace": "team-a", "generation": 1},
        "spec": {
            "parentRefs": [{"name": "shared", "namespace": "gateways", "sectionName": "https"}]
        },
        "status": {
            "parents": [
                {
                    "parentRef": {
                        "name": "shared",
                        "namespace": "gateways",
                        "sectionName": "https",
                    },
                    "controllerName": f"example.org/gateway-{p}",
                    "conditions": [
                        {
                            "type": "Accepted",
                            "status": "False",
                            "reason": "NotAllowedByListeners",
                            "message": f"{i}/{p}: {message}",
                            "observedGeneration": 1,
                        }
                    ],
                }
                for p in range(parents)
            ]
        },
    }


def build(i: int, shape: str, n_bytes: int = TARGET_BYTES) -> fnv1.RunFunctionRequest:
    """Request i of shape, about n_bytes serialized."""
    name = f"mem-{i}"
    redis = xr("cache.platform.example.org/v1alpha1", "RedisInstance", {"environment": "dev"}, name)
    if shape == "input":
        # Another kind's section: accepted as it is and kept in the parsed settings.
        return request(redis, settings={"kubernetesCluster": {"bulk": _bulk(i, n_bytes)}})
    if shape == "observed":
        release: JSON = {"apiVersion": "helm.m.crossplane.io/v1beta1", "kind": "Release"}
        release["status"] = {"atProvider": {"bulk": _bulk(i, n_bytes)}}
        return request(redis, observed={"release": release})
    if shape == "environment":
        config = {
            "apiVersion": "apiextensions.crossplane.io/v1beta1",
            "kind": "EnvironmentConfig",
            "metadata": {"name": "platform-settings"},
            "data": {"kubernetesCluster": {"bulk": _bulk(i, n_bytes)}},
        }
        return request(redis, required={SETTINGS_REQUIREMENT: [config]})
    ingress = xr(
        "network.platform.example.org/v1alpha1",
        "ServiceIngress",
        {
            "environment": "production",
            "hosts": [f"app-{i}.apps.example.com"],
            "routes": [{"backends": [{"service": "app", "port": 80}]}],
        },
        name,
    )
    return request(ingress, observed={"route": _route(i, n_bytes)})


class Sampler:
    """PSS and RSS of a process, sampled on a thread until stopped; the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_pss = 0.0
        self.peak_rss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak_pss = max(self.peak_pss, memory_mib(self.pid, "Pss", "smaps_rollup"))
            self.peak_rss = max(self.peak_rss, memory_mib(self.pid, "VmRSS"))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def outcome(call: Callable[[], fnv1.RunFunctionResponse]) -> tuple[str, float]:
    """The call's outcome (OK, FATAL with its reason, or the gRPC status) and its seconds."""
    start = time.perf_counter()
    try:
        rsp = call()
    except grpc.RpcError as e:
        return e.code().name, time.perf_counter() - start
    fatal = [r.reason for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    return (f"FATAL {fatal[0]}" if fatal else "OK"), time.perf_counter() - start


def send_round(target: str, reqs: Sequence[fnv1.RunFunctionRequest]) -> list[tuple[str, float]]:
    """All of reqs at once, each over its own connection."""
    options = [("grpc.max_receive_message_length", 64 << 20)]
    channels = [grpc.insecure_channel(target, options=options) for _ in reqs]
    try:
        stubs = [grpcv1.FunctionRunnerServiceStub(c) for c in channels]  # type: ignore[no-untyped-call]
        with ThreadPoolExecutor(len(reqs)) as pool:
            return list(
                pool.map(
                    lambda pair: outcome(
                        lambda: pair[0].RunFunction(pair[1], timeout=CALL_TIMEOUT)
                    ),
                    zip(stubs, reqs, strict=True),
                )
            )
    finally:
        for c in channels:
            c.close()


@dataclass(frozen=True)
class Figures:
    """One checkout's figures (MiB) and its calls' outcomes and times."""

    start_rss: float
    peak_rss: float
    peak_pss: float
    after_rss: float
    after_pss: float
    outcomes: list[tuple[str, float]]

    def shown_outcomes(self) -> str:
        counts = collections.Counter(o for o, _ in self.outcomes)
        seconds = sorted(s for _, s in self.outcomes)
        return (
            ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
            + f"; call time median {seconds[len(seconds) // 2]:.1f} s, "
            + f"longest {seconds[-1]:.1f} s"
        )


def measure(
    root: Path, rounds: Sequence[Sequence[fnv1.RunFunctionRequest]], server_args: Sequence[str]
) -> Figures:
    """The rounds sent to the server of the checkout at root."""
    results: list[tuple[str, float]] = []
    with FunctionServer(root, python=default_python(ROOT), args=server_args) as server:
        assert server.pid is not None
        start_rss = memory_mib(server.pid, "VmRSS")
        with Sampler(server.pid) as sampler:
            for r, reqs in enumerate(rounds):
                begin = time.perf_counter()
                got = send_round(server.target, reqs)
                results += got
                print(
                    f"{root}: round {r + 1}: {dict(collections.Counter(o for o, _ in got))} in "
                    f"{time.perf_counter() - begin:.1f} s; RSS peak so far "
                    f"{memory_mib(server.pid, 'VmHWM'):.0f} MiB",
                    flush=True,
                )
        peak_rss = memory_mib(server.pid, "VmHWM")
        time.sleep(SETTLE_SECONDS)
        return Figures(
            start_rss=start_rss,
            peak_rss=peak_rss,
            peak_pss=sampler.peak_pss,
            after_rss=memory_mib(server.pid, "VmRSS"),
            after_pss=memory_mib(server.pid, "Pss", "smaps_rollup"),
            outcomes=results,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server-arg", action="append", default=[], help="passed to the server")
    parser.add_argument(
        "--compare", type=Path, help="another checkout (an older commit) measured first"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "memory.md")
    args = parser.parse_args(argv)
    process.exit_on_sigterm()
    load_before = load_average()
    rounds = [
        [build(r * args.concurrency + k, SHAPES[k % len(SHAPES)]) for k in range(args.concurrency)]
        for r in range(args.rounds)
    ]
    sizes = [req.ByteSize() for reqs in rounds for req in reqs]
    server_args = ["--workers", "1", *args.server_arg]
    measured = checkouts(args.compare)
    figures = [measure(root, rounds, server_args) for _, root in measured]
    names = [name for name, _ in measured]
    command = "python -m harness.memory" + "".join(f" {a}" for a in (argv or sys.argv[1:]))

    def row(label: str, value: Callable[[Figures], float]) -> str:
        return f"| {label} | " + " | ".join(f"{value(f):.0f}" for f in figures) + " |"

    lines = [
        *report_head("Memory under large requests", command, load_before),
        f"One server process (`--workers 1`{''.join(' ' + a for a in args.server_arg)}, as "
        f"deployed) on loopback; {args.rounds} rounds of {args.concurrency} distinct requests "
        f"sent at once, each on its own connection, {min(sizes) / 1e6:.2f} to "
        f"{max(sizes) / 1e6:.2f} MB each; the bulk of each in the step's input, an observed "
        "resource, the EnvironmentConfig or an observed HTTPRoute's status, in turn. The "
        f"container's limit (install/packages.yaml): {LIMIT_MIB} MiB.",
        "",
        "| MiB | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(figures),
        row("RSS at start", lambda f: f.start_rss),
        row("peak RSS (VmHWM)", lambda f: f.peak_rss),
        row(f"peak PSS (sampled every {SAMPLE_SECONDS * 1000:.0f} ms)", lambda f: f.peak_pss),
        row(f"RSS {SETTLE_SECONDS:.0f} s after the last answer", lambda f: f.after_rss),
        row(f"PSS {SETTLE_SECONDS:.0f} s after the last answer", lambda f: f.after_pss),
        "",
        *(f"Outcomes, {n}: {f.shown_outcomes()}." for n, f in zip(names, figures, strict=True)),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if figures[-1].peak_rss < LIMIT_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
