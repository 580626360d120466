"""The response cache (function/response_cache.py): equal requests get equal bytes; nothing
volatile is kept."""

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function import response_cache
from function.expiry import lifetime
from function.kinds.redisinstance import compose as redis_compose
from function.runner import FunctionRunner, run
from harness.cases import find_cases
from harness.paths import ROOT
from harness.requests import LocalCall, answered_case_request, request, xr
from harness.server import FunctionServer, raw_run_function

REDIS = ("cache.platform.example.org/v1alpha1", "RedisInstance")
VALID_CASES = [c for c in find_cases(ROOT) if not c.expects_error]


def call(runner: FunctionRunner, req: fnv1.RunFunctionRequest) -> bytes:
    return runner.serve(req.SerializeToString(), LocalCall())


def case(case_id: str) -> fnv1.RunFunctionRequest:
    """The case's request with the resources it asks for answered (required.yaml)."""
    return answered_case_request(next(c for c in VALID_CASES if c.id == case_id), run)


def test_the_key_is_the_same_whatever_order_the_maps_were_written_in() -> None:
    def one_resource(name: str) -> bytes:
        req = fnv1.RunFunctionRequest()
        req.observed.resources[name].resource.update({"kind": name, "a": 1})
        return req.SerializeToString()

    # Serialized messages concatenated are merged when parsed: the same four resources,
    # written in two orders (Crossplane, in Go, writes map entries in random order).
    names = ["alpha", "bravo", "charlie", "delta"]
    forwards = b"".join(one_resource(n) for n in names)
    backwards = b"".join(one_resource(n) for n in reversed(names))
    assert forwards != backwards
    one = fnv1.RunFunctionRequest.FromString(forwards)
    other = fnv1.RunFunctionRequest.FromString(backwards)
    assert response_cache.key(one) == response_cache.key(other)
    other.observed.resources["delta"].resource["a"] = 3
    assert response_cache.key(one) != response_cache.key(other)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    """The real server with its response cache (the default) and with it off."""
    with (
        FunctionServer(python=sys.executable, startup_timeout=20) as caching,
        FunctionServer(
            python=sys.executable, startup_timeout=20, args=["--response-cache-mib", "0"]
        ) as composing,
    ):
        yield caching.target, composing.target


def test_every_example_answers_the_same_bytes_cached_or_composed(
    servers: tuple[str, str],
) -> None:
    caching, composing = (grpc.insecure_channel(t) for t in servers)
    try:
        raw = [raw_run_function(channel) for channel in (caching, composing)]
        for c in VALID_CASES:
            data = answered_case_request(c, run).SerializeToString()
            first, second = raw[0](data, timeout=30), raw[0](data, timeout=30)
            composed = raw[1](data, timeout=30)
            assert first == second == composed, c.id
    finally:
        caching.close()
        composing.close()


def test_bytes_that_are_not_a_request_are_refused_as_invalid_not_unknown(
    servers: tuple[str, str],
) -> None:
    with grpc.insecure_channel(servers[0]) as channel, pytest.raises(grpc.RpcError) as refused:
        raw_run_function(channel)(b"\xff\xff\xff", timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("case_id", "kept", "reason"),
    [
        ("redisinstance/dev", True, "composing reads only the request"),
        ("redisinstance/ready", True, "observed resources are part of the request"),
        ("postgresqlinstance/preview", True, "expired already: Expired=True cannot change"),
        ("postgresqlinstance/vault-unreachable", False, "Vault is called on every request"),
        ("kubernetescluster/dev-cluster", True, "the Vault step only waits: Vault is not asked"),
        ("kubernetescluster/ready", False, "the kubeconfig is written to Vault"),
    ],
)
def test_what_is_cached(case_id: str, kept: bool, reason: str) -> None:
    runner = FunctionRunner(response_cache.ResponseCache())
    first = call(runner, case(case_id))
    second = call(runner, case(case_id))
    assert (len(runner.cache.entries), runner.cache.entries.hits) == ((1, 1) if kept else (0, 0)), (
        reason
    )
    assert first == second, case_id


def test_an_answer_holding_until_its_expiry_is_cached_while_its_ttl_ends_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # examples/postgresqlinstance/preview: created 2026-01-05T10:00:00Z, 168h to live. Crossplane
    # core may keep what it is sent for its meta.ttl from when it gets it (crossplane v2.3.4
    # internal/xfn/cached/cached_runner.go): a kept answer sent again must not outlive the
    # expiry either.
    expiry = datetime(2026, 1, 12, 10, 0, 0, tzinfo=UTC)
    now = [datetime(2026, 1, 5, 12, 0, tzinfo=UTC)]
    monkeypatch.setattr(lifetime, "clock", lambda: now[0])
    runner = FunctionRunner(response_cache.ResponseCache(clock=lambda: now[0].timestamp()))  # noqa: PLW0108 (now[0] changes)
    req = case("postgresqlinstance/preview")

    def expired() -> tuple[str, int]:
        """Expired's status and the answer's ttl, which must end by the expiry."""
        rsp = fnv1.RunFunctionResponse.FromString(call(runner, req))
        if now[0] < expiry:
            assert now[0] + rsp.meta.ttl.ToTimedelta() <= expiry
        status = next(c.status for c in rsp.conditions if c.type == "Expired")
        return fnv1.Status.Name(status), rsp.meta.ttl.seconds

    assert (expired(), runner.cache.entries.hits) == (("STATUS_CONDITION_FALSE", 30), 0)
    now[0] = expiry - timedelta(seconds=60)  # its 30 s end before the expiry: the kept answer
    assert (expired(), runner.cache.entries.hits) == (("STATUS_CONDITION_FALSE", 30), 1)
    now[0] = expiry - timedelta(seconds=20)  # they would not: composed again, a shorter ttl
    assert expired() == ("STATUS_CONDITION_FALSE", 19)
    now[0] = expiry - timedelta(seconds=1)
    assert expired() == ("STATUS_CONDITION_FALSE", 0)
    now[0] = expiry  # expired: composed again
    assert expired()[0] == "STATUS_CONDITION_TRUE"
    now[0] = datetime(2026, 2, 1, tzinfo=UTC)  # and from then on it stays True, cached
    assert expired()[0] == "STATUS_CONDITION_TRUE"
    assert len(runner.cache.entries) == 1


def test_an_internal_error_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> str:
        raise RuntimeError("a bug")

    runner = FunctionRunner(response_cache.ResponseCache())
    req = request(xr(*REDIS, {"environment": "dev"}))
    monkeypatch.setattr(redis_compose, "stable_password", boom)
    failed = fnv1.RunFunctionResponse.FromString(call(runner, req))
    assert [r.reason for r in failed.results] == ["InternalError"]
    monkeypatch.undo()
    # The next call composes again (the bug fixed, say by a retry that now succeeds).
    fixed = fnv1.RunFunctionResponse.FromString(call(runner, req))
    assert not fixed.results
    assert sorted(fixed.desired.resources) == ["connection-secret", "release"]


def test_with_the_cache_off_no_request_is_digested(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every call composes: hashing the whole request would be work for nothing.
    def digest(_: fnv1.RunFunctionRequest) -> bytes:
        raise AssertionError("the request was digested")

    monkeypatch.setattr(response_cache, "key", digest)
    runner = FunctionRunner(response_cache.ResponseCache(0))
    rsp = fnv1.RunFunctionResponse.FromString(call(runner, case("redisinstance/dev")))
    assert sorted(rsp.desired.resources) == ["connection-secret", "release"]
    assert not rsp.results


def test_one_xrs_answer_is_never_served_for_anothers() -> None:
    runner = FunctionRunner(response_cache.ResponseCache())
    team_a = request(xr(*REDIS, {"environment": "dev"}, namespace="team-a"))
    team_b = request(xr(*REDIS, {"environment": "dev"}, namespace="team-b"))
    a, b = call(runner, team_a), call(runner, team_b)
    assert a != b
    assert (call(runner, team_a), call(runner, team_b)) == (a, b)
    assert len(runner.cache.entries) == 2


def test_the_memory_is_bounded_and_zero_turns_it_off() -> None:
    budget = 16 * 1024  # about ten answers; one may take an eighth of it
    tiny = FunctionRunner(response_cache.ResponseCache(budget_mib=budget / 1024 / 1024))
    for n in range(20):
        call(tiny, request(xr(*REDIS, {"environment": "dev"}, name=f"app-{n}")))
    assert 0 < tiny.cache.entries.size <= budget
    assert len(tiny.cache.entries) < 20  # the oldest went first
    off = FunctionRunner(response_cache.ResponseCache(0))
    req = request(xr(*REDIS, {"environment": "dev"}))
    assert call(off, req) == call(off, req)
    assert (len(off.cache.entries), off.cache.entries.hits) == (0, 0)
