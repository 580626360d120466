"""The one way the harness and the tests run a server: a child process logging to a file.

Start it, wait until it is ready (failing as soon as it exits), read the end of
its log when something went wrong, and stop it: terminate, wait, then kill.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class ProcessExitedError(RuntimeError):
    """The process exited while we were waiting for it to become ready."""


def tree(pid: int) -> list[int]:
    """The process and its descendants, breadth first (a server's supervisor and its
    --workers; unshare, the image's function and its workers)."""
    out = [pid]
    for p in out:  # grows as it goes
        children = Path(f"/proc/{p}/task/{p}/children")
        try:
            out += [int(c) for c in children.read_text().split()]
        except OSError:
            continue
    return out


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so context managers and atexit stop our children."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class Process:
    """A started child process whose stdout and stderr go to one log file."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the log, each prefixed with the process name."""
        tail = self.log_text().splitlines()[-lines:]
        return "".join(f"  {self.name}| {line}\n" for line in tail)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate, wait up to `timeout` seconds, then kill. Safe to call twice."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(
    name: str,
    cmd: Sequence[str],
    *,
    log_path: Path | None = None,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
) -> Process:
    """Start cmd with stdin closed and its output to log_path (a new temp file if None)."""
    if log_path is None:
        fd, tmp = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
        os.close(fd)
        log_path = Path(tmp)
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        popen = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Process(name, popen, log_path)


def wait_until(
    ready: Callable[[], bool],
    timeout: float,
    what: str,
    process: Process | None = None,
) -> None:
    """Poll `ready` until it is true; fail fast if `process` exits, or after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and not process.alive():
            raise ProcessExitedError(
                f"{process.name} exited early with code {process.popen.returncode}:\n"
                + process.log_tail()
            )
        if ready():
            return
        if time.monotonic() > deadline:
            log = f":\n{process.log_tail()}" if process is not None else ""
            raise TimeoutError(f"{what}: not ready within {timeout}s{log}")
        time.sleep(0.1)


def wait_for_port(host: str, port: int, timeout: float, process: Process | None = None) -> None:
    """Wait until host:port accepts connections (see wait_until)."""
    name = process.name if process is not None else "server"
    wait_until(lambda: port_open(host, port), timeout, f"{name} on {host}:{port}", process)
