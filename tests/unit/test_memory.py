"""What one process holds: caches within the memory they are given, request bytes in flight
within their budget (function/lru.py, function/input.py, function/admission.py)."""

import gc
import hashlib
import tracemalloc
from collections.abc import Callable

import pytest
from google.protobuf import struct_pb2

from function import response_cache
from function.admission import Admission, BusyError
from function.input import parse_input
from function.kinds.redisinstance import KIND as REDIS
from function.lru import ByteLRU
from harness.requests import INPUT_API_VERSION


def held_by(build: Callable[[], object]) -> int:
    """Bytes still allocated (tracemalloc) once build() has run, with what it returned kept."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert kept is not None
    return after - before


def test_a_byte_cache_holds_no_more_memory_than_its_budget() -> None:
    """Small entries (a 32-byte digest and a short answer, as the response cache keeps) cost
    their objects and the cache's bookkeeping, not only their lengths."""
    budget = 256 * 1024

    def fill() -> ByteLRU:
        cache = ByteLRU(budget)
        for n in range(20_000):
            cache.put(hashlib.sha256(str(n).encode()).digest(), b"answer %06d" % n * 8)
        return cache

    assert held_by(fill) <= budget


def test_the_response_cache_holds_no_more_memory_than_its_budget() -> None:
    budget_mib = 0.25

    def fill() -> response_cache.ResponseCache:
        cache = response_cache.ResponseCache(budget_mib)
        for n in range(20_000):
            cache.put(hashlib.sha256(str(n).encode()).digest(), b"r" * 120)
        return cache

    assert held_by(fill) <= budget_mib * 1024 * 1024


def big_input(n: int, size: int) -> bytes:
    """A serialized step input with about size bytes in another kind's section (kept as
    given when a RedisInstance is composed), distinct for each n."""
    spec = {"kubernetesCluster": {f"k{n}-{i:06d}": "x" * 60 for i in range(size // 75)}}
    s = struct_pb2.Struct()
    s.update({"apiVersion": INPUT_API_VERSION, "kind": "Input", "spec": spec})
    return bytes(s.SerializeToString(deterministic=True))


def test_distinct_large_inputs_are_not_kept() -> None:
    """Each call may carry its own large input: none of them stays once parsed."""
    inputs = [big_input(n, 512 * 1024) for n in range(12)]

    def parse_all() -> list[object]:
        return [type(parse_input(data, REDIS)) for data in inputs]

    assert held_by(parse_all) < 2 * 1024 * 1024


def test_an_equal_small_input_is_parsed_once() -> None:
    data = big_input(0, 2 * 1024)
    assert parse_input(data, REDIS) is parse_input(data, REDIS)


def test_request_bytes_in_flight_stay_within_the_budget() -> None:
    admission = Admission(1000)
    with admission.hold(600):
        with pytest.raises(BusyError, match="would pass its budget"), admission.hold(600):
            pass
        with admission.hold(400):
            assert admission.in_flight == 1000
    assert admission.in_flight == 0
    with admission.hold(5000):  # alone, any request gRPC accepts is taken
        assert admission.in_flight == 5000
    assert admission.in_flight == 0
