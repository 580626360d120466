"""Load from ghz (`make bench-tools` installs it): one run, its figures parsed from ghz's JSON.

ghz sends the serialized requests of a file (one, or several count-prefixed, sent in
turn) over one connection at a fixed concurrency and reports latency percentiles,
requests per second and every status code it got back.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf.internal import encoder

from harness.paths import go_tool

PROTO = Path(fnv1.__file__).with_name("run_function.proto")
CALL = "apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction"


@dataclasses.dataclass(frozen=True)
class Run:
    """One ghz run's figures."""

    count: int
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    errors: dict[str, int]

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "OK")


def request_file(requests: Sequence[fnv1.RunFunctionRequest], folder: Path) -> Path:
    """The requests, serialized and count-prefixed (varint length) in one file, for ghz -B."""
    fd, name = tempfile.mkstemp(prefix="requests-", suffix=".bin", dir=folder)
    with open(fd, "wb") as f:
        for req in requests:
            data = req.SerializeToString(deterministic=True)
            if len(requests) > 1:
                f.write(encoder._VarintBytes(len(data)))
            f.write(data)
    return Path(name)


def run(
    target: str,
    data: Path,
    *,
    total: int = 0,
    seconds: float = 0,
    concurrency: int,
    connections: int = 1,
    cpus: Sequence[int] = (),
    timeout_s: float = 30.0,
) -> Run:
    """Send `total` calls, or calls for `seconds`, at `concurrency` over `connections`; ghz
    pinned to `cpus` (taskset)."""
    pin = ["taskset", "-c", ",".join(map(str, cpus)), str(go_tool("ghz")), "--cpus", str(len(cpus))]
    cmd = [
        *(pin if cpus else [str(go_tool("ghz"))]),
        "--insecure",
        "--proto",
        str(PROTO),
        "--call",
        CALL,
        "--binary-file",
        str(data),
        "--connections",
        str(connections),
        "--concurrency",
        str(concurrency),
        *(
            [f"--duration={seconds}s", "--duration-stop=wait"]
            if seconds
            else ["--total", str(total)]
        ),
        "--timeout",
        f"{timeout_s}s",
        "--skipFirst",
        "0",
        "--format",
        "json",
        target,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if not out.stdout.strip():
        raise RuntimeError(f"ghz failed ({out.returncode}): {out.stderr.strip()}")
    report = json.loads(out.stdout)
    latencies = {
        int(p["percentage"]): p["latency"] / 1e6 for p in report.get("latencyDistribution") or []
    }
    return Run(
        count=int(report["count"]),
        rps=float(report["rps"]),
        p50_ms=latencies.get(50, float("nan")),
        p99_ms=latencies.get(99, float("nan")),
        statuses=dict(report.get("statusCodeDistribution") or {}),
        errors=dict(report.get("errorDistribution") or {}),
    )
