"""CPU time of each phase of a composing call, per example case, and the serving floor.

    python -m harness.phases [--calls N] [--grpc-calls N] [--baseline] [--variants]
                             [--out bench/phases.md] [filter ...]

In process, for every valid example case: `FunctionRunner.serve` on the request's bytes
with the response cache off (`--response-cache-mib 0`: every call composes), timed with
the thread's CPU clock over --calls calls; then the same calls again with the functions
each phase consists of wrapped, each wrapper adding the CPU time spent in it, less the time
of the wrapped phases it calls, to its phase. Serializing the response is a protobuf method
no wrapper reaches: it is timed alone over the same number of calls. What no phase covers
(admission, the composing turn, the runner's own code between the phases) is "other": the
plain calls' time less every phase's. The three alternate in blocks, so that a change of
load weighs on all alike; what is left of it shows in "other", which can come out negative.

Over gRPC, client and server in separate processes: the function's server composing every
call, and the floor, a bare server on the same transport answering the same bytes
(harness/floor.py), each sent --grpc-calls calls in sequence by this process; their CPU per
call is the server process's run time (/proc/<pid>/task/*/schedstat, every thread).

CPU time rather than latency: another process taking the cores delays a call but adds little
to its CPU time, so the figures hold on a shared machine (the load average is in the file).

--baseline writes the figures as the baseline section of the file (the code before a change),
kept by later runs, which compare with it. --variants also measures the floor's alternatives
(its threads, grpc.server, grpc.aio) on one case's bytes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc
from crossplane.function import response as sdk_response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function import catalogue, response_cache, runner, wire
from function.context import Composite
from function.kind import AnyKind
from harness import process
from harness.bench import commit, machine
from harness.cases import find_cases
from harness.compare import load_average
from harness.paths import ROOT
from harness.requests import LocalCall, answered_case_request
from harness.server import FunctionServer, default_python, raw_run_function

T = TypeVar("T")

# The phases, in the order a call goes through them. "serialize" is timed alone; "other" is
# what is left of the plain calls' time.
PHASES = (
    "parse",
    "digest",
    "Struct to dict",
    "input",
    "validation",
    "compose",
    "Vault step",
    "readiness and status",
    "dict to Struct",
    "serialize",
    "other",
)


def _owners() -> list[tuple[str, object, str]]:
    """(phase, module or class, attribute) of every function a phase consists of, as the
    runner reaches it (the runner's own names, so the served path is the one measured)."""
    return [
        ("parse", wire, "decode_request"),
        ("digest", response_cache, "key"),
        ("digest", response_cache.ResponseCache, "get"),
        ("digest", response_cache.ResponseCache, "put"),
        ("Struct to dict", runner, "object_dict"),
        ("Struct to dict", runner, "_credentials"),
        ("Struct to dict", Composite, "from_object"),
        ("input", runner, "_input"),
        ("input", runner, "environment_config"),
        ("input", runner, "parse_input"),
        ("input", runner, "settings_of"),
        ("validation", runner, "_kind"),
        ("validation", runner, "check_composite"),
        ("validation", runner, "parse_parameters"),
        ("Vault step", runner, "_sync_vault"),
        ("readiness and status", runner, "_write"),
        ("dict to Struct", runner, "merge_state"),
        ("dict to Struct", runner, "_response_to"),
        ("dict to Struct", sdk_response, "require_resources"),
    ]


class PhaseClock:
    """CPU time by phase: each timed function's own, less that of the timed functions it
    calls (which count for their own phases)."""

    def __init__(self) -> None:
        self.spent: dict[str, int] = dict.fromkeys(PHASES, 0)
        self.calls: dict[str, int] = dict.fromkeys(PHASES, 0)
        self._inner: list[int] = []

    def timed(self, phase: str, fn: Callable[..., T]) -> Callable[..., T]:
        clock, inner = time.thread_time_ns, self._inner

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> T:
            inner.append(0)
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = clock() - start
                self.spent[phase] += elapsed - inner.pop()
                self.calls[phase] += 1
                if inner:
                    inner[-1] += elapsed

        return run


@contextlib.contextmanager
def instrumented(clock: PhaseClock) -> Iterator[None]:
    """Every phase's functions timed by clock for the block; the composers through the
    catalogue's look-up (a Kind holds its composer)."""
    saved: list[tuple[object, str, object]] = []

    def patch(owner: object, attribute: str, value: object) -> None:
        raw = vars(owner)[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        saved.append((owner, attribute, raw))
        setattr(owner, attribute, value)

    for phase, owner, attribute in _owners():
        raw = vars(owner)[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        if isinstance(raw, classmethod):
            patch(owner, attribute, staticmethod(clock.timed(phase, getattr(owner, attribute))))
        else:
            patch(owner, attribute, clock.timed(phase, raw))
    kinds: dict[int, AnyKind] = {}
    plain_lookup = catalogue.lookup

    def lookup(api_version: str, kind: str) -> AnyKind | None:
        found = plain_lookup(api_version, kind)
        if found is None:
            return None
        if id(found) not in kinds:
            kinds[id(found)] = dataclasses.replace(
                found, compose=clock.timed("compose", found.compose)
            )
        return kinds[id(found)]

    patch(runner, "lookup", lookup)
    try:
        yield
    finally:
        for owner, attribute, raw in reversed(saved):
            setattr(owner, attribute, raw)


def wrapper_cost(calls: int = 20000) -> float:
    """ns a timed function adds to its own phase (its clock reads), to take off each call."""
    clock = PhaseClock()
    noop = clock.timed("other", lambda: None)
    for _ in range(calls):
        noop()
    return clock.spent["other"] / calls


@dataclasses.dataclass
class CaseFigures:
    """One case's figures, µs of CPU per call."""

    case: str
    request_bytes: int
    response_bytes: int
    in_process: float  # FunctionRunner.serve, plain
    phases: dict[str, float]
    server: float = float("nan")  # the function's server over gRPC, composing
    floor: float = float("nan")  # the bare server answering the same bytes


def per_call_ns(work: Callable[[], object], calls: int) -> float:
    start = time.thread_time_ns()
    for _ in range(calls):
        work()
    return (time.thread_time_ns() - start) / calls


# The plain and the instrumented calls alternate in this many blocks, and the serialization
# is timed between them, so that a change of load on the machine weighs on all alike.
BLOCKS = 10


def in_process(case_id: str, data: bytes, calls: int, cost: float) -> CaseFigures:
    """The plain and the instrumented calls of one request, and its serialization alone."""
    serving = runner.FunctionRunner(response_cache.ResponseCache(0))
    context = LocalCall()
    out = serving.serve(data, context)
    for _ in range(max(50, calls // 10)):  # warm-up: imports, caches, the allocator
        serving.serve(data, context)
    rsp = fnv1.RunFunctionResponse.FromString(out)
    block = max(1, calls // BLOCKS)
    total = serialize = 0.0
    clock = PhaseClock()
    for _ in range(BLOCKS):
        total += per_call_ns(lambda: serving.serve(data, context), block) * block
        with instrumented(clock):
            for _ in range(block):
                if serving.serve(data, context) != out:
                    raise AssertionError(f"{case_id}: the instrumented call answered differently")
        serialize += per_call_ns(lambda: rsp.SerializeToString(deterministic=True), block) * block
    n = block * BLOCKS
    phases = {
        p: max(0.0, clock.spent[p] - clock.calls[p] * cost) / n
        for p in PHASES
        if p not in ("serialize", "other")
    }
    phases["serialize"] = serialize / n
    phases["other"] = total / n - sum(phases.values())
    return CaseFigures(
        case_id,
        len(data),
        len(out),
        total / n / 1000,
        {p: ns / 1000 for p, ns in phases.items()},
    )


# ---------------------------------------------------------------- over gRPC


def run_time_ns(pid: int) -> int:
    """CPU time the process's threads have run so far (schedstat's first field, ns)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def server_cpu_us(target: str, pid: int, data: bytes, calls: int) -> float:
    """The server's CPU per call over calls sequential calls of data."""
    with grpc.insecure_channel(target) as channel:
        call = raw_run_function(channel)
        for _ in range(max(50, calls // 10)):
            call(data, timeout=30)
        before = run_time_ns(pid)
        for _ in range(calls):
            call(data, timeout=30)
        return (run_time_ns(pid) - before) / calls / 1000


@contextlib.contextmanager
def floor_server(
    response: bytes, folder: Path, args: Sequence[str] = ()
) -> Iterator[tuple[str, int]]:
    """harness/floor.py answering response: its target and pid."""
    answer = folder / "response.bin"
    answer.write_bytes(response)
    port = process.free_port()
    target = f"127.0.0.1:{port}"
    cmd = [default_python(), "-m", "harness.floor", "--address", target, "--response", str(answer)]
    proc = process.start("floor", [*cmd, *args], cwd=ROOT)
    try:
        process.wait_for_port("127.0.0.1", port, 30, proc)
        yield target, proc.pid
    finally:
        proc.stop()


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way of serving the floor, and what it costs."""

    name: str
    cpu_us: float
    p50_ms: float
    rps_c8: float
    refused_c8: int  # calls at concurrency 8 the server refused (RESOURCE_EXHAUSTED)


# A small request and answer, where the floor weighs most.
VARIANTS_CASE = "redisinstance/dev"
# The floor's alternatives: harness/floor.py's flags.
VARIANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the function's transport, 8 threads (as served)", ()),
    ("the function's transport, 1 thread", ("--threads", "1")),
    ("the function's transport, 32 threads", ("--threads", "32")),
    ("grpc.server, 8 threads", ("--grpc-server",)),
    ("grpc.server, 1 thread", ("--grpc-server", "--threads", "1")),
    ("grpc.aio", ("--aio",)),
)


def variant(name: str, args: Sequence[str], data: bytes, response: bytes, calls: int) -> Variant:
    with tempfile.TemporaryDirectory() as tmp, floor_server(response, Path(tmp), args) as served:
        target, pid = served
        cpu = server_cpu_us(target, pid, data, calls)
        with grpc.insecure_channel(target) as channel:
            call = raw_run_function(channel)
            samples = []
            for _ in range(calls):
                start = time.perf_counter()
                call(data, timeout=30)
                samples.append(time.perf_counter() - start)

            def refused(_: int) -> bool:
                try:
                    call(data, timeout=30)
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
                    return True
                return False

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                start = time.perf_counter()
                refusals = sum(pool.map(refused, range(calls)))
                rps = (calls - refusals) / (time.perf_counter() - start)
    return Variant(name, cpu, statistics.median(samples) * 1000, rps, refusals)


# ---------------------------------------------------------------- the report

BASELINE_BEGIN = "<!-- baseline -->"
BASELINE_END = "<!-- /baseline -->"
_FIGURES = re.compile(r"<!-- figures (\{.*?\}) -->", re.S)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def tables(rows: Sequence[CaseFigures]) -> list[str]:
    """The µs table and the share table."""
    head = ["case", "bytes in / out", "server", "floor", "in process", *PHASES]
    out = [_row(head), _row(["---", *["---:"] * (len(head) - 1)])]
    for r in rows:
        out.append(
            _row(
                [
                    r.case,
                    f"{r.request_bytes} / {r.response_bytes}",
                    f"{r.server:.0f}",
                    f"{r.floor:.0f}",
                    f"{r.in_process:.0f}",
                    *(f"{r.phases[p]:.1f}" for p in PHASES),
                ]
            )
        )
    out += [
        "",
        "Each phase's share of a call's CPU (floor + in process):",
        "",
        _row(["case", "floor", *PHASES]),
        _row(["---", *["---:"] * (len(PHASES) + 1)]),
    ]
    for r in rows:
        whole = r.floor + r.in_process
        out.append(
            _row(
                [
                    r.case,
                    f"{100 * r.floor / whole:.0f}%",
                    *(f"{100 * r.phases[p] / whole:.0f}%" for p in PHASES),
                ]
            )
        )
    return out


def section(
    title: str, rows: Sequence[CaseFigures], head: dict[str, Any], variants: Sequence[Variant]
) -> list[str]:
    figures = json.dumps({r.case: dataclasses.asdict(r) for r in rows}, sort_keys=True)
    lines = [
        f"## {title}",
        "",
        f"Commit {head['commit']}, {head['when']}; {head['calls']} calls per case in process, "
        f"{head['grpc_calls']} over gRPC. Load average (1/5/15 min) before: "
        f"{head['load_before']}; after: {head['load_after']}. The timing itself adds "
        f"{head['cost']:.2f} µs to each wrapped function's phase, taken off.",
        "",
        "µs of CPU per call: **server**, the function's server over gRPC composing every "
        "call; **floor**, the bare server answering the same bytes; **in process**, "
        "`FunctionRunner.serve` alone; then its phases.",
        "",
        *tables(rows),
        "",
    ]
    if variants:
        lines += [
            f"The floor's alternatives ({head['variants_case']}'s bytes; p50 and req/s are "
            "wall-clock, "
            "client and server sharing a loaded machine):",
            "",
            "| server | CPU µs per call | p50 ms (c=1) | req/s (c=8) | refused (c=8) |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| {v.name} | {v.cpu_us:.0f} | {v.p50_ms:.2f} | {v.rps_c8:.0f} "
                f"| {v.refused_c8} of {head['grpc_calls']} |"
                for v in variants
            ),
            "",
        ]
    return [*lines, f"<!-- figures {figures} -->", ""]


def comparison(baseline: dict[str, Any], rows: Sequence[CaseFigures]) -> list[str]:
    """Per case: in process, floor + in process and the server, baseline and now."""
    out = [
        "Against the baseline (µs of CPU per call, baseline → now):",
        "",
        "| case | in process | server over gRPC | share of the floor |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        b = baseline.get(r.case)
        if b is None:
            continue
        b_share = 100 * b["floor"] / (b["floor"] + b["in_process"])
        share = 100 * r.floor / (r.floor + r.in_process)
        out.append(
            f"| {r.case} | {b['in_process']:.0f} → {r.in_process:.0f} "
            f"| {b['server']:.0f} → {r.server:.0f} | {b_share:.0f}% → {share:.0f}% |"
        )
    return [*out, ""]


def report(
    previous: str, rows: Sequence[CaseFigures], head: dict[str, Any], variants: Sequence[Variant]
) -> str:
    """bench/phases.md: the introduction, this run (or the baseline, kept from previous)."""
    kept = ""
    if BASELINE_BEGIN in previous and not head["baseline"]:
        kept = previous[previous.index(BASELINE_BEGIN) : previous.index(BASELINE_END)]
        kept += BASELINE_END + "\n"
    doc = (__doc__ or "").split("\n\n")
    lines = [
        "# Where a composing call's CPU goes",
        "",
        f"`make bench-phases` (python -m harness.phases). Machine: {machine()}.",
        "",
        *(" ".join(p.split()) + "\n" for p in doc[2:5]),
    ]
    this = section("Baseline" if head["baseline"] else "This checkout", rows, head, variants)
    if head["baseline"]:
        return "\n".join([*lines, BASELINE_BEGIN, *this, BASELINE_END, ""])
    found = _FIGURES.search(kept)
    compared = comparison(json.loads(found.group(1)), rows) if found else []
    return "\n".join([*lines, *this, *compared, kept])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="in process, per case")
    parser.add_argument("--grpc-calls", type=int, default=2000, help="over gRPC, per case")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--variants", action="store_true")
    parser.add_argument(
        "--variants-case", default=VARIANTS_CASE, help="whose bytes the alternatives answer"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "phases.md")
    parser.add_argument("filters", nargs="*")
    args = parser.parse_args(argv)
    process.exit_on_sigterm()
    load_before = load_average()
    cost = wrapper_cost()
    cases = [c for c in find_cases(ROOT, args.filters) if not c.expects_error]
    requests = {c.id: answered_case_request(c, runner.run).SerializeToString() for c in cases}
    composing = runner.FunctionRunner(response_cache.ResponseCache(0))
    context = LocalCall()
    responses = {case_id: composing.serve(data, context) for case_id, data in requests.items()}
    rows = []
    for case_id, data in requests.items():
        rows.append(in_process(case_id, data, args.calls, cost))
        print(f"{case_id:48} in process {rows[-1].in_process:7.1f} µs", flush=True)
    with FunctionServer(ROOT, args=["--workers", "1", "--response-cache-mib", "0"]) as served:
        assert served.pid is not None
        for r in rows:
            r.server = server_cpu_us(served.target, served.pid, requests[r.case], args.grpc_calls)
    with tempfile.TemporaryDirectory() as tmp:
        for r in rows:
            with floor_server(responses[r.case], Path(tmp)) as (target, pid):
                r.floor = server_cpu_us(target, pid, requests[r.case], args.grpc_calls)
            print(f"{r.case:48} server {r.server:7.1f} µs  floor {r.floor:7.1f} µs", flush=True)
    head = {
        "commit": commit(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "calls": args.calls,
        "grpc_calls": args.grpc_calls,
        "load_before": load_before,
        "load_after": load_average(),
        "cost": cost / 1000,
        "baseline": args.baseline,
    }
    previous = args.out.read_text() if args.out.exists() else ""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(previous, rows, head, []))  # kept should the alternatives fail
    if args.variants and rows:
        first = args.variants_case if args.variants_case in requests else rows[0].case
        head["variants_case"] = first
        variants = []
        for name, flags in VARIANTS:
            variants.append(
                variant(name, flags, requests[first], responses[first], args.grpc_calls)
            )
            print(f"{name:52} {variants[-1]}", flush=True)
        head["load_after"] = load_average()
        args.out.write_text(report(previous, rows, head, variants))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
