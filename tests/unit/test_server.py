"""The real server on loopback: flags, plaintext under --insecure, a real RunFunction call."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from crossplane.function.proto.v1beta1 import run_function_pb2 as fnv1beta1
from crossplane.function.proto.v1beta1 import run_function_pb2_grpc as grpcv1beta1

from function.runner import FunctionRunner
from function.server import ServeConfig, transport
from function.structs import to_struct
from function.transport import Context
from function.vault.sync import MAX_CONCURRENT_SYNCS
from function.wire import MAX_JSON_DEPTH, lifted
from harness.cases import find_cases
from harness.paths import ROOT
from harness.process import free_port
from harness.requests import case_request, request, xr
from harness.server import FunctionServer, raw_run_function


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A certs dir is given too: --insecure must still serve plaintext.
    certs = tmp_path_factory.mktemp("certs")
    with FunctionServer(
        python=sys.executable,
        startup_timeout=20,
        log_path=tmp_path_factory.mktemp("log") / "function.log",
        args=["--tls-server-certs-dir", str(certs)],
    ) as server:
        yield server.target


def test_run_function_over_plaintext_grpc(server: str) -> None:
    with grpc.insecure_channel(server) as channel:
        stub = grpcv1.FunctionRunnerServiceStub(channel)
        req = request(
            xr("cache.platform.example.org/v1alpha1", "RedisInstance", {"environment": "dev"})
        )
        rsp: fnv1.RunFunctionResponse = stub.RunFunction(req, timeout=10)
    assert sorted(rsp.desired.resources) == ["connection-secret", "release"]
    assert not rsp.results


def test_a_call_without_a_deadline_is_composed(server: str) -> None:
    # grpc gives such a call a time remaining of centuries, past what a lock's wait takes.
    with grpc.insecure_channel(server) as channel:
        stub = grpcv1.FunctionRunnerServiceStub(channel)
        req = request(
            xr("cache.platform.example.org/v1alpha1", "RedisInstance", {"environment": "dev"})
        )
        rsp: fnv1.RunFunctionResponse = stub.RunFunction(req)
    assert sorted(rsp.desired.resources) == ["connection-secret", "release"]


def test_invalid_request_over_grpc_is_a_fatal_result_not_an_rpc_error(server: str) -> None:
    with grpc.insecure_channel(server) as channel:
        stub = grpcv1.FunctionRunnerServiceStub(channel)
        req = request(
            xr(
                "cache.platform.example.org/v1alpha1",
                "RedisInstance",
                {"environment": "dev", "replicas": 0},
            )
        )
        rsp: fnv1.RunFunctionResponse = stub.RunFunction(req, timeout=10)
    assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL]
    assert "spec.parameters.replicas: must be >= 1 (got 0)" in rsp.results[0].message


def test_without_insecure_or_certs_the_server_refuses_to_start() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "function", "--address", f"127.0.0.1:{free_port()}"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode != 0
    assert b"--insecure" in proc.stderr


def test_an_access_key_in_connection_details_stays_out_of_the_debug_log(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The MLOpsPlatform ready example's request, with the access key as Crossplane passes
    it (connection details), over real gRPC to a server logging at debug level. The
    server logs nothing per request today; this keeps it so for the key."""
    (case,) = find_cases(ROOT, ["mlopsplatform/ready"])
    req = case_request(case)
    secret = req.observed.resources["access-key"].connection_details["password"].decode()
    log = tmp_path_factory.mktemp("debug-log") / "function.log"
    with (
        FunctionServer(
            python=sys.executable, startup_timeout=20, log_path=log, args=["--debug"]
        ) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        stub = grpcv1.FunctionRunnerServiceStub(channel)
        rsp: fnv1.RunFunctionResponse = stub.RunFunction(req, timeout=10)
    assert (
        rsp.desired.resources["storage-secret"].resource["stringData"]["AWS_SECRET_ACCESS_KEY"]
        == secret
    )
    public = str(rsp.desired.composite) + "".join(str(r) for r in rsp.results)
    assert secret not in public
    assert secret not in log.read_text()


# ---------------------------------------------------------------- shutdown, workers, a slow Vault


class SilentVault:
    """A TCP listener that accepts connections and never answers: a Vault that hangs."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)

    def wait_for_connections(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < n:
            assert time.monotonic() < deadline, f"only {len(self.accepted)} Vault connections"
            time.sleep(0.01)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


class DripVault:
    """A Vault that answers one byte a second (at most 30): every read waits less than any
    read timeout, and the response never ends."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            for byte in b"HTTP/1.1 200 OK\r\nX-Drip: " + b"x" * 30:
                if self.stop.wait(1.0):
                    return
                conn.sendall(bytes([byte]))

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def silent_vault() -> Iterator[SilentVault]:
    vault = SilentVault()
    yield vault
    vault.close()


def vault_request(
    vault: SilentVault | DripVault, request_timeout: int, budget: int = 20
) -> fnv1.RunFunctionRequest:
    """A PostgreSQLInstance whose Vault step writes a KV entry to the silent Vault."""
    return request(
        xr(
            "database.platform.example.org/v1alpha1",
            "PostgreSQLInstance",
            {"environment": "dev", "vaultPath": "secret/database/team-a"},
        ),
        settings={"vault": {"requestTimeoutSeconds": request_timeout, "budgetSeconds": budget}},
        credentials={
            "platform": {
                "password-key": b"test-password-key",
                "vault-address": f"http://127.0.0.1:{vault.port}".encode(),
                "vault-token": b"test-token",
            }
        },
    )


def redis_request() -> fnv1.RunFunctionRequest:
    return request(
        xr("cache.platform.example.org/v1alpha1", "RedisInstance", {"environment": "dev"})
    )


@contextlib.contextmanager
def started(tmp_path: Path, *args: str) -> Iterator[FunctionServer]:
    server = FunctionServer(
        python=sys.executable, startup_timeout=20, log_path=tmp_path / "function.log", args=args
    )
    with server:
        yield server


def send(target: str, reqs: list[fnv1.RunFunctionRequest]) -> list[Future[Any]]:
    """Each request on its own thread over one channel; the futures of their responses."""
    channel = grpc.insecure_channel(target)
    stub = grpcv1.FunctionRunnerServiceStub(channel)
    pool = ThreadPoolExecutor(len(reqs))
    futures = [pool.submit(stub.RunFunction, r, timeout=60) for r in reqs]
    pool.shutdown(wait=False)
    return futures


def outcome(f: Future[Any]) -> str:
    try:
        rsp: fnv1.RunFunctionResponse = f.result(timeout=60)
    except grpc.RpcError as e:
        return str(e.code().name)
    return "OK" if not [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL] else "FATAL"


def test_sigterm_lets_the_calls_in_flight_finish(tmp_path: Path, silent_vault: SilentVault) -> None:
    with started(tmp_path, "--workers", "1") as server:
        calls = send(server.target, [vault_request(silent_vault, 3) for _ in range(32)])
        # Every call has reached the server before SIGTERM (one not yet received would be
        # refused, rightly): as many as may are waiting on the silent Vault, in flight,
        # and the rest were answered at once (VaultBusy).
        silent_vault.wait_for_connections(MAX_CONCURRENT_SYNCS)
        deadline = time.monotonic() + 30
        while sum(f.done() for f in calls) < len(calls) - MAX_CONCURRENT_SYNCS:
            assert time.monotonic() < deadline, "the calls did not reach the server"
            time.sleep(0.01)
        assert not all(f.done() for f in calls), "no call was in flight at SIGTERM"
        assert server.process is not None
        server.process.popen.send_signal(signal.SIGTERM)
        assert [outcome(f) for f in calls] == ["OK"] * 32
        assert server.process.popen.wait(timeout=30) == 0


def test_calls_still_running_after_the_grace_period_are_cancelled(
    tmp_path: Path, silent_vault: SilentVault
) -> None:
    with started(tmp_path, "--workers", "1", "--shutdown-grace-period", "0.2") as server:
        calls = send(server.target, [vault_request(silent_vault, 20)])
        silent_vault.wait_for_connections(1)
        assert server.process is not None
        server.process.popen.send_signal(signal.SIGTERM)
        assert server.process.popen.wait(timeout=15) == 0  # long before Vault's 20 s timeout
        assert outcome(calls[0]) in ("CANCELLED", "UNAVAILABLE")


def test_a_hanging_vault_does_not_hold_up_calls_without_vault(
    tmp_path: Path, silent_vault: SilentVault
) -> None:
    with started(tmp_path, "--workers", "1") as server:
        slow = send(server.target, [vault_request(silent_vault, 20) for _ in range(24)])
        silent_vault.wait_for_connections(MAX_CONCURRENT_SYNCS)
        fast = send(server.target, [redis_request() for _ in range(8)])
        assert [outcome(f) for f in fast] == ["OK"] * 8
        # The Vault steps beyond the per-process bound were not started: their calls
        # return with VaultBusy, the others are still waiting on Vault.
        expected_busy = len(slow) - MAX_CONCURRENT_SYNCS
        deadline = time.monotonic() + 30
        while len([f for f in slow if f.done()]) < expected_busy:
            assert time.monotonic() < deadline, "Vault steps over the bound were not refused"
            time.sleep(0.01)
        busy = [f for f in slow if f.done()]
        assert len(busy) == expected_busy
        assert all("VaultBusy" in [r.reason for r in f.result().results] for f in busy)
        assert len(silent_vault.accepted) == MAX_CONCURRENT_SYNCS
        silent_vault.close()  # the waiting steps fail now, so the server stops at once


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_workers_share_the_port_and_stop_with_sigterm(tmp_path: Path) -> None:
    with started(tmp_path, "--workers", "2") as server:
        assert server.pid is not None
        workers = children(server.pid)
        assert len(workers) == 2
        for _ in range(20):  # new connections, spread over the workers by the kernel
            with grpc.insecure_channel(server.target) as channel:
                stub = grpcv1.FunctionRunnerServiceStub(channel)
                rsp = stub.RunFunction(redis_request(), timeout=10)
                assert sorted(rsp.desired.resources) == ["connection-secret", "release"]
        assert server.process is not None
        server.process.popen.send_signal(signal.SIGTERM)
        assert server.process.popen.wait(timeout=30) == 0
    assert not [w for w in workers if Path(f"/proc/{w}").exists()]


def test_workers_leave_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    with started(tmp_path, "--workers", "2") as server:
        assert server.process is not None
        assert server.pid is not None
        workers = children(server.pid)
        server.process.popen.kill()
        server.process.popen.wait(timeout=10)
        deadline = time.monotonic() + 20
        while [w for w in workers if Path(f"/proc/{w}").exists()]:
            assert time.monotonic() < deadline, "workers outlived their supervisor"
            time.sleep(0.05)


# A certs dir Crossplane did not fill: (dir under tmp_path, reason).
UNUSABLE_CERTS_DIRS = [
    ("missing", "the dir does not exist"),
    ("", "the dir exists without the certs"),
]


def serve_from(certs_dir: Path) -> subprocess.CompletedProcess[bytes]:
    """The server started with --tls-server-certs-dir certs_dir, when it refuses to start."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "function", "--address", f"127.0.0.1:{free_port()}"),
            *("--tls-server-certs-dir", str(certs_dir)),
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("folder", "reason"), UNUSABLE_CERTS_DIRS, ids=[r for _, r in UNUSABLE_CERTS_DIRS]
)
def test_unusable_certs_dir_is_a_usage_error_not_a_traceback(
    tmp_path: Path, folder: str, reason: str
) -> None:
    proc = serve_from(tmp_path / folder)
    assert proc.returncode == 2, reason
    assert b"--tls-server-certs-dir" in proc.stderr
    assert b"missing tls.key, tls.crt, ca.crt" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_the_vault_step_ends_before_the_callers_deadline(
    tmp_path: Path, silent_vault: SilentVault
) -> None:
    with started(tmp_path, "--workers", "1") as server, grpc.insecure_channel(server.target) as ch:
        stub = grpcv1.FunctionRunnerServiceStub(ch)
        # Vault would be given 20 s a request; the caller gives the whole call 3 s.
        rsp = stub.RunFunction(vault_request(silent_vault, 20), timeout=3)
        assert sorted(rsp.desired.resources)  # composed, not DEADLINE_EXCEEDED
        assert [c.reason for c in rsp.conditions if c.type == "VaultSynced"] == ["VaultUnreachable"]
        silent_vault.close()


# ---------------------------------------------------------------- bounds (docs/serving.md)


def redis_named(name: str, observed: dict[str, Any] | None = None) -> fnv1.RunFunctionRequest:
    return request(
        xr("cache.platform.example.org/v1alpha1", "RedisInstance", {"environment": "dev"}, name),
        observed=observed,
    )


def bulky(name: str, size: int) -> fnv1.RunFunctionRequest:
    """A RedisInstance request of about size bytes: an observed release with many fields."""
    fields = {f"field-{i:06d}": "x" * 60 for i in range(size // 80)}
    release = {"apiVersion": "helm.m.crossplane.io/v1beta1", "kind": "Release", "status": fields}
    return redis_named(name, {"release": release})


def test_sigterm_lets_every_call_accepted_before_it_finish(tmp_path: Path) -> None:
    """64 calls that each take tens of milliseconds to compose, all on the server's
    connection when SIGTERM comes: none is cancelled. grpc cancels at stop() the calls its
    connection holds that its own thread has not taken yet; while calls compose, that thread
    waits for the interpreter."""
    reqs = [bulky(f"app-{n}", 1_000_000) for n in range(64)]
    with started(tmp_path, "--workers", "1", "--in-flight-mib", "0") as server:
        calls = send(server.target, reqs)
        time.sleep(0.3)  # every call on the connection, the first ones composing
        running = sum(not f.done() for f in calls)
        assert server.process is not None
        server.process.popen.send_signal(signal.SIGTERM)
        outcomes = [outcome(f) for f in calls]
        assert server.process.popen.wait(timeout=30) == 0
    assert running >= 32, f"only {running} calls were in flight at SIGTERM"
    assert outcomes == ["OK"] * 64


def test_calls_waiting_for_the_composing_turn_are_taken_before_stop() -> None:
    """The drain at SIGTERM holds the composing turn while the calls already received are
    taken, then stops: a call waiting for the turn must not keep the transport from taking
    the ones after it, or stop() cancels them."""
    runner = FunctionRunner()
    entered: list[bytes] = []

    def handle(data: bytes, context: Context) -> bytes:
        entered.append(data)
        return runner.serve(data, context)

    target = f"127.0.0.1:{free_port()}"
    served = transport(ServeConfig(target, None, []), handle, reuse_port=False, threads=3)
    served.start()
    assert runner.turn.take()
    try:
        calls = send(target, [redis_named(f"app-{n}") for n in range(3)])
        end = time.monotonic() + 10
        while len(entered) < 3 and time.monotonic() < end:
            time.sleep(0.01)
        assert len(entered) == 3, f"{len(entered)} of 3 calls taken while one waits for its turn"
        served.stop(10)
    finally:
        runner.turn.give()
    assert [outcome(f) for f in calls] == ["OK"] * 3
    assert served.wait_for_termination(10)


def test_a_call_over_the_in_flight_budget_is_refused_and_logged(
    tmp_path: Path, silent_vault: SilentVault
) -> None:
    with started(tmp_path, "--workers", "1", "--in-flight-mib", "1") as server:
        waiting = send(server.target, [vault_request(silent_vault, 20)])
        silent_vault.wait_for_connections(1)  # a small call in flight, waiting on Vault
        big = send(server.target, [bulky("big", 1_500_000)])
        small = send(server.target, [redis_request()])
        assert outcome(big[0]) == "RESOURCE_EXHAUSTED"
        assert outcome(small[0]) == "OK"  # within the budget
        silent_vault.close()
        assert outcome(waiting[0]) == "OK"
        log = server.process.log_text() if server.process else ""
    assert "call refused: too many request bytes in flight" in log


def test_a_vault_that_drips_bytes_does_not_hold_the_step_past_its_budget(tmp_path: Path) -> None:
    vault = DripVault()
    req = vault_request(vault, 5, budget=3)
    try:
        with (
            started(tmp_path, "--workers", "1") as server,
            grpc.insecure_channel(server.target) as channel,
        ):
            stub = grpcv1.FunctionRunnerServiceStub(channel)
            begin = time.monotonic()
            rsp = stub.RunFunction(req, timeout=40)
            took = time.monotonic() - begin
    finally:
        vault.close()
    assert took < 3 + 2, f"the Vault step took {took:.1f} s with a budget of 3 s"
    assert [c.reason for c in rsp.conditions if c.type == "VaultSynced"] == ["BudgetExceeded"]


def nested(levels: int) -> dict[str, Any]:
    """An object nested levels JSON levels deep (counting itself)."""
    value: dict[str, Any] = {"leaf": True}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def deep_request(levels: int) -> fnv1.RunFunctionRequest:
    """A RedisInstance whose observed release and an earlier step's desired resource nest
    `levels` JSON levels deep (a manifest kept whole, CRD-free fields)."""
    release = {"apiVersion": "helm.m.crossplane.io/v1beta1", "kind": "Release"}
    release["spec"] = nested(levels - 1)
    req = redis_named("deep", {"release": release})
    req.desired.resources["earlier"].resource.CopyFrom(
        to_struct({"apiVersion": "v1", "kind": "ConfigMap", "data": nested(levels - 1)})
    )
    return req


def test_a_request_nested_deeper_than_protobufs_default_is_composed(tmp_path: Path) -> None:
    req = deep_request(60)  # protobuf's default parse limit: about 31
    with (
        started(tmp_path, "--workers", "1") as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        # The response nests as deep: read as Crossplane (Go, limit 10000) reads it.
        raw = raw_run_function(channel)
        answers = [raw(req.SerializeToString(), timeout=30) for _ in range(2)]
    with lifted():
        rsp, again = (fnv1.RunFunctionResponse.FromString(a) for a in answers)
    assert not [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    assert sorted(rsp.desired.resources) == ["connection-secret", "earlier", "release"]
    assert rsp.desired.resources["earlier"] == req.desired.resources["earlier"]
    assert again == rsp


def test_a_request_nested_too_deep_gets_a_fatal_and_a_log_line(tmp_path: Path) -> None:
    with (
        started(tmp_path, "--workers", "1") as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        stub = grpcv1.FunctionRunnerServiceStub(channel)
        rsp = stub.RunFunction(deep_request(MAX_JSON_DEPTH + 20), timeout=30)
        with pytest.raises(grpc.RpcError) as refused:
            raw_run_function(channel)(b"\xff\xff\xff", timeout=10)
        log = server.process.log_text() if server.process else ""
    assert [(r.severity, r.reason) for r in rsp.results] == [(fnv1.SEVERITY_FATAL, "TooDeep")]
    assert f"the function reads at most {MAX_JSON_DEPTH}" in rsp.results[0].message
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request refused: nested too deep" in log
    assert "call refused: not a RunFunctionRequest" in log


def route_request(message_bytes: int, parent_refs: int) -> fnv1.RunFunctionRequest:
    """A ServiceIngress whose observed HTTPRoute lists the shared Gateway parent_refs times
    and whose controller refused it with a message of message_bytes."""
    ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shared"}
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "shop", "namespace": "shop", "generation": 1},
        "spec": {"parentRefs": [ref] * parent_refs},
        "status": {
            "parents": [
                {
                    "parentRef": ref,
                    "controllerName": "example.org/gateway",
                    "conditions": [
                        {
                            "type": "Accepted",
                            "status": "False",
                            "reason": "NotAllowedByListeners",
                            "message": "m" * message_bytes,
                            "observedGeneration": 1,
                        }
                    ],
                }
            ]
        },
    }
    ingress = xr(
        "network.platform.example.org/v1alpha1",
        "ServiceIngress",
        {
            "environment": "dev",
            "hosts": ["shop.apps.example.org"],
            "routes": [{"backends": [{"service": "storefront", "port": 8080}]}],
        },
        "shop",
        "shop",
    )
    tenancy = {"tenancy": {"tenants": [{"namespaces": ["shop"], "hosts": ["*.apps.example.org"]}]}}
    return request(ingress, observed={"route": route}, settings=tenancy)


def test_what_a_gateway_says_is_cut_before_it_reaches_the_response(server: str) -> None:
    req = route_request(1_000_000, 6)
    assert req.ByteSize() > 1_000_000
    with grpc.insecure_channel(server) as channel:
        rsp = grpcv1.FunctionRunnerServiceStub(channel).RunFunction(req, timeout=30)
    assert rsp.ByteSize() < 64 * 1024
    parents = rsp.desired.composite.resource["status"]["routeParents"]
    assert len(parents) == 6
    assert all(len(p["message"]) < 1100 for p in parents)


def test_a_response_over_the_send_limit_is_a_fatal_naming_its_largest_part(
    tmp_path: Path,
) -> None:
    """An earlier step's desired resource of 1.5 MB passed on, under a 1 MiB send limit:
    a FATAL result instead of a response grpc would refuse to send."""
    req = redis_request()
    req.desired.resources["earlier"].resource.CopyFrom(
        to_struct({"apiVersion": "v1", "kind": "ConfigMap", "data": {"big": "x" * 1_500_000}})
    )
    with (
        started(
            tmp_path,
            "--workers",
            "1",
            "--max-recv-message-size",
            "4",
            "--max-send-message-size",
            "1",
        ) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        rsp = grpcv1.FunctionRunnerServiceStub(channel).RunFunction(req, timeout=30)
        log = server.process.log_text() if server.process else ""
    assert [(r.severity, r.reason) for r in rsp.results] == [
        (fnv1.SEVERITY_FATAL, "ResponseTooLarge")
    ]
    assert "desired resource 'earlier'" in rsp.results[0].message
    assert not rsp.desired.resources
    assert "response too large" in log


def test_v1beta1_calls_are_served_by_the_same_runner(server: str) -> None:
    with grpc.insecure_channel(server) as channel:
        stub = grpcv1beta1.FunctionRunnerServiceStub(channel)
        req = fnv1beta1.RunFunctionRequest.FromString(redis_request().SerializeToString())
        rsp = stub.RunFunction(req, timeout=10)
    assert sorted(rsp.desired.resources) == ["connection-secret", "release"]


def test_garbage_certificates_are_one_line_naming_the_file(tmp_path: Path) -> None:
    for name in ("tls.key", "tls.crt", "ca.crt"):
        (tmp_path / name).write_text(
            "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"
        )
    proc = serve_from(tmp_path)
    assert proc.returncode != 0
    assert b"Traceback" not in proc.stderr
    assert b"ca.crt is not a PEM certificate" in proc.stderr


def test_a_port_another_process_listens_on_is_refused(tmp_path: Path) -> None:
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen()
    port = other.getsockname()[1]
    try:
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "function", "--insecure"),
                *("--address", f"127.0.0.1:{port}", "--workers", "2"),
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
    finally:
        other.close()
    assert proc.returncode != 0
    assert f"another process already listens on port {port}".encode() in proc.stderr
    assert b"Traceback" not in proc.stderr


def _fresh_python(
    args: list[str], grpc_experiments: str | None
) -> subprocess.CompletedProcess[str]:
    """This interpreter run afresh in the checkout, GRPC_EXPERIMENTS as given (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "GRPC_EXPERIMENTS"}
    if grpc_experiments is not None:
        env["GRPC_EXPERIMENTS"] = grpc_experiments
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )


_SERVE_ONCE = """
import os, sys
import function.cli
import grpc
from concurrent import futures
s = grpc.server(futures.ThreadPoolExecutor(1))
s.add_insecure_port("127.0.0.1:0")
s.start()
s.stop(0)
print(os.environ.get("GRPC_EXPERIMENTS", ""))
"""


@pytest.mark.parametrize(
    ("given", "served_with", "reason"),
    [
        (None, "-event_engine_listener", "unset: the function's choice, before grpc loads"),
        ("", "", "set empty: the operator's choice is kept"),
        ("-event_engine_client", "-event_engine_client", "the operator's own experiments"),
    ],
)
def test_the_server_starts_with_grpcs_iomgr_listener(
    given: str | None, served_with: str, reason: str
) -> None:
    # grpc names an experiment it does not know on stderr when it loads: a grpcio that renamed
    # or dropped event_engine_listener fails here, and function/__init__.py needs another look.
    done = _fresh_python(["-c", _SERVE_ONCE], given)
    assert done.stdout.strip() == served_with, reason
    assert "experiment" not in done.stderr.lower(), done.stderr


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("function.cli", "the console script and python -m function"),
        ("harness.floor", "the floor of bench-phases, which must serve on the same transport"),
    ],
)
def test_the_function_package_loads_before_grpc(entry: str, reason: str) -> None:
    # grpc reads GRPC_EXPERIMENTS once, when it loads: function/__init__.py sets it, so it
    # must finish first. -X importtime lists each module as its import completes.
    done = _fresh_python(["-X", "importtime", "-c", f"import {entry}"], None)
    order = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert order.index("function") < order.index("grpc"), reason
