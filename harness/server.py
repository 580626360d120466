"""The project's function server on a free loopback port, for rendering, benchmarks and tests."""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence
from pathlib import Path

import grpc

from harness import process
from harness.paths import ROOT, ToolMissingError

RUN_FUNCTION = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction"


def raw_run_function(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable:
    """RunFunction over channel in bytes: the request sent as given, the response unparsed."""
    return channel.unary_unary(RUN_FUNCTION, request_serializer=None, response_deserializer=None)


def default_python(root: Path = ROOT) -> str:
    """$PYTHON (the Makefile exports the venv's), else <root>/.venv/bin/python."""
    return os.environ.get("PYTHON") or str(root / ".venv/bin/python")


class FunctionServer:
    """Runs `<python> -m function --insecure --address 127.0.0.1:PORT [args]` in `root`.

    With `tls_certs_dir` (tls.crt, tls.key, ca.crt) it serves mTLS instead of --insecure,
    as Crossplane core dials a function.

    The working directory is `root`, so the `function` package served is the one
    in that checkout. Use as a context manager; the process is also stopped at
    interpreter exit. With `target` ("HOST:PORT") nothing is started: the server
    already listening there is used.
    """

    def __init__(
        self,
        root: Path = ROOT,
        python: str | os.PathLike[str] | None = None,
        target: str | None = None,
        startup_timeout: float = 60.0,
        log_path: Path | None = None,
        *,
        args: Sequence[str] = (),
        tls_certs_dir: Path | None = None,
        wrapper: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.root = root
        self.python = str(python or default_python(root))
        self.startup_timeout = startup_timeout
        self.args = list(args)
        self.tls_certs_dir = tls_certs_dir
        self.wrapper = list(wrapper)  # a command the server runs under, e.g. taskset -c 0
        self.process: process.Process | None = None
        self._log_path = log_path
        self.external = bool(target)
        if target:
            given_host, _, given_port = target.rpartition(":")
            self.host, self.port = given_host or "127.0.0.1", int(given_port)
        else:
            # A fixed port when the address is given by someone else (the Service port
            # Crossplane derives), else a free one at start.
            self.host, self.port = host, port

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> FunctionServer:
        """Start the server (or find the external one) and wait until it listens."""
        if self.external:
            process.wait_for_port(self.host, self.port, self.startup_timeout)
            return self
        if not Path(self.python).exists():
            raise ToolMissingError(
                f"python interpreter {self.python} not found; run `make venv` first"
            )
        self.port = self.port or process.free_port(self.host)
        security = (
            ["--tls-server-certs-dir", str(self.tls_certs_dir)]
            if self.tls_certs_dir
            else ["--insecure"]
        )
        cmd = [
            *self.wrapper,
            self.python,
            "-m",
            "function",
            *security,
            "--address",
            self.target,
            *self.args,
        ]
        self.process = process.start("function", cmd, log_path=self._log_path, cwd=self.root)
        atexit.register(self.stop)
        try:
            process.wait_for_port(self.host, self.port, self.startup_timeout, self.process)
        except BaseException:
            self.process.stop()
            raise
        return self

    def alive(self) -> bool:
        return self.external or (self.process is not None and self.process.alive())

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines) if self.process is not None else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def __enter__(self) -> FunctionServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
