#!/usr/bin/env python3
"""Render every example case with the real Crossplane CLI.

Layout (relative to the project root, see --root):

    compositions/<kind>.yaml            the Composition used for examples/<kind>/*
    xrds/*.yaml                         XRDs; the one matching the XR is passed as --xrd
    examples/functions.yaml             Function(s); the Development runtime target is
                                        rewritten to the function server started
    examples/credentials.yaml           --function-credentials (if present)
    examples/<kind>/<case>/xr.yaml      the XR
    examples/<kind>/<case>/observed.yaml     optional, --observed-resources
    examples/<kind>/<case>/required.yaml     optional, --required-resources
    examples/<kind>/<case>/render.args       optional, extra CLI args (shell syntax)
    examples/<kind>/<case>/expected.yaml     expected stdout of the CLI
    examples/<kind>/<case>/expected-error.txt  the case must FAIL; every non-empty line
                                        of this file must appear in the CLI's stderr

Tools: .tools/bin/crossplane (CLI) and .tools/bin/crossplane-core (Crossplane core
binary passed as --crossplane-binary); override with $CROSSPLANE / $CROSSPLANE_CORE
or --crossplane / --crossplane-core. Built by `make tools`.

The function server is started as `<python> -m function --insecure --address
127.0.0.1:<free port>` (python: <root>/.venv/bin/python, or $PYTHON / --python)
unless --target HOST:PORT names a server that is already running.

Usable as a module: see FunctionServer, find_cases, Renderer, check_result.
Only the standard library and PyYAML are used.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import concurrent.futures
import dataclasses
import difflib
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

DEV_RUNTIME_ANNOTATION = "render.crossplane.io/runtime"
DEV_TARGET_ANNOTATION = "render.crossplane.io/runtime-development-target"


class ToolMissingError(RuntimeError):
    """A required binary is missing: run `make tools`."""


# --------------------------------------------------------------------------
# Locating things
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tools:
    crossplane: Path
    crossplane_core: Path

    @classmethod
    def locate(
        cls,
        root: Path = ROOT,
        crossplane: str | os.PathLike[str] | None = None,
        crossplane_core: str | os.PathLike[str] | None = None,
    ) -> Tools:
        cli = Path(crossplane or os.environ.get("CROSSPLANE") or root / ".tools/bin/crossplane")
        core = Path(
            crossplane_core
            or os.environ.get("CROSSPLANE_CORE")
            or root / ".tools/bin/crossplane-core"
        )
        missing = [str(p) for p in (cli, core) if not (p.is_file() and os.access(p, os.X_OK))]
        if missing:
            raise ToolMissingError(
                f"missing tool binaries: {', '.join(missing)}; run `make tools` first"
            )
        return cls(cli.resolve(), core.resolve())


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str
    name: str
    dir: Path

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def xr(self) -> Path:
        return self.dir / "xr.yaml"

    @property
    def expected(self) -> Path:
        return self.dir / "expected.yaml"

    @property
    def expected_error(self) -> Path:
        return self.dir / "expected-error.txt"

    @property
    def expects_error(self) -> bool:
        return self.expected_error.is_file()

    def optional(self, name: str) -> Path | None:
        p = self.dir / name
        return p if p.is_file() else None

    def extra_args(self) -> list[str]:
        p = self.optional("render.args")
        if p is None:
            return []
        return shlex.split(p.read_text(), comments=True)


def find_cases(root: Path = ROOT, filters: Sequence[str] = ()) -> list[Case]:
    """Every examples/<kind>/<case>/ with an xr.yaml, sorted.

    A filter selects a case when it is a substring of "<kind>/<case>".
    """
    examples = root / "examples"
    cases = [
        Case(kind=xr.parent.parent.name, name=xr.parent.name, dir=xr.parent)
        for xr in sorted(examples.glob("*/*/xr.yaml"))
    ]
    if filters:
        cases = [c for c in cases if any(f in c.id for f in filters)]
    return cases


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


def find_xrd(root: Path, xr: dict[str, Any]) -> Path | None:
    """The file in xrds/ defining the XR's group and kind (None if there is none)."""
    api_version = str(xr.get("apiVersion", ""))
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    kind = xr.get("kind")
    for path in sorted((root / "xrds").glob("*.y*ml")):
        for doc in load_yaml_docs(path):
            if doc.get("kind") != "CompositeResourceDefinition":
                continue
            spec = doc.get("spec") or {}
            if spec.get("group") == group and (spec.get("names") or {}).get("kind") == kind:
                return path
    return None


# --------------------------------------------------------------------------
# Function server
# --------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(
    host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"function server exited early with code {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"function server did not listen on {host}:{port} within {timeout}s"
                ) from None
            time.sleep(0.1)


class FunctionServer:
    """Runs `python -m function --insecure --address 127.0.0.1:PORT` for the project.

    Use as a context manager; the process is also stopped at interpreter exit.
    If `target` is given no process is started: the server there is used.
    """

    def __init__(
        self,
        root: Path = ROOT,
        python: str | os.PathLike[str] | None = None,
        target: str | None = None,
        startup_timeout: float = 60.0,
        log_path: Path | None = None,
    ) -> None:
        self.root = root
        self.python = str(python or os.environ.get("PYTHON") or root / ".venv/bin/python")
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_path = log_path
        self._log_file: Any = None
        if target:
            host, _, port = target.rpartition(":")
            self.host, self.port = host or "127.0.0.1", int(port)
            self.external = True
        else:
            self.host, self.port = "127.0.0.1", 0
            self.external = False

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def start(self) -> FunctionServer:
        if self.external:
            wait_for_port(self.host, self.port, self.startup_timeout)
            return self
        if not Path(self.python).exists():
            raise ToolMissingError(
                f"python interpreter {self.python} not found; run `make venv` first"
            )
        self.port = free_port(self.host)
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="function-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        self._log_file = self._log_path.open("wb")
        self.proc = subprocess.Popen(
            [self.python, "-m", "function", "--insecure", "--address", self.target],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        atexit.register(self.stop)
        try:
            wait_for_port(self.host, self.port, self.startup_timeout, self.proc)
        except BaseException:
            self.stop()
            sys.stderr.write(self.log_tail())
            raise
        return self

    def alive(self) -> bool:
        return self.external or (self.proc is not None and self.proc.poll() is None)

    def log_tail(self, lines: int = 40) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(errors="replace").splitlines()[-lines:]
        return "".join(f"  function| {line}\n" for line in text)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> FunctionServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


@dataclasses.dataclass
class RenderResult:
    case: Case
    cmd: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


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


def write_credentials_file(src: Path, dest_dir: Path) -> Path:
    """Copy of src with each Secret's stringData folded into data (base64).

    The CLI reads the Secrets as they are and, unlike an API server, ignores
    stringData; a copy with data is what a cluster would hold.
    """
    docs = load_yaml_docs(src)
    for doc in docs:
        string_data = doc.pop("stringData", None) if doc.get("kind") == "Secret" else None
        if string_data:
            data = doc.get("data") or {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            doc["data"] = data
    dest = dest_dir / "credentials.yaml"
    dest.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return dest


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
        self.functions = write_functions_file(
            root / "examples/functions.yaml", target, Path(self._tmp.name)
        )
        creds = root / "examples/credentials.yaml"
        self.credentials = (
            write_credentials_file(creds, Path(self._tmp.name)) if creds.is_file() else None
        )

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def command(self, case: Case) -> list[str]:
        composition = self.root / "compositions" / f"{case.kind}.yaml"
        if not composition.is_file():
            raise FileNotFoundError(f"{case.id}: no composition {composition}")
        cmd = [
            str(self.tools.crossplane),
            "composition",
            "render",
            str(case.xr),
            str(composition),
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
            return RenderResult(case, cmd, p.returncode, p.stdout, p.stderr)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
            return RenderResult(
                case, cmd, -1, out, err + f"\nrender timed out after {self.timeout}s"
            )

    def render_all(self, cases: Sequence[Case], jobs: int = 1) -> Iterator[RenderResult]:
        """Results in the order of `cases`."""
        if jobs <= 1 or len(cases) <= 1:
            for c in cases:
                yield self.render(c)
            return
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            yield from pool.map(self.render, cases)


def expected_error_lines(case: Case) -> list[str]:
    return [ln.strip() for ln in case.expected_error.read_text().splitlines() if ln.strip()]


def check_result(result: RenderResult) -> tuple[bool, str]:
    """(passed, explanation). Compares with expected.yaml / expected-error.txt."""
    case = result.case
    if case.expects_error:
        if result.ok:
            return (
                False,
                f"{case.id}: expected the render to fail (expected-error.txt) but it exited 0",
            )
        missing = [ln for ln in expected_error_lines(case) if ln not in result.stderr]
        if missing:
            return False, (
                f"{case.id}: render failed (exit {result.returncode}) "
                "but stderr lacks:\n"
                + "".join(f"    {ln}\n" for ln in missing)
                + "stderr was:\n"
                + result.stderr
            )
        return True, f"{case.id}: failed as expected (exit {result.returncode})"
    if not result.ok:
        return False, f"{case.id}: render exited {result.returncode}:\n{result.stderr}"
    if not case.expected.is_file():
        return False, f"{case.id}: no expected.yaml (run `make update-examples`)"
    expected = case.expected.read_text()
    if expected == result.stdout:
        return True, f"{case.id}: matches expected.yaml"
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            result.stdout.splitlines(keepends=True),
            fromfile=str(case.expected.relative_to(case.dir.parent.parent.parent)),
            tofile=f"{case.id} (rendered)",
        )
    )
    return False, f"{case.id}: output differs from expected.yaml:\n{diff}"


def update_case(result: RenderResult) -> tuple[bool, str]:
    """Write expected.yaml (or check the expected error); (passed, explanation)."""
    case = result.case
    if case.expects_error:
        return check_result(result)
    if not result.ok:
        return False, f"{case.id}: render exited {result.returncode}:\n{result.stderr}"
    old = case.expected.read_text() if case.expected.is_file() else None
    if old == result.stdout:
        return True, f"{case.id}: expected.yaml unchanged"
    case.expected.write_text(result.stdout)
    return (
        True,
        f"{case.id}: expected.yaml {'updated' if old is not None else 'created'}",
    )


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


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="compare with expected.yaml / expected-error.txt",
    )
    mode.add_argument("--update", action="store_true", help="rewrite expected.yaml from the render")
    p.add_argument(
        "filters",
        nargs="*",
        help="only cases whose '<kind>/<case>' contains one of these",
    )
    p.add_argument("--root", type=Path, default=ROOT, help="project root (default: %(default)s)")
    p.add_argument("--target", help="use a function already listening on HOST:PORT")
    p.add_argument(
        "--python",
        help="python that runs `-m function` (default: <root>/.venv/bin/python)",
    )
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
    p.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("RENDER_JOBS", "2")))
    p.add_argument("-q", "--quiet", action="store_true", help="do not print rendered outputs")
    p.add_argument("--timeout", type=float, default=120.0, help="per-render timeout in seconds")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = args.root.resolve()

    # SIGTERM -> SystemExit so that context managers / atexit stop the function.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

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
        print(
            f"render: function at {server.target}; {len(cases)} case(s)",
            file=sys.stderr,
        )
        for result in renderer.render_all(cases, jobs=args.jobs):
            case = result.case
            if args.out_dir:
                write_output(args.out_dir, result)
            if not args.quiet:
                print(f"# ===== {case.id} (exit {result.returncode})")
                if result.stdout:
                    print(result.stdout, end="" if result.stdout.endswith("\n") else "\n")
                if not result.ok:
                    print(
                        "".join(f"# stderr: {ln}\n" for ln in result.stderr.splitlines()),
                        end="",
                    )
            if args.update:
                ok, msg = update_case(result)
            elif args.check:
                ok, msg = check_result(result)
            else:
                ok = result.ok or case.expects_error
                msg = f"{case.id}: exit {result.returncode}" + ("" if ok else f"\n{result.stderr}")
            print(("PASS " if ok else "FAIL ") + msg, file=sys.stderr)
            if not ok:
                failures.append(case.id)
        if not server.alive():
            print(
                "render: the function server died:\n" + server.log_tail(),
                file=sys.stderr,
            )
            failures.append("function-server")
        elif failures:
            print(
                "render: function server log (tail):\n" + server.log_tail(),
                file=sys.stderr,
            )

    print(
        f"render: {len(cases) - len(set(failures) - {'function-server'})}"
        f"/{len(cases)} passed" + (f"; FAILED: {', '.join(failures)}" if failures else ""),
        file=sys.stderr,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
