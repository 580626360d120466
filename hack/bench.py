#!/usr/bin/env python3
"""Benchmark RunFunction over real gRPC on loopback, for every example case.

    python hack/bench.py [--requests N] [--concurrency C] [--out bench/results.md] [filter ...]

Starts the function server (python -m function --insecure) on a free port and
sends each example's request the way Crossplane does: observed composed
resources from observed.yaml, required resources answered from required.yaml
after the function asks for them, the Composition step's input and the
example credentials. Reports p50/p99 latency of sequential calls, requests per
second at a fixed concurrency, and the server's peak RSS; writes a Markdown
table with the machine and versions. Invalid-XR cases are left out (they stop
at validation and would flatter the figures).
"""

import argparse
import concurrent.futures
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hack"))
sys.path.insert(0, str(ROOT))

from render import Case, FunctionServer, find_cases, load_yaml_docs  # noqa: E402

from function.structs import to_struct  # noqa: E402

RESOURCE_NAME = "crossplane.io/composition-resource-name"


def build_request(case: Case) -> fnv1.RunFunctionRequest:
    req = fnv1.RunFunctionRequest()
    req.observed.composite.resource.CopyFrom(to_struct(load_yaml_docs(case.xr)[0]))
    observed = case.optional("observed.yaml")
    for doc in load_yaml_docs(observed) if observed else []:
        name = doc["metadata"]["annotations"][RESOURCE_NAME]
        req.observed.resources[name].resource.CopyFrom(to_struct(doc))
    composition = yaml.safe_load((ROOT / "compositions" / f"{case.kind}.yaml").read_text())
    step = composition["spec"]["pipeline"][0]
    req.input.CopyFrom(to_struct(step.get("input", {})))
    for secret in load_yaml_docs(ROOT / "examples" / "credentials.yaml"):
        for cred in step.get("credentials", []):
            if cred["secretRef"]["name"] == secret["metadata"]["name"]:
                for key, value in secret.get("stringData", {}).items():
                    req.credentials[cred["name"]].credential_data.data[key] = value.encode()
    return req


def answer_requirements(
    stub: grpcv1.FunctionRunnerServiceStub, case: Case, req: fnv1.RunFunctionRequest
) -> None:
    """Fill required resources as Crossplane would: by the selectors the function returns."""
    required = case.optional("required.yaml")
    docs = load_yaml_docs(required) if required else []
    rsp = stub.RunFunction(req, timeout=30)
    for key, sel in rsp.requirements.resources.items():
        for doc in docs:
            meta = doc.get("metadata", {})
            if (doc.get("apiVersion"), doc.get("kind"), meta.get("name")) == (
                sel.api_version,
                sel.kind,
                sel.match_name,
            ):
                req.required_resources[key].items.add().resource.CopyFrom(to_struct(doc))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_case(target: str, case: Case, requests: int, concurrency: int) -> dict[str, Any]:
    with grpc.insecure_channel(target) as channel:
        stub = grpcv1.FunctionRunnerServiceStub(channel)
        req = build_request(case)
        answer_requirements(stub, case, req)
        for _ in range(20):  # warm up
            stub.RunFunction(req, timeout=30)
        latencies = []
        for _ in range(requests):
            start = time.perf_counter()
            stub.RunFunction(req, timeout=30)
            latencies.append((time.perf_counter() - start) * 1000)
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            start = time.perf_counter()
            list(pool.map(lambda _: stub.RunFunction(req, timeout=30), range(requests)))
            rps = requests / (time.perf_counter() - start)
    return {
        "case": case.id,
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 0.99),
        "rps": rps,
        "bytes": req.ByteSize(),
    }


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    parser.add_argument("filters", nargs="*")
    args = parser.parse_args(argv)
    cases = [c for c in find_cases(ROOT, args.filters) if not c.expects_error]
    rows = []
    with FunctionServer(ROOT) as server:
        for case in cases:
            row = bench_case(server.target, case, args.requests, args.concurrency)
            rows.append(row)
            print(
                f"{row['case']:48} p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms  "
                f"{row['rps']:7.0f} req/s",
                flush=True,
            )
        assert server.proc is not None
        rss = peak_rss_mib(server.proc.pid)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    lines = [
        "# RunFunction benchmark",
        "",
        f"`make bench` (hack/bench.py) on {datetime.now(UTC):%Y-%m-%d}, commit {commit}.",
        f"Machine: {machine()}.",
        f"Real gRPC on loopback, one server process; {args.requests} sequential calls per case "
        f"for latency, then {args.requests} calls at concurrency {args.concurrency} for "
        f"throughput. Peak RSS of the server over the whole run: {rss:.1f} MiB.",
        "",
        "Cases whose XR sets `vaultPath` also run the Vault step, against the `vault-address` "
        "of examples/credentials.yaml: a closed loopback port, so their figures include one "
        "refused connection per call (the warning path), not a Vault round trip.",
        "",
        "| case | request bytes | p50 ms | p99 ms | req/s |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {r['case']} | {r['bytes']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['rps']:.0f} |"
            for r in rows
        ),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"peak RSS {rss:.1f} MiB; written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
