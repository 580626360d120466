"""The real server on loopback: flags, plaintext under --insecure, a real RunFunction call."""

import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from harness.cases import find_cases
from harness.paths import ROOT
from harness.process import free_port
from harness.requests import case_request, request, xr
from harness.server import FunctionServer


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
