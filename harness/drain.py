"""Shutdown with calls in flight: SIGTERM while 64 calls are on the server's connection.

    python -m harness.drain [--calls 64] [--size 1000000] [--compare DIR] [--out bench/drain.md]

Starts the real server (`python -m function --insecure --workers 1`, the deployed shape)
on loopback and sends it --calls distinct RedisInstance requests of about --size bytes
(an observed release of many small fields: tens of milliseconds of composing each) at
once over one connection, as Crossplane does. A moment later, with the first still
composing, it sends SIGTERM and records what became of every call and how long the
server took to exit. Every call was on the connection before SIGTERM, so every one must
be answered. --compare does the same with another checkout (an older commit) first; the
figures go to the Markdown file with the command, the machine and the load average.
"""

from __future__ import annotations

import argparse
import collections
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from harness import process
from harness.compare import checkouts, load_average, report_head
from harness.memory import build
from harness.paths import ROOT
from harness.server import FunctionServer, default_python

CALL_TIMEOUT = 120.0
# How long after sending SIGTERM follows: every call is on the connection by then.
PAUSE_SECONDS = 0.3


def outcome(call: Future[fnv1.RunFunctionResponse]) -> str:
    try:
        rsp = call.result(timeout=CALL_TIMEOUT)
    except grpc.RpcError as e:
        return str(e.code().name)
    return "FATAL" if any(r.severity == fnv1.SEVERITY_FATAL for r in rsp.results) else "OK"


def run(root: Path, calls: int, size: int) -> tuple[collections.Counter[str], int, float]:
    """Outcomes, calls still running at SIGTERM, and seconds from SIGTERM to the exit."""
    reqs = [build(n, "observed", size) for n in range(calls)]
    with FunctionServer(root, python=default_python(ROOT), args=["--workers", "1"]) as server:
        assert server.process is not None
        channel = grpc.insecure_channel(server.target)
        stub = grpcv1.FunctionRunnerServiceStub(channel)  # type: ignore[no-untyped-call]
        stub.RunFunction(build(calls, "observed", 1000), timeout=CALL_TIMEOUT)  # kinds loaded
        pool = ThreadPoolExecutor(calls)
        futures = [pool.submit(stub.RunFunction, r, timeout=CALL_TIMEOUT) for r in reqs]
        time.sleep(PAUSE_SECONDS)
        running = sum(not f.done() for f in futures)
        sent = time.monotonic()
        server.process.popen.send_signal(signal.SIGTERM)
        outcomes = collections.Counter(outcome(f) for f in futures)
        server.process.popen.wait(timeout=CALL_TIMEOUT)
        exited = time.monotonic() - sent
        pool.shutdown()
        channel.close()
    return outcomes, running, exited


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=64)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument(
        "--compare", type=Path, help="another checkout (an older commit) measured first"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "drain.md")
    args = parser.parse_args(argv)
    process.exit_on_sigterm()
    load_before = load_average()
    rows = []
    all_ok = True
    for name, root in checkouts(args.compare):
        outcomes, running, exited = run(root, args.calls, args.size)
        shown = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
        print(f"{name}: {running} of {args.calls} running at SIGTERM; {shown}; exit {exited:.1f} s")
        rows.append(f"| {name} | {args.calls} | {running} | {shown} | {exited:.1f} s |")
        all_ok = set(outcomes) == {"OK"}  # this checkout's, the last
    command = "python -m harness.drain" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    lines = [
        *report_head("Shutdown with calls in flight", command, load_before),
        f"One server process (`--workers 1`, the default grace period of 25 s) on loopback; "
        f"{args.calls} distinct requests of about {args.size / 1e6:.1f} MB sent at once over "
        f"one connection, SIGTERM {PAUSE_SECONDS} s later.",
        "",
        "| server | calls | running at SIGTERM | outcomes | SIGTERM to exit |",
        "|---|---:|---:|---|---:|",
        *rows,
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
