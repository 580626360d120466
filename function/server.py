"""Serving RunFunction: grpc core's server, in one or more processes sharing the port.

Why not the SDK's runtime.serve: it runs grpc.aio and the servicer hops to a thread
for every call, which costs more than composing a small XR. Nor grpc.server, which hands
each call between threads three times: function/transport.py polls grpc core from the
function's own threads and answers a call on the thread that reads it; a call that waits
on Vault holds only its own thread.

Python composes one request at a time per process (the GIL), so --workers starts
that many processes, each with its own server bound to the same port with
SO_REUSEPORT; the kernel spreads connections over them (grpc's multiprocessing
example: examples/python/multiprocessing/server.py in grpc/grpc). Workers are
forked before any grpc server or channel exists, as grpc requires. SO_REUSEPORT would
as gladly let a second server share the port with the first: start-up refuses a port
another process listens on.

SIGTERM (and SIGINT) stop accepting calls and let every call accepted before it finish
within the grace period; what is still running after it is cancelled. grpc core cancels a
call its connection has received but no thread has yet asked it for when stop() is called
(it fails such pending calls at shutdown); a polling thread asks for the next call only
when it gets the interpreter, and while a call composes the one polling thread is
composing it (function/transport.py). So at SIGTERM the server first takes the composing
turn (function/admission.py): no call composes, the pollers take every call received, and
only once none has arrived for a moment since then does stop() start the grace period.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import math
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import grpc

from function import response_cache
from function.admission import Admission
from function.runner import RESPONSE_MAX, FunctionRunner, Observe
from function.transport import Handler, Transport

# Threads per process. One composes at a time (function/admission.py); the others wait
# for their turn or on the network (at most MAX_CONCURRENT_SYNCS on Vault,
# function/vault/sync.py), so a hanging Vault still leaves threads for the calls that do
# not need it. Each thread holds at most one request's bytes (up to gRPC's receive limit)
# before the in-flight budget has judged it: few threads keep that bounded.
THREADS_PER_WORKER = 8
# Both services take the same messages on the wire (Crossplane calls v1, and v1beta1 when a
# function does not serve v1: xfn.NewBetaFallBackFunctionRunnerServiceClient), so both are
# served by the runner's bytes handler.
SERVICES = (
    "apiextensions.fn.proto.v1.FunctionRunnerService",
    "apiextensions.fn.proto.v1beta1.FunctionRunnerService",
)
# The default of --in-flight-mib: the request bytes one process holds at once
# (function/admission.py, docs/serving.md).
DEFAULT_IN_FLIGHT_MIB = 16.0
# The default of --busy-poll-us: how long the polling thread keeps the core busy after a
# call while calls come back to back (function/transport.py). Longer than a client's turn
# between two calls (ghz's is about 130 µs here), far shorter than a composing call.
DEFAULT_BUSY_POLL_US = 250
# At SIGTERM, how long no new call must have arrived before stop() (see the module's doc),
# and how long to wait for that at most.
SETTLE_SECONDS = 0.1
SETTLE_MAX_SECONDS = 2.0


@dataclass(frozen=True)
class TLSFiles:
    """The mTLS material of --tls-server-certs-dir, read before any worker starts."""

    key: bytes
    certificate: bytes
    ca: bytes

    @classmethod
    def read(cls, certs_dir: str) -> TLSFiles:
        """Read tls.key, tls.crt and ca.crt; ValueError naming what is missing."""
        folder = Path(certs_dir)
        names = ("tls.key", "tls.crt", "ca.crt")
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise ValueError(f"--tls-server-certs-dir {certs_dir}: missing {', '.join(missing)}")
        key, crt, ca = ((folder / n).read_bytes() for n in names)
        _check_pem(folder, certs_dir)
        return cls(key=key, certificate=crt, ca=ca)

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key, self.certificate)], root_certificates=self.ca, require_client_auth=True
        )


def _check_pem(folder: Path, certs_dir: str) -> None:
    """ValueError naming the file when ca.crt or tls.crt holds no PEM certificate or tls.key
    no PEM private key of tls.crt: grpc finds out only when it binds, with a traceback."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for name in ("ca.crt", "tls.crt"):
        try:
            context.load_verify_locations(cadata=(folder / name).read_text("ascii"))
        except (ssl.SSLError, ValueError) as e:
            raise ValueError(
                f"--tls-server-certs-dir {certs_dir}: {name} is not a PEM certificate ({_why(e)})"
            ) from None
    try:
        context.load_cert_chain(folder / "tls.crt", folder / "tls.key")
    except (ssl.SSLError, ValueError) as e:
        raise ValueError(
            f"--tls-server-certs-dir {certs_dir}: tls.key is not the PEM private key of "
            f"tls.crt ({_why(e)})"
        ) from None


def _why(e: Exception) -> str:
    reason = getattr(e, "reason", None)
    return str(reason or type(e).__name__).lower().replace("_", " ")


@dataclass(frozen=True)
class ServeConfig:
    """How to serve: where, with what TLS, how many processes, how long to drain."""

    address: str
    tls: TLSFiles | None  # None: plaintext (--insecure)
    options: Sequence[tuple[str, Any]]
    workers: int = 1
    grace_seconds: float = 25.0
    response_cache_mib: float = response_cache.DEFAULT_BUDGET_MIB  # 0: every call composes
    in_flight_mib: float = DEFAULT_IN_FLIGHT_MIB  # 0: unbounded
    busy_poll_us: int = DEFAULT_BUSY_POLL_US  # 0: never
    response_max: int = RESPONSE_MAX  # the largest response sent (--max-send-message-size)
    observe: Observe | None = None  # told of every call (metrics)


# glibc's malloc (mallopt(3)): at most two arenas instead of eight per core (each thread
# that allocates may otherwise get its own, and freed memory stays in it), and blocks of
# 64 KiB and more (request bytes, parsed messages, responses) mapped on their own and
# returned to the system when freed. A fixed threshold turns off glibc's adjustment,
# which raises it to the largest block freed so far, after which every request-sized
# buffer comes from the heap and stays with the process.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_MALLOC = ((_M_ARENA_MAX, 2), (_M_MMAP_THRESHOLD, 64 * 1024), (_M_TRIM_THRESHOLD, 128 * 1024))


def tune_malloc() -> None:
    """Set glibc malloc's options (_MALLOC) for this process and the workers it forks, before
    any server thread exists; nothing where the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    for option, value in _MALLOC:
        mallopt(option, value)


def usable_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota (a pod's limit)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def _on_stop_signals(handler: Callable[[], None]) -> None:
    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        handler()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def channel_options(config: ServeConfig, *, reuse_port: bool) -> list[tuple[str, Any]]:
    """grpc core's options for the server: config's, and what serving adds to them."""
    return [
        *config.options,
        ("grpc.so_reuseport", 1 if reuse_port else 0),
        # No BDP probing (GRPC_ARG_HTTP2_BDP_PROBE, grpc's grpc_types.h): it grows each
        # stream's flow-control window towards the link's bandwidth-delay product, so the
        # transport would read whole requests of calls no thread has taken yet into memory
        # no budget counts. Without it a stream's window stays at HTTP/2's 64 KiB.
        ("grpc.http2.bdp_probe", 0),
    ]


def transport(
    config: ServeConfig, handle: Handler, *, reuse_port: bool, threads: int = THREADS_PER_WORKER
) -> Transport:
    """The function's transport (function/transport.py) on config's address and options,
    answering RunFunction of both services with handle; not started. threads is a
    parameter for the benchmark that weighs it (harness/floor.py)."""
    # On bytes, without (de)serializers: a cached answer is sent as it was kept, never
    # parsed (function/response_cache.py), and a request is counted by its size before it
    # is parsed (function/admission.py).
    methods = [f"/{service}/RunFunction" for service in SERVICES]
    options = channel_options(config, reuse_port=reuse_port)
    served = Transport(
        handle, methods, options, threads=threads, busy_poll=config.busy_poll_us / 1e6
    )
    served.add_port(config.address, None if config.tls is None else config.tls.credentials())
    return served


def serve_here(config: ServeConfig, *, reuse_port: bool) -> None:
    """Serve in this process until SIGTERM/SIGINT, then drain within the grace period."""
    runner = FunctionRunner(
        response_cache.ResponseCache(config.response_cache_mib),
        config.observe,
        admission=Admission(int(config.in_flight_mib * 1024 * 1024)),
        response_max=config.response_max,
    )
    server = transport(config, runner.serve, reuse_port=reuse_port)
    stopping = threading.Event()

    def drain() -> None:
        end = time.monotonic() + config.grace_seconds
        took = runner.turn.take(config.grace_seconds)
        try:
            polling = time.monotonic()  # from now on no call holds the polling thread
            settle_end = min(end, polling + SETTLE_MAX_SECONDS)
            while time.monotonic() < settle_end:
                if time.monotonic() - max(server.last_call, polling) >= SETTLE_SECONDS:
                    break
                time.sleep(SETTLE_SECONDS / 4)
            server.stop(max(0.0, end - time.monotonic()))
        finally:
            if took:
                runner.turn.give()

    def stop() -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=drain, name="drain", daemon=True).start()

    _on_stop_signals(stop)
    server.start()
    server.wait_for_termination()


def check_port_free(address: str) -> None:
    """ValueError when another process already listens on address's port. A plain bind
    (SO_REUSEADDR, which passes connections in TIME_WAIT, and no SO_REUSEPORT) fails with
    EADDRINUSE exactly when a socket listens there (Linux socket(7))."""
    if address.startswith("unix:"):
        return
    host, _, port = address.removeprefix("dns:").rpartition(":")
    if not port.isdigit() or int(port) == 0:
        return  # no fixed port: nothing to share
    try:
        found = socket.getaddrinfo(
            host.strip("[]") or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror:
        return  # grpc says what is wrong with the address when it binds
    for family, kind, proto, _, where in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(where)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise ValueError(
                        f"--address {address}: another process already listens on port "
                        f"{port}; stop it or choose another port"
                    ) from None


def serve(config: ServeConfig) -> None:
    """Serve with config.workers processes (this one alone when 1) until all have stopped."""
    check_port_free(config.address)
    tune_malloc()
    if config.workers <= 1:
        serve_here(config, reuse_port=False)
        _exit_now(0)
    if config.address.rpartition(":")[2] in ("", "0"):
        raise ValueError("--workers above 1 needs a fixed port (the workers share it)")
    children: list[int] = []
    for _ in range(config.workers):
        pid = os.fork()
        if pid == 0:  # a worker: serve, then leave without running the parent's exit handlers
            code = 0
            try:
                _stop_with_parent()
                serve_here(config, reuse_port=True)
            except BaseException as e:
                print(f"function worker {os.getpid()}: {e}", file=sys.stderr, flush=True)
                code = 1
            _exit_now(code)
        children.append(pid)
    sys.exit(_supervise(children))


def _exit_now(code: int) -> NoReturn:
    """Exit without joining the server's threads: past the grace period their calls were
    cancelled, and one still blocked on Vault must not keep the process alive."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _stop_with_parent() -> None:
    """Have the kernel send this worker SIGTERM when the supervising process dies (Linux
    prctl PR_SET_PDEATHSIG), so a killed supervisor leaves no worker behind."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _supervise(children: list[int]) -> int:
    """Wait for the workers; on SIGTERM/SIGINT pass it on. A worker that dies unasked stops
    them all, so the pod restarts whole rather than serving on with fewer processes."""
    alive = set(children)
    stopping = False

    def stop_all() -> None:
        nonlocal stopping
        stopping = True
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    _on_stop_signals(stop_all)
    code = 0
    while alive:
        pid, status = os.wait()
        alive.discard(pid)
        if os.waitstatus_to_exitcode(status) != 0 or not stopping:
            code = 1
            if not stopping:
                print(f"function worker {pid} exited; stopping the others", file=sys.stderr)
                stop_all()
    return code
