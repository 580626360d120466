"""The real server on loopback: flags, plaintext under --insecure, a real RunFunction call."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from tests.builders import request, xr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A certs dir is given too: --insecure must still serve plaintext.
    certs: Path = tmp_path_factory.mktemp("certs")
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "function",
            "--insecure",
            "--address",
            address,
            "--tls-server-certs-dir",
            str(certs),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                grpc.channel_ready_future(grpc.insecure_channel(address)).result(timeout=0.5)
                break
            except grpc.FutureTimeoutError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_run_function_over_plaintext_grpc(server: str) -> None:
    with grpc.insecure_channel(server) as channel:
        stub = grpcv1.FunctionRunnerServiceStub(channel)
        req = request(
            xr("cache.platform.example.org/v1alpha1", "RedisInstance", {"environment": "dev"})
        )
        rsp: fnv1.RunFunctionResponse = stub.RunFunction(req, timeout=10)
    assert sorted(rsp.desired.resources) == ["connection-secret", "release"]
    assert not rsp.results


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
