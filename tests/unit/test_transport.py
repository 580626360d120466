"""function/transport.py in this process, on loopback, with handlers the tests control."""

import io
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import structlog

from function import logs
from function.transport import Context, Handler, Transport
from harness.process import free_port

METHOD = "/test.Service/Call"
LIMIT = 64 * 1024  # the receive limit the transport is given


def _echo(data: bytes, _context: Context) -> bytes:
    return data[::-1]


class Served:
    """A started transport answering METHOD with a handler, and a channel to it."""

    def __init__(self, handle: Handler, threads: int = 8, busy_poll: float = 0.0) -> None:
        self.target = f"127.0.0.1:{free_port()}"
        options = [("grpc.max_receive_message_length", LIMIT)]
        self.transport = Transport(handle, [METHOD], options, threads=threads, busy_poll=busy_poll)
        self.transport.add_port(self.target, None)
        self.transport.start()
        self.channel = grpc.insecure_channel(self.target)

    def call(self, data: bytes, method: str = METHOD, timeout: float | None = 10) -> bytes:
        call = self.channel.unary_unary(method)
        out: bytes = call(data, timeout=timeout)
        return out

    def close(self) -> None:
        self.channel.close()
        self.transport.stop(None)
        assert self.transport.wait_for_termination(10)


@pytest.fixture
def echo() -> Iterator[Served]:
    served = Served(_echo)
    yield served
    served.close()


def _code(served: Served, data: bytes, method: str = METHOD) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        served.call(data, method)
    return raised.value.code(), raised.value.details()


def test_a_call_gets_the_handlers_bytes(echo: Served) -> None:
    assert echo.call(b"abc") == b"cba"
    assert echo.call(b"") == b""


def test_a_method_not_served_is_unimplemented_and_the_next_call_is_answered(
    echo: Served,
) -> None:
    assert _code(echo, b"x", "/test.Service/Other") == (
        grpc.StatusCode.UNIMPLEMENTED,
        "Method not found!",
    )
    assert echo.call(b"ab") == b"ba"


def test_a_request_over_the_receive_limit_is_refused_by_grpc_and_the_next_answered(
    echo: Served,
) -> None:
    code, _ = _code(echo, b"x" * (LIMIT + 1))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert echo.call(b"ab") == b"ba"


def test_a_call_without_a_message_is_unimplemented(echo: Served) -> None:
    none = echo.channel.stream_unary(METHOD)
    with pytest.raises(grpc.RpcError) as raised:
        none(iter(()), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "requires exactly one request message" in raised.value.details()


def test_abort_ends_the_call_with_its_code_and_details() -> None:
    def refuse(_data: bytes, context: Context) -> bytes:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many bytes in flight")

    served = Served(refuse)
    try:
        assert _code(served, b"x") == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "too many bytes in flight",
        )
    finally:
        served.close()


def test_a_handler_that_raises_is_unknown_naming_only_the_type_and_serving_goes_on() -> None:
    def broken(data: bytes, _context: Context) -> bytes:
        if data == b"boom":
            raise KeyError("token-s3cr3t")
        return data

    out = io.StringIO()
    logs.configure(output=out)
    served = Served(broken, threads=1)
    try:
        assert _code(served, b"boom") == (grpc.StatusCode.UNKNOWN, "KeyError")
        assert served.call(b"ok") == b"ok"
    finally:
        served.close()
        structlog.reset_defaults()
    line = json.loads(out.getvalue().splitlines()[0])
    assert (line["msg"], line["error"]) == ("the call's handler raised", "KeyError")
    assert "s3cr3t" not in out.getvalue(), "what an exception carries may be a secret"


@pytest.mark.parametrize(
    ("timeout", "low", "high", "reason"),
    [
        # grpc core turns the deadline into its own clock's: a few ms either way.
        (5.0, 3.0, 5.1, "the caller's deadline, less the time the call took to arrive"),
        (None, 1e6, float("inf"), "no deadline: centuries, as grpc.ServicerContext says"),
    ],
)
def test_time_remaining_is_the_callers_deadline(
    timeout: float | None, low: float, high: float, reason: str
) -> None:
    seen: list[float] = []

    def remaining(_data: bytes, context: Context) -> bytes:
        seen.append(context.time_remaining())
        return b""

    served = Served(remaining)
    try:
        served.call(b"", timeout=timeout)
    finally:
        served.close()
    assert low <= seen[0] <= high, reason


def test_at_most_threads_calls_are_handled_at_once_and_the_rest_wait_their_turn() -> None:
    release = threading.Event()
    lock = threading.Lock()
    running = [0, 0]  # now, most

    def held(data: bytes, context: Context) -> bytes:
        with lock:
            running[0] += 1
            running[1] = max(running)
        with context.waiting():
            release.wait(10)
        with lock:
            running[0] -= 1
        return data

    served = Served(held, threads=2)
    try:
        with ThreadPoolExecutor(6) as pool:
            calls = [pool.submit(served.call, bytes([n])) for n in range(6)]
            time.sleep(0.5)
            assert running == [2, 2]
            release.set()
            assert sorted(c.result() for c in calls) == [bytes([n]) for n in range(6)]
    finally:
        served.close()
    assert running == [0, 2]


def test_one_thread_answers_call_after_call_until_one_waits() -> None:
    # grpc core wakes another polling thread for each event it hands out; one thread polling
    # keeps a call to the one wake-up of its arrival (function/transport.py).
    threads: list[int] = []
    release = threading.Event()

    def answer(data: bytes, context: Context) -> bytes:
        threads.append(threading.get_ident())
        if data == b"wait":
            with context.waiting():
                release.wait(10)
        return data

    served = Served(answer)
    try:
        for n in range(20):
            served.call(bytes([n]))
        assert len(set(threads)) == 1, "calls in sequence were answered on several threads"
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(served.call, b"wait")
            while len(threads) < 21:
                time.sleep(0.01)
            # taken by another thread while the first waits
            assert served.call(b"next", timeout=5) == b"next"
            assert not waiting.done()
            release.set()
            assert waiting.result() == b"wait"
        assert threads[-1] != threads[-2]
    finally:
        release.set()
        served.close()


def test_stop_lets_a_running_call_finish_within_the_grace_and_cancels_after_it() -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(data: bytes, context: Context) -> bytes:
        started.set()
        with context.waiting():
            release.wait(float(data.decode()))
        return data

    served = Served(slow)
    try:
        with ThreadPoolExecutor(1) as pool:
            finishing = pool.submit(served.call, b"0.5")
            assert started.wait(10)
            served.transport.stop(5)
            assert finishing.result() == b"0.5"
        assert served.transport.wait_for_termination(10)
    finally:
        release.set()
        served.channel.close()

    served = Served(slow)
    started.clear()
    release.clear()
    try:
        with ThreadPoolExecutor(1) as pool:
            hanging = pool.submit(served.call, b"30")
            assert started.wait(10)
            begun = time.monotonic()
            served.transport.stop(0.5)
            with pytest.raises(grpc.RpcError) as raised:
                hanging.result()
            # grpc core's own status for it (grpc_server_cancel_all_calls), as under grpc.server
            assert (raised.value.code(), raised.value.details()) == (
                grpc.StatusCode.UNAVAILABLE,
                "Cancelling all calls",
            )
            assert time.monotonic() - begun < 5
    finally:
        release.set()
        served.channel.close()
        assert served.transport.wait_for_termination(10)


def _cpu_while_idle(seconds: float) -> float:
    """The CPU seconds this process (every thread) spends while the test sleeps."""
    before = time.process_time()
    time.sleep(seconds)
    return time.process_time() - before


def test_after_calls_back_to_back_the_poller_busy_polls_for_busy_poll_then_sleeps() -> None:
    served = Served(_echo, busy_poll=0.3)
    try:
        for n in range(5):
            assert served.call(bytes([n])) == bytes([n])
        spent = _cpu_while_idle(1.0)
        assert spent > 0.1, "no busy polling after calls back to back"
        assert spent < 0.6, "busy polling went on past busy_poll"
        assert served.call(b"after") == b"retfa"
    finally:
        served.close()


def test_calls_further_apart_than_busy_poll_never_busy_poll() -> None:
    served = Served(_echo, busy_poll=0.05)
    try:
        for n in range(3):
            time.sleep(0.2)
            assert served.call(bytes([n])) == bytes([n])
        assert _cpu_while_idle(0.5) < 0.025
    finally:
        served.close()


def test_no_busy_polling_while_a_call_is_in_hand() -> None:
    # A call waiting (on Vault, on its turn) hands polling to another thread, which must not
    # spin against the calls still in hand.
    waiting = threading.Event()
    release = threading.Event()

    def answer(data: bytes, context: Context) -> bytes:
        if data == b"wait":
            with context.waiting():
                waiting.set()
                release.wait(10)
        return data

    served = Served(answer, busy_poll=30)
    try:
        for n in range(5):
            served.call(bytes([n]))
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(served.call, b"wait")
            assert waiting.wait(10)
            assert _cpu_while_idle(0.5) < 0.05
            release.set()
            assert held.result() == b"wait"
    finally:
        release.set()
        served.close()


def test_stop_ends_a_busy_poll() -> None:
    served = Served(_echo, busy_poll=30)
    for n in range(5):
        served.call(bytes([n]))
    served.close()  # within 10 s, not after the 30 s of busy polling


def test_a_port_that_cannot_be_bound_raises() -> None:
    transport = Transport(_echo, [METHOD], [], threads=1)
    with pytest.raises(RuntimeError, match="Failed to bind"):
        transport.add_port("256.0.0.1:1", None)
