"""Render every example case with the real Crossplane CLI, and check or update its golden file.

Layout (relative to the project root, see --root):

    compositions/<kind>.yaml            the Composition used for examples/<kind>/*
    xrds/*.yaml                         XRDs; the one matching the XR is passed as --xrd
    examples/functions.yaml             Function(s); the Development runtime target is
                                        rewritten to the function server started
    examples/credentials.yaml           --function-credentials (if present)
    examples/<kind>/<case>/xr.yaml      the XR
    examples/<kind>/<case>/observed.yaml     optional, --observed-resources
    examples/<kind>/<case>/required.yaml     optional, --required-resources
    examples/<kind>/<case>/input.yaml        optional, the Input spec of the step for this case
    examples/<kind>/<case>/render.args       optional, extra CLI args (shell syntax)
    examples/<kind>/<case>/expected.yaml     expected stdout of the CLI
    examples/<kind>/<case>/expected-error.txt  the case must FAIL; every non-empty line
                                        of this file must appear in the CLI's stderr

Tools: .tools/bin/crossplane (CLI) and .tools/bin/crossplane-core (Crossplane core
binary passed as --crossplane-binary); override with $CROSSPLANE / $CROSSPLANE_CORE
or --crossplane / --crossplane-core. Built by `make tools`.

The function server is started as `<python> -m function --insecure --address
127.0.0.1:<free port>` in the project root (python: $PYTHON, else
<root>/.venv/bin/python, or --python) unless --target HOST:PORT names a server
that is already running.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import difflib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from harness.cases import JSON, Case, example_credentials, find_cases, group_kind, load_yaml_docs
from harness.paths import ROOT, ToolMissingError, Tools
from harness.process import exit_on_sigterm
from harness.server import FunctionServer

DEV_RUNTIME_ANNOTATION = "render.crossplane.io/runtime"
DEV_TARGET_ANNOTATION = "render.crossplane.io/runtime-development-target"


def find_xrd(root: Path, xr: JSON) -> Path | None:
    """The file in xrds/ defining the XR's group and kind (None if there is none)."""
    for path in sorted((root / "xrds").glob("*.y*ml")):
        for doc in load_yaml_docs(path):
            if doc.get("kind") != "CompositeResourceDefinition":
                continue
            spec = doc.get("spec") or {}
            if (spec.get("group"), (spec.get("names") or {}).get("kind")) == group_kind(xr):
                return path
    return None


def write_functions_file(src: Path, target: str, dest_dir: Path) -> Path:
    """Copy of src with every Development-runtime Function pointed at target."""
    docs = load_yaml_docs(src)
    for doc in docs:
        if doc.get("kind") != "Function":
            continue
        annotations = doc.setdefault("metadata", {}).setdefault("annotations", {}) or {}
        doc["metadata"]["annotations"] = annotations
        if annotations.get(DEV_RUNTIME_ANNOTATION, "Development") == "Development":
            annotations[DEV_RUNTIME_ANNOTATION] = "Development"
            annotations[DEV_TARGET_ANNOTATION] = target
    dest = dest_dir / "functions.yaml"
    dest.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return dest


def write_credentials_file(root: Path, dest_dir: Path) -> Path | None:
    """examples/credentials.yaml with stringData folded into data (None if there is none).

    The CLI reads the Secrets as they are and, unlike an API server, ignores
    stringData; a copy with data is what a cluster would hold.
    """
    docs = example_credentials(root)
    if not docs:
        return None
    dest = dest_dir / "credentials.yaml"
    dest.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return dest


@dataclasses.dataclass
class RenderResult:
    """What one `crossplane composition render` of a case did."""

    case: Case
    cmd: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _text(output: str | bytes | None) -> str:
    return output.decode() if isinstance(output, bytes) else (output or "")


class Renderer:
    """Builds and runs `crossplane composition render` for example cases."""

    def __init__(
        self,
        tools: Tools,
        target: str,
        root: Path = ROOT,
        use_xrd: bool = True,
        timeout: float = 120.0,
    ) -> None:
        self.tools = tools
        self.root = root
        self.use_xrd = use_xrd
        self.timeout = timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="render-")
        tmp = Path(self._tmp.name)
        self.functions = write_functions_file(root / "examples/functions.yaml", target, tmp)
        self.credentials = write_credentials_file(root, tmp)

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _composition(self, case: Case) -> Path:
        """The kind's Composition, or a copy with the case's input.yaml as the step's input."""
        if case.optional("input.yaml") is None:
            return case.composition
        path = Path(self._tmp.name) / f"composition-{case.kind}-{case.name}.yaml"
        path.write_text(yaml.safe_dump(case.composition_doc(), sort_keys=False))
        return path

    def command(self, case: Case) -> list[str]:
        """The CLI command line for the case."""
        if not case.composition.is_file():
            raise FileNotFoundError(f"{case.id}: no composition {case.composition}")
        cmd = [
            str(self.tools.crossplane),
            "composition",
            "render",
            str(case.xr),
            str(self._composition(case)),
            str(self.functions),
            "--crossplane-binary",
            str(self.tools.crossplane_core),
        ]
        if self.credentials is not None:
            cmd += ["--function-credentials", str(self.credentials)]
        if (observed := case.optional("observed.yaml")) is not None:
            cmd += ["--observed-resources", str(observed)]
        if (required := case.optional("required.yaml")) is not None:
            cmd += ["--required-resources", str(required)]
        if self.use_xrd:
            docs = load_yaml_docs(case.xr)
            xrd = find_xrd(self.root, docs[0]) if docs else None
            if xrd is not None:
                cmd += ["--xrd", str(xrd)]
        cmd += case.extra_args()
        return cmd

    def render(self, case: Case) -> RenderResult:
        cmd = self.command(case)
        env = dict(os.environ)
        # Keep the CLI from reading/writing the user's ~/.crossplane config.
        env.setdefault("CROSSPLANE_XPKG_CACHE", str(Path(self._tmp.name) / "xpkg-cache"))
        try:
            p = subprocess.run(
                cmd,
                check=False,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired as e:
            timed_out = f"\nrender timed out after {self.timeout}s"
            return RenderResult(case, cmd, -1, _text(e.stdout), _text(e.stderr) + timed_out)
        return RenderResult(case, cmd, p.returncode, p.stdout, p.stderr)

    def render_all(self, cases: Sequence[Case], jobs: int = 1) -> Iterator[RenderResult]:
        """Results in the order of `cases`."""
        if jobs <= 1 or len(cases) <= 1:
            for c in cases:
                yield self.render(c)
            return
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            yield from pool.map(self.render, cases)


# ---------------------------------------------------------------- golden files


def expected_error_lines(case: Case) -> list[str]:
    return [ln.strip() for ln in case.expected_error.read_text().splitlines() if ln.strip()]


def _check_expected_error(result: RenderResult) -> tuple[bool, str]:
    case = result.case
    if result.ok:
        return False, f"{case.id}: expected the render to fail (expected-error.txt) but it exited 0"
    missing = [ln for ln in expected_error_lines(case) if ln not in result.stderr]
    if missing:
        return False, (
            f"{case.id}: render failed (exit {result.returncode}) but stderr lacks:\n"
            + "".join(f"    {ln}\n" for ln in missing)
            + "stderr was:\n"
            + result.stderr
        )
    return True, f"{case.id}: failed as expected (exit {result.returncode})"


def _verdict_without_golden(result: RenderResult) -> tuple[bool, str] | None:
    """The verdict when expected.yaml plays no part: error cases and failed renders."""
    if result.case.expects_error:
        return _check_expected_error(result)
    if not result.ok:
        return False, f"{result.case.id}: render exited {result.returncode}:\n{result.stderr}"
    return None


def check_result(result: RenderResult) -> tuple[bool, str]:
    """(passed, explanation). Compares with expected.yaml / expected-error.txt."""
    if (verdict := _verdict_without_golden(result)) is not None:
        return verdict
    case = result.case
    if not case.expected.is_file():
        return False, f"{case.id}: no expected.yaml (run `make update-examples`)"
    expected = case.expected.read_text()
    if expected == result.stdout:
        return True, f"{case.id}: matches expected.yaml"
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            result.stdout.splitlines(keepends=True),
            fromfile=str(case.expected.relative_to(case.root)),
            tofile=f"{case.id} (rendered)",
        )
    )
    return False, f"{case.id}: output differs from expected.yaml:\n{diff}"


def update_case(result: RenderResult) -> tuple[bool, str]:
    """Write expected.yaml (or check the expected error); (passed, explanation)."""
    if (verdict := _verdict_without_golden(result)) is not None:
        return verdict
    case = result.case
    old = case.expected.read_text() if case.expected.is_file() else None
    if old == result.stdout:
        return True, f"{case.id}: expected.yaml unchanged"
    case.expected.write_text(result.stdout)
    return True, f"{case.id}: expected.yaml {'updated' if old is not None else 'created'}"


def write_output(out_dir: Path, result: RenderResult) -> Path:
    """Store a rendered output as <out_dir>/<kind>/<case>.yaml (errors as .err)."""
    dest = out_dir / result.case.kind / f"{result.case.name}.yaml"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if result.ok:
        dest.with_suffix(".err").unlink(missing_ok=True)
        dest.write_text(result.stdout)
    else:
        dest.unlink(missing_ok=True)
        dest.with_suffix(".err").write_text(result.stderr)
    return dest


# ---------------------------------------------------------------- CLI


def add_case_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments render and validate share: case filters, root, server, jobs."""
    p.add_argument(
        "filters",
        nargs="*",
        help="only cases whose '<kind>/<case>' contains one of these",
    )
    p.add_argument("--root", type=Path, default=ROOT, help="project root (default: %(default)s)")
    p.add_argument("--target", help="use a function already listening on HOST:PORT")
    p.add_argument(
        "--python",
        help="python that runs `-m function` (default: $PYTHON or <root>/.venv/bin/python)",
    )
    p.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("RENDER_JOBS", "2")))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="compare with expected.yaml / expected-error.txt",
    )
    mode.add_argument("--update", action="store_true", help="rewrite expected.yaml from the render")
    add_case_arguments(p)
    p.add_argument(
        "--crossplane",
        help="crossplane CLI (default: $CROSSPLANE or <root>/.tools/bin/crossplane)",
    )
    p.add_argument(
        "--crossplane-core",
        help="crossplane core binary "
        "(default: $CROSSPLANE_CORE or <root>/.tools/bin/crossplane-core)",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        help="also write each output to OUT_DIR/<kind>/<case>.yaml",
    )
    p.add_argument("--no-xrd", action="store_true", help="do not pass the matching XRD as --xrd")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print rendered outputs")
    p.add_argument("--timeout", type=float, default=120.0, help="per-render timeout in seconds")
    return p.parse_args(argv)


def _print_result(result: RenderResult) -> None:
    print(f"# ===== {result.case.id} (exit {result.returncode})")
    if result.stdout:
        print(result.stdout, end="" if result.stdout.endswith("\n") else "\n")
    if not result.ok:
        print("".join(f"# stderr: {ln}\n" for ln in result.stderr.splitlines()), end="")


def _judge(args: argparse.Namespace, result: RenderResult) -> tuple[bool, str]:
    """--update writes the golden file, --check compares with it, else: did it render."""
    if args.update:
        return update_case(result)
    if args.check:
        return check_result(result)
    ok = result.ok or result.case.expects_error
    return ok, f"{result.case.id}: exit {result.returncode}" + ("" if ok else f"\n{result.stderr}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = args.root.resolve()
    exit_on_sigterm()

    try:
        tools = Tools.locate(root, args.crossplane, args.crossplane_core)
    except ToolMissingError as e:
        print(f"render: {e}", file=sys.stderr)
        return 2

    cases = find_cases(root, args.filters)
    if not cases:
        print(
            f"render: no example cases found under {root / 'examples'}"
            + (f" matching {args.filters}" if args.filters else ""),
            file=sys.stderr,
        )
        return 1

    failures: list[str] = []
    with (
        FunctionServer(root, python=args.python, target=args.target) as server,
        Renderer(
            tools, server.target, root, use_xrd=not args.no_xrd, timeout=args.timeout
        ) as renderer,
    ):
        print(f"render: function at {server.target}; {len(cases)} case(s)", file=sys.stderr)
        for result in renderer.render_all(cases, jobs=args.jobs):
            if args.out_dir:
                write_output(args.out_dir, result)
            if not args.quiet:
                _print_result(result)
            ok, msg = _judge(args, result)
            print(("PASS " if ok else "FAIL ") + msg, file=sys.stderr)
            if not ok:
                failures.append(result.case.id)
        if not server.alive():
            print("render: the function server died:\n" + server.log_tail(), file=sys.stderr)
            failures.append("function-server")
        elif failures:
            print("render: function server log (tail):\n" + server.log_tail(), file=sys.stderr)

    print(
        f"render: {len(cases) - len(set(failures) - {'function-server'})}"
        f"/{len(cases)} passed" + (f"; FAILED: {', '.join(failures)}" if failures else ""),
        file=sys.stderr,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
