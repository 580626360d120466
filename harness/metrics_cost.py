"""What the metrics hook costs per request, measured in one process, calls interleaved.

    python -m harness.metrics_cost [--requests N] [--out bench/metrics.md] [filter ...]

For every example case (invalid ones left out, as in harness.bench): the request built as
Crossplane sends it (harness.requests), then N rounds of runner.run(req) followed by
metrics.observe(req, rsp): each timed with the thread's own CPU clock, so other work on the
machine disturbs the figures far less than wall-clock latency. Reports the median CPU time
of run() and of the hook, and the hook's share. `make bench` with and without
--server-arg=--metrics-port gives the end-to-end view over gRPC.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from function import metrics
from function.runner import run
from harness.bench import machine
from harness.cases import find_cases
from harness.paths import ROOT
from harness.requests import answered_case_request


def measure(filters: Sequence[str], requests: int) -> list[tuple[str, float, float]]:
    """(case, run() µs, hook µs), medians of thread CPU time."""
    metrics.enable()
    rows = []
    for case in [c for c in find_cases(ROOT, filters) if not c.expects_error]:
        req = answered_case_request(case, run)
        runs, hooks = [], []
        for _ in range(requests):
            start = time.thread_time_ns()
            rsp = run(req)
            middle = time.thread_time_ns()
            metrics.observe(req, rsp, (middle - start) / 1e9)
            hooks.append(time.thread_time_ns() - middle)
            runs.append(middle - start)
        rows.append((case.id, statistics.median(runs) / 1000, statistics.median(hooks) / 1000))
    return rows


def markdown(rows: Sequence[tuple[str, float, float]], requests: int) -> str:
    lines = [
        "# Cost of the metrics hook",
        "",
        f"`python -m harness.metrics_cost --requests {requests}` (in-process, thread CPU time, "
        "medians). Machine: " + machine() + ".",
        "",
        "| case | run() µs | hook µs | hook / run |",
        "|---|---:|---:|---:|",
        *(f"| {c} | {r:.0f} | {h:.1f} | {100 * h / r:.1f}% |" for c, r, h in rows),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("filters", nargs="*")
    args = parser.parse_args(argv)
    rows = measure(args.filters, args.requests)
    for case, r, h in rows:
        print(f"{case:48} run {r:8.0f} µs  hook {h:6.1f} µs  {100 * h / r:5.1f}%", flush=True)
    if args.out:
        args.out.write_text(markdown(rows, args.requests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
