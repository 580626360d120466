"""The whole reconcile loop, this function against function-patch-and-transform (P&T), in the
control plane of `make e2e` (harness/controlplane.py).

    python -m harness.loop --pnt /path/to/function-patch-and-transform [--counts 100 500]

Both functions are installed through Crossplane's package manager and served by the harness
(harness/pntfunction.py says how P&T is). Each run creates `count` XRs of a kind, each in a
namespace of its own (the platform team's P&T Compositions name what they compose after the
XR's parameters, so two XRs in one namespace would compose the same object), and measures
the wall time from the first create until every XR is Synced=True and Ready=True, and the CPU
seconds (utime + stime from /proc, every thread and process of each) core and the serving
function used over that time. Ours is picked by the XRD's defaultCompositionRef, P&T by each
XR's spec.crossplane.compositionRef naming a second Composition of the same XRD.

Composed managed resources get their status from a simulated provider (harness/loopwatch.py),
the same for both. Each configuration (XR count, core's function response cache off or on)
runs both functions, which go first in turn; every run starts from nothing of the kind (the
last run's namespaces deleted and gone). After each start of core, a few XRs of each
function warm it up, not counted.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from function import catalogue
from function.kind import AnyKind
from harness import pntfunction, process
from harness.bench import commit, cpu_seconds, machine
from harness.cases import JSON, Case, example_credentials, find_cases, load_yaml_docs
from harness.compare import load_average, peer_compositions, peer_dirs
from harness.controlplane import ControlPlane
from harness.loopreport import (
    OURS,
    PEER,
    Cpu,
    Run,
    calls_table,
    converging_table,
    runs_table,
    steady_table,
)
from harness.loopwatch import Convergence, SimulatedProvider, condition_true
from harness.paths import ROOT, go_tool, shared_dir

# Core's flags for the function response cache (crossplane v2.3.4 cmd/crossplane/core/core.go:
# EnableFunctionResponseCache; XfnCacheMaxTTL, 24h by default, caps a response's meta.ttl;
# the harness gives every start of core an empty --xfn-cache-dir).
CACHE_ON = ("--enable-function-response-cache",)
# Core's default (cmd/crossplane/core/core.go PollInterval), not the e2e's 5s. With realtime
# compositions, on by default, it applies only to an XR whose pipeline returned no meta.ttl
# (internal/controller/apiextensions/composite/reconciler.go); both functions return one.
POLL_INTERVAL = "1m"
# The XR each run creates copies of, by kind folder: a case of examples/<kind>/.
CASES = {"redisinstance": "redisinstance/dev"}
WARM_UP_COUNT = 5
CREATORS = 8  # concurrent creates and deletes
RBAC_API = "rbac.authorization.k8s.io/v1"


@dataclasses.dataclass(frozen=True)
class Subject:
    """A kind as both functions serve it in the plane."""

    kind: AnyKind
    case: Case
    peer_composition: str  # the P&T Composition's name

    @property
    def name(self) -> str:
        return self.kind.api.kind


def kind_of(folder: str) -> AnyKind:
    for kind in catalogue.kinds():
        if kind.api.kind.lower() == folder:
            return kind
    raise ValueError(f"no kind {folder}")


def cluster_scoped(api_versions: set[str]) -> set[str]:
    """Those of api_versions whose CRD in $SHARED/crds is cluster-scoped (controller-gen names
    each CRD file <group>_<plural>.yaml)."""
    out = set()
    for api_version in api_versions:
        group, _, version = api_version.rpartition("/")
        for path in sorted((shared_dir() / "crds").glob(f"*/{group}_*.yaml")):
            for doc in load_yaml_docs(path):
                served = {v["name"] for v in doc["spec"]["versions"]}
                if doc["spec"]["scope"] == "Cluster" and version in served:
                    out.add(api_version)
    return out


def ready_statuses(case_dir: Path) -> dict[tuple[str, str], JSON]:
    """The status a provider reports once done, by apiVersion and kind of what it serves: the
    composed objects with Ready=True in the kind's `ready` example (observed.yaml)."""
    out: dict[tuple[str, str], JSON] = {}
    path = case_dir.parent / "ready" / "observed.yaml"
    for doc in load_yaml_docs(path) if path.is_file() else []:
        if "." in doc["apiVersion"].rpartition("/")[0] and condition_true(doc, "Ready"):
            out[(doc["apiVersion"], doc["kind"])] = doc["status"]
    return out


def install(plane: ControlPlane, folder: str) -> Subject:
    """What the kind needs beside the packages: the upstream CRDs of what it composes, the
    examples' credentials, P&T and its Composition for the kind."""
    kind = kind_of(folder)
    plane.apply_crds([shared_dir() / path for path in kind.crds])
    for doc in example_credentials(ROOT):
        plane.apply(doc)
    xrd = kind.api.xrd_name
    plane.wait_established([xrd])
    # Core serves an XR only with the role the RBAC manager makes for its XRD (crossplane
    # v2.3.4 internal/controller/rbac/definition/roles.go, nameSuffixSystem).
    role = f"crossplane:composite:{xrd}:aggregate-to-crossplane"
    process.wait_until(lambda: bool(plane.get(RBAC_API, "ClusterRole", role)), 120, role)
    doc = peer_compositions(peer_dirs())[folder]
    bases = {r["base"]["apiVersion"] for r in doc["spec"]["pipeline"][0]["input"]["resources"]}
    composition = pntfunction.peer_composition(
        doc, kind.api.api_version, kind.api.kind, cluster_scoped(bases)
    )
    plane.apply(composition)
    (case,) = find_cases(ROOT, [CASES[folder]])
    return Subject(kind, case, composition["metadata"]["name"])


def xr_doc(subject: Subject, function: str, namespace: str) -> JSON:
    """The case's XR, in `namespace`; P&T's names the P&T Composition."""
    xr = load_yaml_docs(subject.case.xr)[0]
    xr["metadata"] = {"name": "loop", "namespace": namespace}
    xr.pop("status", None)
    spec = {k: v for k, v in xr.get("spec", {}).items() if k != "crossplane"}
    if function == PEER:
        spec["crossplane"] = {"compositionRef": {"name": subject.peer_composition}}
    xr["spec"] = spec
    return xr


def in_parallel(work: Callable[[JSON], object], docs: Sequence[JSON]) -> None:
    with concurrent.futures.ThreadPoolExecutor(CREATORS) as pool:
        for _ in pool.map(work, docs):
            pass


def namespace_doc(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@dataclasses.dataclass
class Plane:
    """The plane and the processes whose CPU is measured."""

    plane: ControlPlane
    pnt: process.Process
    steady_seconds: float  # the window measured after convergence; 0: none

    def function_pid(self, function: str) -> int:
        if function == PEER:
            return self.pnt.pid
        assert self.plane.function is not None
        assert self.plane.function.pid is not None
        return self.plane.function.pid

    def function_object(self, function: str) -> str:
        """The name of the function's Function object: core's metrics label its calls so."""
        return pntfunction.NAME if function == PEER else self.plane.function_name

    def window(self, function: str) -> Cpu:
        """CPU seconds of core and of function so far, and the calls core has sent it."""
        return Cpu(
            cpu_seconds(self.plane.core.pid),
            cpu_seconds(self.function_pid(function)),
            calls_sent(metrics_text(self.plane.core_metrics_port)).get(
                self.function_object(function), 0.0
            ),
        )


def run(
    p: Plane, subject: Subject, *, function: str, count: int, cache: bool, tag: str, timeout: float
) -> Run:
    """One measured run; its namespaces are deleted and gone when it returns."""
    plane = p.plane
    spaces = [f"loop-{tag}-{i}" for i in range(count)]
    in_parallel(plane.apply, [namespace_doc(n) for n in spaces])
    docs = [xr_doc(subject, function, n) for n in spaces]
    api = subject.kind.api
    tracker = Convergence(plane, api.api_version, api.kind, {(n, "loop") for n in spaces})
    samples: list[Cpu] = []
    tracker.on_done = lambda: samples.append(p.window(function))
    tracker.watch.start()
    load = float(load_average().split(" / ")[0])
    before = p.window(function)
    start = time.monotonic()
    in_parallel(plane.create, docs)
    created = time.monotonic() - start
    deadline = time.monotonic() + timeout
    while not tracker.done.wait(1):
        if tracker.watch.error is not None or time.monotonic() > deadline:
            break
    converged = tracker.done.is_set()
    if not converged:
        samples.append(p.window(function))
    steady = None
    if converged and p.steady_seconds:
        time.sleep(p.steady_seconds)
        steady = since(samples[0], p.window(function))
    tracker.watch.stop()
    if tracker.watch.error is not None:
        raise tracker.watch.error
    result = Run(
        kind=subject.name,
        function=function,
        count=count,
        core_cache=cache,
        created_s=created,
        wall_s=tracker.done_at - start if converged else None,
        converging=since(before, samples[0]),
        steady=steady,
        load=load,
    )
    print(" ".join(runs_table([result])[-1:]), flush=True)
    clean(plane, subject, spaces)
    return result


# Core counts every RunFunction it sends, by the Function's name (crossplane v2.3.4
# internal/xfn/function_runner_metrics.go); an answer from its response cache is not sent.
CALLS_METRIC = "function_run_function_request_total"


def metrics_text(port: int) -> str:
    """Core's metrics (controller-runtime's plain HTTP server on --metrics-port)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text: str = answer.read().decode()
    return text


def calls_sent(text: str) -> dict[str, float]:
    """RunFunction calls core has sent, by function name, summed over the other labels."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == CALLS_METRIC:
                name = sample.labels.get("function_name", "")
                out[name] = out.get(name, 0.0) + sample.value
    return out


def since(before: Cpu, after: Cpu) -> Cpu:
    calls = None
    if before.calls is not None and after.calls is not None:
        calls = after.calls - before.calls
    return Cpu(after.core_s - before.core_s, after.function_s - before.function_s, calls)


def clean(plane: ControlPlane, subject: Subject, spaces: Sequence[str]) -> None:
    """Delete the run's namespaces and wait until they, and every XR of the kind, are gone."""
    in_parallel(plane.delete, [namespace_doc(n) for n in spaces])
    api = subject.kind.api
    wanted = set(spaces)

    def gone() -> bool:
        if plane.list(api.api_version, api.kind):
            return False
        return not any(ns["metadata"]["name"] in wanted for ns in plane.list("v1", "Namespace"))

    process.wait_until(gone, 900, "the run's namespaces deleted")


def configuration_order(counts: Sequence[int], repeats: int) -> list[tuple[bool, int, list[str]]]:
    """(core cache, XR count, functions in order) for every measured step: cache off first,
    then on (one restart of core), each count `repeats` times, the two functions going first
    in turn across the whole sequence."""
    out = []
    turn = 0
    for cache in (False, True):
        for count in counts:
            for _ in range(repeats):
                out.append((cache, count, [OURS, PEER] if turn % 2 == 0 else [PEER, OURS]))
                turn += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pnt", type=Path, default=os.environ.get("PNT") or None)
    parser.add_argument(
        "--pnt-package",
        type=Path,
        default=os.environ.get("PNT_PACKAGE") or None,
        help="P&T's package/ folder (crossplane.yaml, input/); default: package/ beside --pnt, "
        "where its checkout builds it",
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--kinds", nargs="+", default=sorted(CASES), choices=sorted(CASES))
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run")
    parser.add_argument(
        "--steady-seconds",
        type=float,
        default=60,
        help="the CPU over this window after convergence (default: one poll interval)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "loop.md")
    args = parser.parse_args(argv)
    if args.pnt is None:
        parser.error("give the P&T binary: --pnt PATH or PNT=PATH")
    package = args.pnt_package or args.pnt.resolve().parent / "package"
    process.exit_on_sigterm()
    load_before = load_average()
    measured = commit()  # what is imported now, whatever is committed meanwhile
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="loop-") as tmp:
        plane = ControlPlane(Path(tmp), poll_interval=POLL_INTERVAL)
        provider: SimulatedProvider | None = None
        p: Plane | None = None
        try:
            plane.start()
            pnt = pntfunction.install(plane, args.pnt, package, pnt_version())
            p = Plane(plane, pnt, args.steady_seconds)
            subjects = [install(plane, k) for k in args.kinds]
            statuses: dict[tuple[str, str], JSON] = {}
            for s in subjects:
                statuses |= ready_statuses(s.case.dir)
            provider = SimulatedProvider(plane, statuses).start()
            runs = measure(
                p, subjects, args, lambda done: args.out.write_text(
                    report(args, done, load_before, measured)
                )
            )  # fmt: skip
        finally:
            if provider is not None:
                provider.stop()
            if p is not None:
                p.pnt.stop()
            plane.stop()
    text = report(args, runs, load_before, measured)
    args.out.write_text(text)
    print(text)
    return 0 if all(r.wall_s is not None for r in runs) else 1


def measure(
    p: Plane,
    subjects: Sequence[Subject],
    args: argparse.Namespace,
    save: Callable[[list[Run]], object],
) -> list[Run]:
    """Every configuration's runs; `save` gets the runs so far after each (a partial file
    if the benchmark is stopped)."""
    runs: list[Run] = []
    core_cache: bool | None = None
    for step, (cache, count, order) in enumerate(configuration_order(args.counts, args.repeats)):
        if cache != core_cache:
            if core_cache is not None:
                p.plane.restart_core(CACHE_ON if cache else ())
            core_cache = cache
            for subject in subjects:
                for function in (OURS, PEER):
                    warm = Plane(p.plane, p.pnt, 0)
                    run(
                        warm, subject, function=function, count=WARM_UP_COUNT, cache=cache,
                        tag=f"warm-{step}", timeout=args.timeout,
                    )  # fmt: skip
        for subject in subjects:
            for function in order:
                tag = f"{step}-{'p' if function == PEER else 'o'}"
                measured = run(
                    p, subject, function=function, count=count, cache=cache, tag=tag,
                    timeout=args.timeout,
                )  # fmt: skip
                runs.append(measured)
                save(runs)
    return runs


def pnt_version() -> str:
    return os.environ.get("PNT_VERSION", "v0.10.8")


def report(args: argparse.Namespace, runs: Sequence[Run], load_before: str, measured: str) -> str:
    """The Markdown of bench/loop.md."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    core = Path(f"{go_tool('crossplane-core')}.version").read_text().strip()
    counts = " ".join(map(str, args.counts))
    lines = [
        "# The reconcile loop: function-platform against function-patch-and-transform",
        "",
        f"`make bench-loop` (python -m harness.loop --counts {counts} --repeats {args.repeats} "
        f"--steady-seconds {args.steady_seconds:g} --timeout {args.timeout:g}) "
        f"on {when}, commit {measured}; Crossplane core {core}; P&T "
        f"{pnt_version()} ({args.pnt.name}).",
        f"Machine: {machine()}.",
        f"Load average (1/5/15 min) before: {load_before}; after: {load_average()}.",
        "",
        *HOW,
        "",
        "From the first create until every XR is Synced=True and Ready=True:",
        "",
        *converging_table(runs),
        "",
        f"Then {args.steady_seconds:g} s with nothing changing. With realtime compositions "
        "(core's default) core requeues an XR after the smallest meta.ttl its pipeline "
        "returned, not after --poll-interval, and at once when a composed resource changes "
        "(crossplane v2.3.4 internal/controller/apiextensions/composite/reconciler.go): ours "
        "answers 600 s once everything is ready and 30 s before, P&T 60 s (the SDK's "
        "default). The calls table below says how often each XR was called:",
        "",
        *steady_table(runs),
        "",
        "The RunFunction calls core sent each function (core's "
        f"`{CALLS_METRIC}`; an answer from core's response cache is no call), and the "
        "function's CPU per call, over both windows:",
        "",
        *calls_table(runs),
        "",
        "Every run, in the order measured (**created**: until the last create returned):",
        "",
        *runs_table(runs),
        "",
    ]
    return "\n".join(lines)


HOW = [
    "The control plane of `make e2e` (etcd, kube-apiserver, kube-controller-manager, "
    "Crossplane core and its RBAC manager on loopback), both functions installed by core's "
    "package manager and served by the harness with the TLS certificate core issued for each "
    "(harness/pntfunction.py). Each run creates N XRs of the kind from its example "
    f"({', '.join(CASES.values())}), each in a new namespace, 8 creates at a time, and "
    "measures from the first create until every XR is Synced=True and Ready=True (a watch). "
    "**core CPU** and **fn CPU**: utime + stime from /proc of every thread and process of "
    "core and of the serving function over that time (ours: its supervisor and 2 workers, "
    "its own response cache on, as it serves by default); **total** their sum. Ratios are "
    "ours / P&T: below 1 is better. Composed managed resources get Synced and Ready from a "
    "simulated provider (a watch writing the kind's `ready` example status as soon as each "
    "appears), the same for both functions; it, the watches and the creates run in the "
    "benchmark's process, on the same 2 cores.",
    "",
    "P&T serves the platform team's Composition for the kind "
    "($SHARED/bench/patch-and-transform), moved to the v2 XR kind: the same XRD, a second "
    "Composition selected by each XR's spec.crossplane.compositionRef, its bases' legacy "
    "cluster-scoped managed resource kinds replaced by their namespaced twins "
    "(helm.crossplane.io -> helm.m.crossplane.io), which a namespaced XR requires. Ours "
    "composes more (the connection Secret beside the Release) and checks more: the work is "
    "not the same, the outcome (XRs Synced and Ready) is.",
    "",
    "Core's limits that shape the figure, at core's defaults unless said: "
    "--max-concurrent-reconciles (alias --max-reconcile-rate) 100, the XR circuit breaker "
    "(--circuit-breaker-burst 100, --circuit-breaker-refill-rate 1/s per XR), "
    f"--poll-interval {POLL_INTERVAL} (used only where a pipeline returns no ttl). "
    "**core cache** on: --enable-function-response-cache, --xfn-cache-max-ttl 24h (default), "
    "an empty --xfn-cache-dir at each start of core; a response is kept for its meta.ttl: "
    "ours 30 s while anything is not ready and 600 s once all is (function/settings.py TTL "
    "defaults), P&T 60 s (the SDK's default). Core is restarted to turn it on; after each "
    f"start {WARM_UP_COUNT} XRs per function warm it up, not counted. Fresh state per run: "
    "the previous run's namespaces deleted and gone, the functions going first in turn.",
]


if __name__ == "__main__":
    sys.exit(main())
