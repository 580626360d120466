"""Latency and memory as an XR's resources grow: 10, 100 and 500 composed and observed resources.

    python -m harness.scale [--pnt PATH] [--sizes 10,100,500] [--out bench/scale.md]

A synthetic case: the RedisInstance of examples/redisinstance/dev as the XR of a
pipeline whose earlier steps composed N ConfigMaps (the request's desired state),
all of which exist and are ready (observed). The function composes its own
resources, passes the N through and reads none of them, so the growth measured is
the request plumbing's: parsing, copying and answering N resources. "ours" is the
server as it runs by default (the same request again gets its kept answer, after
parsing and hashing it), "ours composing" the same with --response-cache-mib 0,
composing every call. P&T (if given) gets the same request with its Composition's
input. Server on core 0, the client on core 1, one connection; p50 and p99 of
sequential calls, then RSS. The client is grpc's Python one (its protobuf parsing
is C): ghz decodes every response as a dynamic message, which at 500 resources
costs it more than the server's work.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.structs import JSON, to_struct
from harness import process
from harness.bench import machine, percentile, pss_mib
from harness.cases import find_cases
from harness.compare import (
    CACHED,
    COMPOSING,
    LOAD_CPU,
    SERVER_CPU,
    call,
    load_average,
    ours,
    peer_inputs,
    pnt,
)
from harness.paths import ROOT, shared_dir
from harness.requests import RESOURCE_NAME, case_request

BASE_CASE = "redisinstance/dev"


def config_map(i: int) -> JSON:
    """One composed resource of about 1 KB, as an earlier pipeline step would compose it."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"settings-{i:04d}",
            "namespace": "team-a",
            "labels": {"app.kubernetes.io/part-of": "scale", "index": str(i)},
            "annotations": {RESOURCE_NAME: f"settings-{i:04d}"},
        },
        "data": {f"key-{k}": f"value-{i}-{k}-" + "x" * 64 for k in range(10)},
    }


def scaled(req: fnv1.RunFunctionRequest, n: int) -> fnv1.RunFunctionRequest:
    """req with n resources composed by earlier steps, each also observed and ready."""
    out = fnv1.RunFunctionRequest()
    out.CopyFrom(req)
    for i in range(n):
        obj = config_map(i)
        name = obj["metadata"]["name"]
        out.desired.resources[name].resource.CopyFrom(to_struct(obj))
        observed = {**obj, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        out.observed.resources[name].resource.CopyFrom(to_struct(observed))
    return out


def sequential_latency(
    target: str, req: fnv1.RunFunctionRequest, calls: int
) -> tuple[float, float]:
    """p50 and p99 (ms) of sequential calls after a warm-up, sent from LOAD_CPU."""
    os.sched_setaffinity(0, LOAD_CPU)
    run = call(target)
    for _ in range(max(20, calls // 10)):
        run(req)
    samples = []
    for _ in range(calls):
        begin = time.perf_counter()
        run(req)
        samples.append((time.perf_counter() - begin) * 1000)
    return statistics.median(samples), percentile(samples, 0.99)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pnt", type=Path, default=os.environ.get("PNT") or None)
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "scale.md")
    args = parser.parse_args(argv)
    process.exit_on_sigterm()
    sizes = [int(s) for s in args.sizes.split(",")]
    case = find_cases(ROOT, [BASE_CASE])[0]
    base = case_request(case)
    peer_input = peer_inputs([shared_dir() / "bench" / "patch-and-transform"]).get(case.kind)
    load_before = load_average()
    rows: list[tuple[int, int, str, float, float, float]] = []
    with contextlib.ExitStack() as stack:
        servers = [
            ("ours", stack.enter_context(ours(SERVER_CPU, args=CACHED)), base),
            ("ours composing", stack.enter_context(ours(SERVER_CPU, args=COMPOSING)), base),
        ]
        if args.pnt is not None and peer_input is not None:
            peer_req = fnv1.RunFunctionRequest()
            peer_req.CopyFrom(base)
            peer_req.input.CopyFrom(to_struct(peer_input))
            peer_req.ClearField("credentials")
            servers.append(("P&T", stack.enter_context(pnt(args.pnt, SERVER_CPU)), peer_req))
        for n in sizes:
            for name, served, req in servers:
                big = scaled(req, n)
                p50, p99 = sequential_latency(served.target, big, args.requests)
                rss = pss_mib(served.pid)
                rows.append((n, big.ByteSize(), name, p50, p99, rss))
                print(
                    f"{n:4} {name:14} p50 {p50:6.2f} p99 {p99:6.2f} ms RSS {rss:.0f} MiB",
                    flush=True,
                )
    lines = [
        "# Scale: composed and observed resources per XR",
        "",
        f"`make bench-scale` (python -m harness.scale). Machine: {machine()}.",
        f"Load average (1/5/15 min) before: {load_before}; after: {load_average()}.",
        "",
        (__doc__ or "").split("\n\n", 2)[2].replace("\n", " ").strip(),
        f" {args.requests} sequential calls per size.",
        "",
        "| resources | request bytes | server | p50 ms | p99 ms | p50 µs per resource | RSS MiB |",
        "|---:|---:|---|---:|---:|---:|---:|",
        *(
            f"| {n} | {size} | {name} | {p50:.2f} | {p99:.2f} | {p50 * 1000 / n:.1f} | {rss:.0f} |"
            for n, size, name, p50, p99, rss in rows
        ),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
