"""What P&T composes next to this function, case by case: for writing a P&T Composition.

    python -m harness.peercheck --pnt /path/to/function-patch-and-transform [filters...]

For every valid example case of a kind with a P&T Composition (harness.compare's
peer_inputs), sends the case's request to both servers and prints each side's desired
resources (composition-resource-name, apiVersion, kind) and P&T's results, so a
Composition written in bench/patch-and-transform/ can be checked to compose the same
resources before its figures are compared. Exits 1 when P&T returns a FATAL result.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.structs import to_dict
from harness import compare
from harness.cases import find_cases
from harness.paths import ROOT


def composed(rsp: fnv1.RunFunctionResponse) -> dict[str, str]:
    """Each desired resource's apiVersion and kind, by its composition-resource-name."""
    out: dict[str, str] = {}
    for name, r in sorted(rsp.desired.resources.items()):
        obj = to_dict(r.resource)
        out[name] = f"{obj.get('apiVersion')} {obj.get('kind')}"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pnt", type=Path, default=os.environ.get("PNT") or None)
    parser.add_argument("filters", nargs="*")
    args = parser.parse_args(argv)
    if args.pnt is None:
        parser.error("give the P&T binary: --pnt PATH or PNT=PATH")
    inputs = compare.peer_inputs(compare.peer_dirs())
    cases = [c for c in find_cases(ROOT, args.filters) if not c.expects_error]
    fatal = False
    with compare.ours(compare.BOTH_CPUS) as mine, compare.pnt(args.pnt, compare.BOTH_CPUS) as peer:
        pairs, skipped = compare.pairs(cases, inputs, mine.target)
        ours_call, peer_call = compare.call(mine.target), compare.call(peer.target)
        for pair in pairs:
            if pair.peer is None:
                print(f"{pair.case}: no P&T Composition")
                continue
            a, b = composed(ours_call(pair.ours)), composed(peer_call(pair.peer))
            print(f"{pair.case}: ours {len(a)}, P&T {len(b)}")
            for name in sorted(a.keys() | b.keys()):
                print(f"  {name:40} ours: {a.get(name, '-'):50} P&T: {b.get(name, '-')}")
            for result in peer_call(pair.peer).results:
                severity = fnv1.Severity.Name(result.severity)
                fatal |= result.severity == fnv1.SEVERITY_FATAL
                print(f"  P&T {severity}: {result.message}")
    for line in skipped:
        print(f"left out: {line}")
    return 1 if fatal else 0


if __name__ == "__main__":
    sys.exit(main())
