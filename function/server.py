"""Serving RunFunction: grpc's threaded server, in one or more processes sharing the port.

Why not the SDK's runtime.serve: it runs grpc.aio and the servicer hops to a thread
for every call, which costs more than composing a small XR. grpc's threaded server
calls the servicer straight from its pool; a call that waits on Vault holds only
its own thread.

Python composes one request at a time per process (the GIL), so --workers starts
that many processes, each with its own server bound to the same port with
SO_REUSEPORT; the kernel spreads connections over them (grpc's multiprocessing
example: examples/python/multiprocessing/server.py in grpc/grpc). Workers are
forked before any grpc server or channel exists, as grpc requires.

SIGTERM (and SIGINT) stop accepting calls and let the ones in flight finish within
the grace period; what is still running after it is cancelled.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1beta1 import run_function_pb2 as fnv1beta1
from crossplane.function.proto.v1beta1 import run_function_pb2_grpc as grpcv1beta1

from function import response_cache
from function.runner import FunctionRunner, Observe

# Threads per process. Composing holds the GIL, so more threads only help calls
# that wait on the network (Vault); these are enough that such calls never keep
# the others waiting for a thread.
THREADS_PER_WORKER = 16
V1_SERVICE = "apiextensions.fn.proto.v1.FunctionRunnerService"


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
        return cls(key=key, certificate=crt, ca=ca)

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key, self.certificate)], root_certificates=self.ca, require_client_auth=True
        )


@dataclass(frozen=True)
class ServeConfig:
    """How to serve: where, with what TLS, how many processes, how long to drain."""

    address: str
    tls: TLSFiles | None  # None: plaintext (--insecure)
    options: Sequence[tuple[str, Any]]
    workers: int = 1
    grace_seconds: float = 25.0
    response_cache_mib: float = response_cache.DEFAULT_BUDGET_MIB  # 0: every call composes
    observe: Observe | None = None  # told of every call (metrics)


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


class _BetaRunner(grpcv1beta1.FunctionRunnerServiceServicer):
    """v1beta1 calls (older Crossplane), answered by the v1 runner (a serialization round trip)."""

    def __init__(self, runner: FunctionRunner) -> None:
        self.runner = runner

    def RunFunction(  # noqa: N802 (gRPC's name)
        self, req: fnv1beta1.RunFunctionRequest, context: grpc.ServicerContext
    ) -> fnv1beta1.RunFunctionResponse:
        rsp = self.runner.RunFunction(
            fnv1.RunFunctionRequest.FromString(req.SerializeToString()), context
        )
        beta: fnv1beta1.RunFunctionResponse = fnv1beta1.RunFunctionResponse.FromString(
            rsp.SerializeToString()
        )
        return beta


def _on_stop_signals(handler: Callable[[], None]) -> None:
    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        handler()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def serve_here(config: ServeConfig, *, reuse_port: bool) -> None:
    """Serve in this process until SIGTERM/SIGINT, then drain within the grace period."""
    options = [*config.options, ("grpc.so_reuseport", 1 if reuse_port else 0)]
    server = grpc.server(futures.ThreadPoolExecutor(THREADS_PER_WORKER), options=options)
    runner = FunctionRunner(response_cache.ResponseCache(config.response_cache_mib), config.observe)
    # v1 without grpc's (de)serializers: the runner takes and gives bytes, so a cached
    # answer is sent as it was kept, never parsed (function/response_cache.py).
    v1 = grpc.unary_unary_rpc_method_handler(runner.serve)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE, {"RunFunction": v1}),)
    )
    # The generated registration function has no annotations.
    grpcv1beta1.add_FunctionRunnerServiceServicer_to_server(  # type: ignore[no-untyped-call]
        _BetaRunner(runner), server
    )
    if config.tls is None:
        server.add_insecure_port(config.address)
    else:
        server.add_secure_port(config.address, config.tls.credentials())
    stopping = threading.Event()

    def stop() -> None:
        if not stopping.is_set():
            stopping.set()
            server.stop(config.grace_seconds)

    _on_stop_signals(stop)
    server.start()
    server.wait_for_termination()


def serve(config: ServeConfig) -> None:
    """Serve with config.workers processes (this one alone when 1) until all have stopped."""
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
