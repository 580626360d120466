"""The figures of the reconcile-loop benchmark (harness/loop.py) and their Markdown tables."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

OURS, PEER = "function-platform", "patch-and-transform"


@dataclasses.dataclass(frozen=True)
class Cpu:
    """CPU seconds (utime + stime) of core and of the serving function over a window, and the
    RunFunction calls core sent the function in it (None: core's metrics were not read)."""

    core_s: float
    function_s: float
    calls: float | None = None

    @property
    def function_ms_per_call(self) -> float | None:
        return self.function_s * 1000 / self.calls if self.calls else None

    @property
    def total_s(self) -> float:
        return self.core_s + self.function_s


@dataclasses.dataclass(frozen=True)
class Run:
    """One measured run: `count` XRs of `kind` served by `function`."""

    kind: str
    function: str  # OURS or PEER
    count: int
    core_cache: bool  # core's --enable-function-response-cache
    created_s: float  # from the first create until the last one returned
    wall_s: float | None  # from the first create until all Synced and Ready; None: timeout
    converging: Cpu  # over wall_s
    steady: Cpu | None  # over a window after that, nothing changing
    load: float  # 1-minute load average when the run started


def median_cpu(cpus: Sequence[Cpu]) -> Cpu:
    calls = [c.calls for c in cpus]
    return Cpu(
        statistics.median(c.core_s for c in cpus),
        statistics.median(c.function_s for c in cpus),
        None if None in calls else statistics.median(c for c in calls if c is not None),
    )


def ratio(ours: float | None, peer: float | None) -> str:
    """ours / P&T, as bench/compare.md gives it; '-' when either is missing or P&T's is 0."""
    return f"{ours / peer:.2f}x" if ours is not None and peer else "-"


def seconds_text(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "timeout"


def _triple(peer: float | None, ours: float | None) -> str:
    """P&T's, ours and the ratio, as three cells."""
    return f"{seconds_text(peer)} | {seconds_text(ours)} | {ratio(ours, peer)}"


def _cpu_cells(peer: Cpu, ours: Cpu) -> str:
    return " | ".join(
        [
            _triple(peer.core_s, ours.core_s),
            _triple(peer.function_s, ours.function_s),
            _triple(peer.total_s, ours.total_s),
        ]
    )


CPU_HEADS = "P&T core CPU | ours | ratio | P&T fn CPU | ours | ratio | P&T total | ours | ratio"


def _groups(runs: Sequence[Run]) -> list[tuple[tuple[str, int, bool], list[Run], list[Run]]]:
    """Per kind, count and core cache setting, sorted: our runs and P&T's, both present."""
    out = []
    for key in sorted({(r.kind, r.count, r.core_cache) for r in runs}):
        group = [r for r in runs if (r.kind, r.count, r.core_cache) == key]
        mine = [r for r in group if r.function == OURS]
        theirs = [r for r in group if r.function == PEER]
        if mine and theirs:
            out.append((key, mine, theirs))
    return out


def _key_cells(key: tuple[str, int, bool]) -> str:
    kind, count, cache = key
    return f"{kind} | {count} | {'on' if cache else 'off'}"


def _median_wall(runs: Sequence[Run]) -> float | None:
    walls = [r.wall_s for r in runs]
    if any(w is None for w in walls):
        return None
    return statistics.median(w for w in walls if w is not None)


def converging_table(runs: Sequence[Run]) -> list[str]:
    """Wall time to all Synced and Ready, and the CPU over it: P&T's beside ours (medians)."""
    lines = [
        f"| kind | XRs | core cache | P&T wall | ours | ratio | {CPU_HEADS} | load 1m P&T / ours |",
        "|---|---:|---|" + "---:|" * 13,
    ]
    for key, mine, theirs in _groups(runs):
        load = f"{statistics.median(r.load for r in theirs):.1f} / " + (
            f"{statistics.median(r.load for r in mine):.1f}"
        )
        cpu = _cpu_cells(
            median_cpu([r.converging for r in theirs]), median_cpu([r.converging for r in mine])
        )
        lines.append(
            f"| {_key_cells(key)} | {_triple(_median_wall(theirs), _median_wall(mine))} "
            f"| {cpu} | {load} |"
        )
    return lines


def steady_table(runs: Sequence[Run]) -> list[str]:
    """The CPU over the window after convergence: P&T's beside ours (medians)."""
    lines = [f"| kind | XRs | core cache | {CPU_HEADS} |", "|---|---:|---|" + "---:|" * 9]
    for key, mine, theirs in _groups(runs):
        peer = [r.steady for r in theirs if r.steady is not None]
        ours = [r.steady for r in mine if r.steady is not None]
        if peer and ours:
            lines.append(
                f"| {_key_cells(key)} | {_cpu_cells(median_cpu(peer), median_cpu(ours))} |"
            )
    return lines


def _count(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "-"


def _ms(value: float | None) -> str:
    return f"{value:.2f} ms" if value is not None else "-"


def _calls_cells(peer: Cpu, ours: Cpu) -> str:
    """Calls and the function's CPU per call: P&T's, ours and the ratio of the latter."""
    return (
        f"{_count(peer.calls)} | {_count(ours.calls)} | {_ms(peer.function_ms_per_call)} | "
        f"{_ms(ours.function_ms_per_call)} | "
        f"{ratio(ours.function_ms_per_call, peer.function_ms_per_call)}"
    )


CALLS_HEADS = "P&T calls | ours | P&T fn CPU per call | ours | ratio"


def calls_table(runs: Sequence[Run]) -> list[str]:
    """The calls core sent each function, and the function's CPU per call, in both windows
    (medians)."""
    lines = [
        f"| kind | XRs | core cache | {CALLS_HEADS} | steady: {CALLS_HEADS} |",
        "|---|---:|---|" + "---:|" * 10,
    ]
    for key, mine, theirs in _groups(runs):
        converging = _calls_cells(
            median_cpu([r.converging for r in theirs]), median_cpu([r.converging for r in mine])
        )
        peer = [r.steady for r in theirs if r.steady is not None]
        ours = [r.steady for r in mine if r.steady is not None]
        steady = (
            _calls_cells(median_cpu(peer), median_cpu(ours))
            if peer and ours
            else " | ".join(["-"] * 5)
        )
        lines.append(f"| {_key_cells(key)} | {converging} | {steady} |")
    return lines


def runs_table(runs: Sequence[Run]) -> list[str]:
    """Every run, in the order measured."""
    lines = [
        "| kind | function | XRs | core cache | created | wall | core CPU | fn CPU | calls "
        "| steady core CPU | steady fn CPU | steady calls | load 1m |",
        "|---|---|---:|---|" + "---:|" * 9,
    ]
    for r in runs:
        steady = (
            f"{r.steady.core_s:.1f} s | {r.steady.function_s:.1f} s | {_count(r.steady.calls)}"
            if r.steady
            else "- | - | -"
        )
        lines.append(
            f"| {r.kind} | {r.function} | {r.count} | {'on' if r.core_cache else 'off'} "
            f"| {r.created_s:.1f} s | {seconds_text(r.wall_s)} | {r.converging.core_s:.1f} s "
            f"| {r.converging.function_s:.1f} s | {_count(r.converging.calls)} | {steady} "
            f"| {r.load:.1f} |"
        )
    return lines
