"""Soak: many calls at concurrency 32, valid and invalid XRs mixed; errors and memory over time.

    python -m harness.soak [--requests 1000000] [--workers N] [--out bench/soak.md]

Every example case's request, valid ones and invalid ones that end in a FATAL
result, is sent in turn by ghz over CONNECTIONS connections (the workers share
them) at concurrency 32, in ten equal chunks; after each chunk the server's
resident memory (all workers) is recorded. Cases that call Vault (the closed port
of examples/credentials.yaml) are left out unless --with-vault: the refused
connection costs a dozen times a call without it, and a million of them would
take the best part of an hour here. Done when every call returned OK (a FATAL
result is an OK call) and memory after warm-up stays flat.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from harness import ghz, process
from harness.bench import machine, pss_mib
from harness.cases import find_cases
from harness.compare import (
    BOTH_CPUS,
    CACHED,
    COMPOSING,
    call,
    calls_vault,
    load_average,
    ours,
)
from harness.paths import ROOT
from harness.requests import answered_case_request

CHUNKS = 10
CONCURRENCY = 32
CONNECTIONS = 4


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=len(BOTH_CPUS))
    parser.add_argument("--with-vault", action="store_true", help="also the cases that call Vault")
    parser.add_argument(
        "--composing",
        action="store_true",
        help="serve with --response-cache-mib 0: every call composes (default: as deployed)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "soak.md")
    args = parser.parse_args(argv)
    process.exit_on_sigterm()
    cases = find_cases(ROOT)
    load_before = load_average()
    chunk = args.requests // CHUNKS
    rows: list[tuple[int, float, float, int]] = []
    failures: dict[str, int] = {}
    server_args = COMPOSING if args.composing else CACHED
    with (
        ours(BOTH_CPUS, workers=args.workers, args=server_args) as served,
        tempfile.TemporaryDirectory() as tmp,
    ):
        run = call(served.target)
        requests = []
        for case in list(cases):
            req = answered_case_request(case, run)
            if calls_vault(run(req)) and not args.with_vault:
                cases.remove(case)
            else:
                requests.append(req)
        data = ghz.request_file(requests, Path(tmp))
        idle = pss_mib(served.pid)
        sent = 0
        for _ in range(CHUNKS):
            begin = time.perf_counter()
            result = ghz.run(
                served.target,
                data,
                total=chunk,
                concurrency=CONCURRENCY,
                connections=CONNECTIONS,
                cpus=BOTH_CPUS,
            )
            sent += result.count
            for status, n in result.statuses.items():
                if status != "OK":
                    failures[status] = failures.get(status, 0) + n
            rss = pss_mib(served.pid)
            rows.append((sent, result.rps, rss, result.failures))
            print(
                f"{sent:>9} calls  {result.rps:7.0f} req/s  RSS {rss:6.1f} MiB  "
                f"failed {result.failures}  ({time.perf_counter() - begin:.0f} s)",
                flush=True,
            )
    invalid = sum(c.expects_error for c in cases)
    lines = [
        "# Soak",
        "",
        f"`make soak` (python -m harness.soak --requests {args.requests}"
        + (" --composing" if args.composing else "")
        + f"). Machine: {machine()}.",
        f"Load average (1/5/15 min) before: {load_before}; after: {load_average()}.",
        "",
        f"{args.requests} calls at concurrency {CONCURRENCY} over {CONNECTIONS} connections, the "
        "server with "
        f"`--workers {args.workers}`"
        + (
            " `--response-cache-mib 0` (composing every call)"
            if args.composing
            else " (with its response cache, as deployed)"
        )
        + f" and ghz on the same 2 cores; the {len(cases)} example "
        f"requests in turn ({invalid} of them invalid XRs answered with a FATAL result"
        + ("; the Vault cases against a closed port" if args.with_vault else "; none calls Vault")
        + "). RSS is the PSS summed over the server's processes.",
        "",
        f"Idle RSS after start-up and one call per case: {idle:.1f} MiB. "
        f"Calls that did not return OK: {sum(failures.values())}"
        + (f" ({failures})" if failures else "")
        + ".",
        "",
        "| calls so far | req/s in chunk | RSS MiB | failed in chunk |",
        "|---:|---:|---:|---:|",
        *(f"| {n} | {rps:.0f} | {rss:.1f} | {bad} |" for n, rps, rss, bad in rows),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"written {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
