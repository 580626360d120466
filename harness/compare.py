"""This function against function-patch-and-transform (P&T), side by side, on every case both serve.

    python -m harness.compare --pnt /path/to/function-patch-and-transform [--out bench/compare.md]

P&T's inputs are Compositions whose single pipeline step holds its `Resources` input:
the platform team's, in $SHARED/bench/patch-and-transform/, and any this project adds in
bench/patch-and-transform/. A Composition serves the example kind its
compositeTypeRef names (XRedisInstance serves examples/redisinstance/, the leading X
of the P&T Compositions' XR types dropped), so a new kind is compared as soon as it has examples
and a P&T Composition; until then its cases are measured on this function alone.

Every valid example case is sent to both servers as the same request (XR, observed
and required resources), P&T with its own input. Cases that run the Vault step are
left out of the comparison: P&T has no such step. Each server is pinned to core 0
and ghz to core 1 (taskset), one connection; each round measures p50 at
concurrency 1, in short blocks the servers take in turn, and requests per second at
concurrency 8 for every case on both servers, which go first in turn; the table gives the
medians of the rounds. This function is measured composing every call
(--response-cache-mib 0), the headline: P&T
keeps no answers; and as it serves by default, its response cache answering an equal
request with the bytes it kept, in columns of their own. Then every case with both
servers on both cores (this function with --workers 2) at concurrency 32, in blocks the
servers take in turn, and each one's start-up time to the first served request and idle
RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from function.structs import to_struct
from harness import ghz, process
from harness.bench import commit, cpu_seconds, machine, peak_rss_mib, pss_mib
from harness.cases import Case, find_cases, load_yaml_docs
from harness.paths import ROOT, shared_dir
from harness.requests import answered_case_request
from harness.server import FunctionServer, default_python

SERVER_CPU = (0,)
LOAD_CPU = (1,)
BOTH_CPUS = (0, 1)
VAULT_CONDITION = "VaultSynced"


# ---------------------------------------------------------------- the servers


@dataclasses.dataclass
class Served:
    """A running server: its gRPC target and pid."""

    name: str
    target: str
    pid: int


# This function composing every call (--response-cache-mib 0): what a changed request
# costs, and the like-for-like figure against P&T; and as it serves by default, with its
# response cache.
COMPOSING = ("--response-cache-mib", "0")
CACHED: tuple[str, ...] = ()


@contextlib.contextmanager
def ours(cpus: Sequence[int], workers: int = 1, args: Sequence[str] = ()) -> Iterator[Served]:
    argv = ["--workers", str(workers), *args]
    with FunctionServer(ROOT, wrapper=_pin(cpus), args=argv) as server:
        assert server.pid is not None
        yield Served("function-platform", server.target, server.pid)


@contextlib.contextmanager
def pnt(binary: Path, cpus: Sequence[int]) -> Iterator[Served]:
    port = process.free_port()
    target = f"127.0.0.1:{port}"
    cmd = [
        *_pin(cpus),
        str(binary),
        "--insecure",
        "--address",
        target,
    ]
    proc = process.start("function-patch-and-transform", cmd)
    try:
        process.wait_for_port("127.0.0.1", port, 30, proc)
        yield Served("patch-and-transform", target, proc.pid)
    finally:
        proc.stop()


def call(target: str) -> Callable[[fnv1.RunFunctionRequest], fnv1.RunFunctionResponse]:
    channel = grpc.insecure_channel(target)
    stub = grpcv1.FunctionRunnerServiceStub(channel)  # type: ignore[no-untyped-call]

    def run(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        rsp: fnv1.RunFunctionResponse = stub.RunFunction(req, timeout=30)
        return rsp

    return run


# ---------------------------------------------------------------- the cases


def peer_compositions(dirs: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Every P&T Composition found, by example kind folder ("redisinstance")."""
    out: dict[str, dict[str, Any]] = {}
    for folder in dirs:
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            for doc in load_yaml_docs(path):
                if doc.get("kind") != "Composition":
                    continue
                xr_kind = str(doc["spec"]["compositeTypeRef"]["kind"])
                out[xr_kind.lower().removeprefix("x")] = doc
    return out


def peer_dirs() -> list[Path]:
    """Where the P&T Compositions are: the platform team's, then this project's."""
    return [shared_dir() / "bench" / "patch-and-transform", ROOT / "bench" / "patch-and-transform"]


def peer_inputs(dirs: Sequence[Path]) -> dict[str, dict[str, object]]:
    """P&T's step input by example kind folder ("redisinstance"), from every Composition found."""
    return {
        folder: doc["spec"]["pipeline"][0]["input"]
        for folder, doc in peer_compositions(dirs).items()
    }


@dataclasses.dataclass(frozen=True)
class Answered:
    """What a server's answer to a case holds. Its size is work for the client too: ghz's
    latency ends once it has decoded the answer."""

    resources: int  # desired resources
    size: int  # serialized bytes

    @classmethod
    def of(cls, rsp: fnv1.RunFunctionResponse) -> Answered:
        return cls(len(rsp.desired.resources), rsp.ByteSize())

    def __str__(self) -> str:
        return f"{self.resources} ({self.size} B)"


@dataclasses.dataclass(frozen=True)
class Pair:
    """One case's request for each server."""

    case: str
    ours: fnv1.RunFunctionRequest
    peer: fnv1.RunFunctionRequest | None  # None: no P&T Composition for the kind yet
    composed: Answered  # this function's answer


def calls_vault(rsp: fnv1.RunFunctionResponse) -> bool:
    """Whether the call went to Vault (not only waiting for something before it would)."""
    return any(
        c.type == VAULT_CONDITION and not c.reason.startswith("Waiting") for c in rsp.conditions
    )


def pairs(
    cases: Sequence[Case], inputs: dict[str, dict[str, object]], target: str
) -> tuple[list[Pair], list[str]]:
    """The compared requests, and the cases left out (with why)."""
    run = call(target)
    out: list[Pair] = []
    skipped: list[str] = []
    for case in cases:
        req = answered_case_request(case, run)
        rsp = run(req)
        if calls_vault(rsp):
            skipped.append(f"{case.id} (calls Vault; P&T has no such step)")
            continue
        peer = None
        if case.kind in inputs:
            peer = fnv1.RunFunctionRequest()
            peer.CopyFrom(req)
            peer.input.CopyFrom(to_struct(inputs[case.kind]))
            peer.ClearField("credentials")
        out.append(Pair(case.id, req, peer, Answered.of(rsp)))
    return out, skipped


# ---------------------------------------------------------------- measuring


@dataclasses.dataclass
class Figures:
    p50_ms: list[float] = dataclasses.field(default_factory=list)
    rps: list[float] = dataclasses.field(default_factory=list)
    failures: int = 0


# A round's p50 of a case is the median of this many blocks of calls at concurrency 1, and
# a case's req/s at concurrency 32 of C32_BLOCKS blocks, the servers taking turns block by
# block: the machine's speed moves over seconds (a shared host), and servers measured
# seconds apart would be compared at different speeds.
P50_BLOCKS = 4
C32_BLOCKS = 3


def turns(servers: int, first: int) -> list[int]:
    """The order the servers take a block in: each once, the one at `first` (modulo their
    number) starting, so that over the blocks each goes first as often."""
    return [(first + k) % servers for k in range(servers)]


def in_blocks(servers: int, blocks: int, first: int, block: Callable[[int], float]) -> list[float]:
    """Each server's median of `blocks` figures, block(i) measuring server i once; the
    servers take the blocks in turn (turns), the one at `first` starting."""
    figures: list[list[float]] = [[] for _ in range(servers)]
    for b in range(blocks):
        for i in turns(servers, first + b):
            figures[i].append(block(i))
    return [statistics.median(f) for f in figures]


def measure(
    servers: Sequence[tuple[Served, Path, Figures]], seconds: float, first: int = 0
) -> None:
    """One round of a case on every server: p50 at concurrency 1 over `seconds`, in blocks
    the servers take in turn (the server at `first` starting), then req/s at concurrency 8
    for `seconds` each."""

    def p50(i: int) -> float:
        served, data, figures = servers[i]
        c1 = ghz.run(
            served.target, data, seconds=seconds / P50_BLOCKS, concurrency=1, cpus=LOAD_CPU
        )
        figures.failures += c1.failures
        return c1.p50_ms

    p50s = in_blocks(len(servers), P50_BLOCKS, first, p50)
    for i in turns(len(servers), first):
        served, data, figures = servers[i]
        c8 = ghz.run(served.target, data, seconds=seconds, concurrency=8, cpus=LOAD_CPU)
        figures.p50_ms.append(p50s[i])
        figures.rps.append(c8.rps)
        figures.failures += c8.failures


@dataclasses.dataclass(frozen=True)
class Startup:
    """Medians over a few starts."""

    wall_s: float  # exec to the first served response
    cpu_s: float  # CPU used by then
    rss_mib: float  # PSS right after it


def startup(
    cmd: Callable[[str], list[str]], req: fnv1.RunFunctionRequest, times: int = 5
) -> Startup:
    """Time from exec to the first served response, the CPU it took, and the memory after it."""
    samples: list[float] = []
    cpu: list[float] = []
    rss = 0.0
    for _ in range(times):
        target = f"127.0.0.1:{process.free_port()}"
        begin = time.perf_counter()
        proc = process.start("startup", cmd(target), cwd=ROOT)
        try:
            # Poll the port itself: a gRPC channel that failed to connect waits out its
            # reconnect backoff (a second) before trying again, which would be measured.
            host, _, port = target.rpartition(":")
            while not process.port_open(host, int(port)):
                if not proc.alive():
                    raise RuntimeError(proc.log_tail())
                time.sleep(0.002)
            call(target)(req)
            samples.append(time.perf_counter() - begin)
            cpu.append(cpu_seconds(proc.pid))
            rss = pss_mib(proc.pid)
        finally:
            proc.stop()
    return Startup(statistics.median(samples), statistics.median(cpu), rss)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews the figures."""
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3])


def checkouts(compare: Path | None) -> list[tuple[str, Path]]:
    """What a benchmark with --compare serves, by name: that checkout (named by its directory)
    first, then this one."""
    return ([(f"`{compare.name}`", compare)] if compare else []) + [("this checkout", ROOT)]


def report_head(title: str, command: str, load_before: str) -> list[str]:
    """A benchmark file's first lines: what ran, where, and the load average around it."""
    return [
        f"# {title}",
        "",
        f"`{command}`. Machine: {machine()}.",
        f"Load average (1/5/15 min) before: {load_before}; after: {load_average()} (a shared "
        "machine: other people's builds and tests ran at the same time).",
        "",
    ]


def ratio(ours_value: float, peer_value: float) -> str:
    return f"{ours_value / peer_value:.2f}x" if peer_value else "-"


# The three servers of every round, in the order of Results.figures' tuples.
SIDES = ("composing", "cached", "P&T")


@dataclasses.dataclass
class Results:
    """Everything the report shows."""

    figures: dict[str, tuple[Figures, Figures, Figures]]  # by case, in SIDES order
    composed: dict[str, tuple[Answered, Answered | None]]  # by case: ours and P&T's
    rss: dict[str, float]
    wide: list[tuple[str, float, float, float | None]]  # case; req/s on 2 cores, SIDES order
    skipped: list[str]
    starts: list[tuple[str, Startup, Startup | None]]  # per kind's first case: ours, P&T
    load_before: str
    load_after: str = ""


@dataclasses.dataclass(frozen=True)
class Plan:
    """How much to send."""

    pnt: Path
    rounds: int
    seconds: float
    c32_seconds: float
    connections_c32: int


def compare_rounds(
    pairs_: Sequence[Pair], plan: Plan, folder: Path
) -> tuple[dict[str, tuple[Figures, Figures, Figures]], dict[str, Answered], dict[str, float]]:
    """Every pair on the three servers, pinned to core 0, for plan.rounds rounds; what P&T
    composes for each case; the RSS of each server."""
    figures = {p.case: (Figures(), Figures(), Figures()) for p in pairs_}
    files = {
        p.case: (
            ghz.request_file([p.ours], folder),
            ghz.request_file([p.peer], folder) if p.peer is not None else None,
        )
        for p in pairs_
    }
    with (
        ours(SERVER_CPU, args=COMPOSING) as composing,
        ours(SERVER_CPU, args=CACHED) as cached,
        pnt(plan.pnt, SERVER_CPU) as peer,
    ):
        peer_call = call(peer.target)
        peer_composed = {
            p.case: Answered.of(peer_call(p.peer)) for p in pairs_ if p.peer is not None
        }
        for mine_file, peer_file in files.values():  # warm-up, not counted
            for served in (composing, cached):
                ghz.run(served.target, mine_file, total=200, concurrency=8, cpus=LOAD_CPU)
            if peer_file is not None:
                ghz.run(peer.target, peer_file, total=200, concurrency=8, cpus=LOAD_CPU)
        for n in range(plan.rounds):
            for case, (mine_file, peer_file) in files.items():
                mine, kept, theirs = figures[case]
                servers = [(composing, mine_file, mine), (cached, mine_file, kept)]
                if peer_file is not None:
                    servers.append((peer, peer_file, theirs))
                measure(servers, plan.seconds, first=n)
            print(f"round {n + 1}/{plan.rounds} done (load {load_average()})", flush=True)
        rss = {
            "composing": pss_mib(composing.pid),
            "cached": pss_mib(cached.pid),
            "peer": pss_mib(peer.pid),
            "composing_peak": peak_rss_mib(composing.pid),
            "cached_peak": peak_rss_mib(cached.pid),
            "peer_peak": peak_rss_mib(peer.pid),
        }
    return figures, peer_composed, rss


def firsts(pairs_: Sequence[Pair]) -> dict[str, Pair]:
    """The first pair of each kind, by kind."""
    out: dict[str, Pair] = {}
    for p in pairs_:
        out.setdefault(p.case.split("/")[0], p)
    return out


def two_core_throughput(
    pairs_: Sequence[Pair], plan: Plan, folder: Path
) -> list[tuple[str, float, float, float | None]]:
    """req/s at concurrency 32 for every case: the servers (ours with 2 workers) and ghz on
    both cores, in SIDES order; each case's the median of C32_BLOCKS blocks the servers take
    in turn."""
    load = {"concurrency": 32, "connections": plan.connections_c32, "cpus": BOTH_CPUS}
    seconds = plan.c32_seconds / C32_BLOCKS
    workers = len(BOTH_CPUS)

    def c32(servers: Sequence[tuple[Served, Path]], i: int) -> float:
        served, data = servers[i]
        return ghz.run(served.target, data, seconds=seconds, **load).rps  # type: ignore[arg-type]

    out: list[tuple[str, float, float, float | None]] = []
    with (
        ours(BOTH_CPUS, workers, COMPOSING) as composing,
        ours(BOTH_CPUS, workers, CACHED) as cached,
        pnt(plan.pnt, BOTH_CPUS) as peer,
    ):
        for n, p in enumerate(pairs_):
            mine = ghz.request_file([p.ours], folder)
            servers = [(composing, mine), (cached, mine)]
            if p.peer is not None:
                servers.append((peer, ghz.request_file([p.peer], folder)))
            for served, data in servers:  # warm-up, not counted
                ghz.run(served.target, data, seconds=1, **load)  # type: ignore[arg-type]
            rps = in_blocks(len(servers), C32_BLOCKS, n, functools.partial(c32, servers))
            out.append((p.case, rps[0], rps[1], rps[2] if p.peer is not None else None))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pnt", type=Path, default=os.environ.get("PNT") or None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--seconds", type=float, default=2, help="per case, server, round and concurrency"
    )
    parser.add_argument(
        "--c32-seconds", type=float, default=5, help="per kind at concurrency 32 on 2 cores"
    )
    parser.add_argument(
        "--c32-connections",
        type=int,
        default=8,
        help="connections at concurrency 32: the kernel spreads connections, not calls, "
        "over the workers, at random (SO_REUSEPORT hashes each connection); with 4, one run "
        "in 8 put every connection on one worker, which then served alone on one core",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "compare.md")
    parser.add_argument("filters", nargs="*")
    args = parser.parse_args(argv)
    if args.pnt is None:
        parser.error("give the P&T binary: --pnt PATH or PNT=PATH")
    process.exit_on_sigterm()
    plan = Plan(args.pnt, args.rounds, args.seconds, args.c32_seconds, args.c32_connections)
    load_before = load_average()
    inputs = peer_inputs(peer_dirs())
    cases = [c for c in find_cases(ROOT, args.filters) if not c.expects_error]
    with ours(BOTH_CPUS) as probe:
        compared, skipped = pairs(cases, inputs, probe.target)
    with tempfile.TemporaryDirectory() as tmp:
        figures, peer_composed, rss = compare_rounds(compared, plan, Path(tmp))
        wide = two_core_throughput(compared, plan, Path(tmp))
    python = default_python()
    # Compiled as the image has it (hack/build-image.sh runs compileall): a checkout under
    # PYTHONDONTWRITEBYTECODE would compile every module on every start.
    subprocess.run([python, "-m", "compileall", "-q", "function"], cwd=ROOT, check=True)

    def ours_cmd(target: str) -> list[str]:
        return [*_pin(SERVER_CPU), python, "-m", "function", "--insecure", "--address", target]

    def peer_cmd(target: str) -> list[str]:
        return [*_pin(SERVER_CPU), str(plan.pnt), "--insecure", "--address", target]

    results = Results(
        figures=figures,
        composed={p.case: (p.composed, peer_composed.get(p.case)) for p in compared},
        rss=rss,
        wide=wide,
        skipped=skipped,
        starts=[
            (
                p.case,
                startup(lambda t: [*ours_cmd(t), "--workers", "1"], p.ours),
                startup(peer_cmd, p.peer) if p.peer is not None else None,
            )
            for p in firsts(compared).values()
        ],
        load_before=load_before,
    )
    results.load_after = load_average()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = report(plan, results)
    args.out.write_text(text)
    print(text)
    failures = sum(f.failures for pair in figures.values() for f in pair)
    return 1 if failures else 0


def _pin(cpus: Sequence[int]) -> list[str]:
    return ["taskset", "-c", ",".join(map(str, cpus))]


def report(plan: Plan, r: Results) -> str:
    """The Markdown of bench/compare.md."""
    commit_id = commit()
    pnt_version = os.environ.get("PNT_VERSION", "v0.10.8")
    ghz_version = os.environ.get("GHZ_VERSION", "v0.121.0")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    med = statistics.median
    lines = [
        "# function-platform against function-patch-and-transform",
        "",
        f"`make bench-compare` (python -m harness.compare) on {when}, commit {commit_id}; "
        f"P&T {pnt_version} ({plan.pnt.name}); ghz {ghz_version}.",
        f"Machine: {machine()}.",
        f"Load average (1/5/15 min) before: {r.load_before}; after: {r.load_after}.",
        "",
        "Each server pinned to core 0, ghz to core 1, one connection. Same request to all "
        "(XR, observed and required resources; P&T with its Composition's input), sent again "
        "and again as Crossplane sends it on the reconciles of an XR whose observed state did "
        "not change. **composing**, the headline: this function with `--response-cache-mib 0`, "
        "composing every call as P&T does, what any changed request costs. **cached**: as it "
        "serves by default, its response cache (function/response_cache.py) answering an equal "
        "request with the bytes it kept; P&T keeps no answers, so this column is not like for "
        "like. Both otherwise as they serve by default: ours busy-polls for the next call while "
        "calls come back to back (`--busy-poll-us`, docs/serving.md), as Go's scheduler spins "
        "before it parks P&T's threads (runtime/proc.go, findRunnable). "
        f"Medians of {plan.rounds} rounds, the servers going first in turn; per round and "
        f"case {plan.seconds:g} s of calls at concurrency 1 in {P50_BLOCKS} blocks the servers "
        "take in turn (p50: the median of the blocks'), then "
        f"{plan.seconds:g} s at concurrency 8 (req/s). Ratios are to P&T: below 1 is better "
        "for p50, above 1 for req/s. **answers**: desired resources in each answer and its "
        "bytes (ours / P&T's): where the resources differ the P&T Composition cannot express "
        "the case (its header says why) and the work is not like for like; the bytes are the "
        "client's work too, "
        "as ghz's latency ends once it has decoded the answer (docs/benchmarks.md).",
        "",
        "| case | answers | P&T p50 (c=1) | composing | ratio | cached | ratio "
        "| P&T req/s (c=8) | composing | ratio | cached | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, (composing, cached, peer) in r.figures.items():
        mine, theirs = r.composed[case]
        if peer.p50_ms:
            p50, rps = med(peer.p50_ms), med(peer.rps)
            lines.append(
                f"| {case} | {mine} / {theirs} | {p50:.2f} ms "
                f"| {med(composing.p50_ms):.2f} ms | {ratio(med(composing.p50_ms), p50)} "
                f"| {med(cached.p50_ms):.2f} ms | {ratio(med(cached.p50_ms), p50)} "
                f"| {rps:.0f} | {med(composing.rps):.0f} | {ratio(med(composing.rps), rps)} "
                f"| {med(cached.rps):.0f} | {ratio(med(cached.rps), rps)} |"
            )
        else:
            lines.append(
                f"| {case} (no P&T Composition) | {mine} / - | - "
                f"| {med(composing.p50_ms):.2f} ms | - | {med(cached.p50_ms):.2f} ms | - | - "
                f"| {med(composing.rps):.0f} | - | {med(cached.rps):.0f} | - |"
            )
    failures = sum(f.failures for sides in r.figures.values() for f in sides)
    lines += [
        "",
        f"Calls that did not return OK: {failures}.",
        f"RSS (PSS) after the rounds: P&T {r.rss['peer']:.0f} MiB, composing "
        f"{r.rss['composing']:.0f} MiB, cached {r.rss['cached']:.0f} MiB; peak RSS: P&T "
        f"{r.rss['peer_peak']:.0f} MiB, composing {r.rss['composing_peak']:.0f} MiB, cached "
        f"{r.rss['cached_peak']:.0f} MiB.",
        "",
        "Both cores, every case: each server on cores 0-1 (ours `--workers 2`), ghz on the same "
        f"cores, {plan.c32_seconds:g} s of calls at concurrency 32 over {plan.connections_c32} "
        f"connections, in {C32_BLOCKS} blocks the servers take in turn (the median block). The "
        "kernel spreads connections over the workers, not calls, at random: all "
        f"{plan.connections_c32} land on one worker one block in "
        f"{2 ** (plan.connections_c32 - 1)}.",
        "",
        "| case | P&T req/s (c=32) | composing | ratio | cached | ratio |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {case} | {peer:.0f} | {composing:.0f} | {ratio(composing, peer)} "
            f"| {cached:.0f} | {ratio(cached, peer)} |"
            if peer is not None
            else f"| {case} | - | {composing:.0f} | - | {cached:.0f} | - |"
            for case, composing, cached, peer in r.wide
        ),
        "",
    ]
    lines += [
        "Start-up: from exec to the first served response of each kind's first case, median of "
        "5 starts on core 0 (ours `--workers 1`, modules compiled as in the image); the CPU "
        "the process used by then (wall time on a busy machine adds the wait for a core); "
        "PSS right after it.",
        "",
        "| first request | P&T wall | ours wall | P&T CPU | ours CPU | P&T PSS | ours PSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {case} | {peer.wall_s:.3f} s | {mine.wall_s:.3f} s | {peer.cpu_s:.2f} s "
            f"| {mine.cpu_s:.2f} s | {peer.rss_mib:.0f} MiB | {mine.rss_mib:.0f} MiB |"
            if peer is not None
            else f"| {case} | - | {mine.wall_s:.3f} s | - | {mine.cpu_s:.2f} s | - "
            f"| {mine.rss_mib:.0f} MiB |"
            for case, mine, peer in r.starts
        ),
        "",
    ]
    if r.skipped:
        lines += ["Left out of the comparison:", *(f"- {s}" for s in r.skipped), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
