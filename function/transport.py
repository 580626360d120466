"""Unary calls on raw bytes over grpc core's server, polled by the function's own threads.

Why not grpc.server: its Python layer hands every unary call from its polling thread to a
pool thread and back, then back again (grpc/_server.py at grpcio v1.84.0: _handle_call
submits the call to the pool; the pool thread's _unary_request starts the read and waits on
a condition the polling thread notifies when the message is in; the status goes out in a
batch of its own after a separate receive-close batch). Each hand-off is a thread wake-up
and a GIL transfer, and together they cost more than composing a small XR: answering fixed
bytes, grpc.server spends about 250 µs of CPU per call here, this module about 100
(docs/serving.md, bench/phases.md).

Here one thread at a time polls the one completion queue and handles the event it gets
where it gets it: a new call starts reading its message; the thread that gets the message
answers it and sends metadata, message, status and the receive-close in one batch. grpc core
lets any number of threads poll a queue (include/grpc/grpc.h), but wakes another of them to
poll each time the polling one returns with an event (end_worker in src/core/lib/iomgr/
ev_epoll1_linux.cc at grpc v1.84.0: the designated poller hands over to the next): three
events a unary call, three thread wake-ups. So the thread polling keeps polling (_Polling)
until a call it answers waits (Context.waiting: on Vault, the Kubernetes API, or its turn to
compose while another call holds it); another thread polls from then on, and the one that
waited joins the others once its call is answered. A call that waits holds only its own
thread.

While calls come back to back, the polling thread busy-polls between them: after the last
call in hand is answered it asks the queue without blocking, for up to `busy_poll` seconds,
before it blocks in epoll_wait. A thread that blocks gives its core up; on a virtual
machine the core halts, and the next call then finds the caches cold (the host ran other
work there): answering redisinstance/user-password then costs about half as much CPU again
as with the core kept busy (docs/serving.md). So does the kernel's busy polling
(net.core.busy_poll, in µs), and Go's scheduler spinning before it parks a thread
(runtime/proc.go, findRunnable). The spin is taken only when the call just answered came
within `busy_poll` of the one before (calls arriving seconds apart never spin), only while
no call is in hand (it never takes the interpreter from a composing thread), and it yields
the core to any other thread that wants it (sched_yield) between polls.

A call is taken from grpc core when the polling thread gets to it, between the calls it
answers; at most `threads` are read and answered at once, and there is one thread more
than that, free to poll while they wait: the message of a call no thread is free for stays
unread (up to a stream's 64 KiB flow-control window in grpc core) until one is, so what is
in memory is what function/admission.py counts.

grpc._cython.cygrpc is grpc's own layer under grpc.server and grpc.aio, not a public API;
the SDK pins grpcio to one version (crossplane-function-sdk-python's requirements), and
tests/unit/test_transport.py fails on the first call it cannot make.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn

import grpc
from crossplane.function import logging
from grpc._cython import cygrpc

from function import logs

# grpc.server's own messages for the same cases (grpc/_server.py at v1.84.0), so a client
# sees what it would from any Python gRPC server.
_NOT_FOUND = b"Method not found!"
_ONE_MESSAGE = '"{}" requires exactly one request message.'


class AbortError(Exception):
    """Raised by Context.abort: the call ends with this status and no message."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class _Polling:
    """Which of the transport's threads polls: one at a time, until it hands over."""

    def __init__(self) -> None:
        self._turn = threading.Lock()
        self._mine = threading.local()  # .polling: this thread has the turn

    def take(self) -> None:
        """Poll from now on: at once if this thread has the turn, else once it is handed over."""
        if not getattr(self._mine, "polling", False):
            self._turn.acquire()
            self._mine.polling = True

    def hand_over(self) -> None:
        """Let another thread poll, if this one did."""
        if getattr(self._mine, "polling", False):
            self._mine.polling = False
            self._turn.release()


class Context:
    """What a handler may ask of its call: the part of grpc.ServicerContext it uses, and a
    way to wait."""

    __slots__ = ("_deadline", "_polling")

    def __init__(self, deadline: float, polling: _Polling) -> None:
        self._deadline = deadline  # Unix time; infinite without a deadline
        self._polling = polling

    def time_remaining(self) -> float:
        """Seconds left before the caller's deadline (grpc.ServicerContext.time_remaining)."""
        return max(self._deadline - time.time(), 0.0)

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        """End the call with code and details (grpc.ServicerContext.abort)."""
        raise AbortError(code, details)

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """While the call waits on something outside the process: another thread takes
        calls meanwhile. A handler that blocks outside this block stops every other call
        from being taken until it returns."""
        self._polling.hand_over()
        yield


# A call as the transport takes it: the request's bytes in, the response's bytes out.
Handler = Callable[[bytes, Context], bytes]


def _status(code: grpc.StatusCode, details: bytes) -> cygrpc.Operation:
    return cygrpc.SendStatusFromServerOperation(None, code.value[0], details, 0)


def _finish(call: cygrpc.Call, *operations: cygrpc.Operation) -> None:
    """Send what ends a call, with its initial metadata and the receive-close, in one batch;
    its completion needs nothing further."""
    batch = (
        cygrpc.SendInitialMetadataOperation(None, 0),
        *operations,
        cygrpc.ReceiveCloseOnServerOperation(0),
    )
    call.start_server_batch(batch, _ignore)


def _ignore(_event: object) -> None:
    pass


class Transport:
    """A server answering unary calls of the given methods with handle, on raw bytes."""

    def __init__(
        self,
        handle: Handler,
        methods: Iterable[str],
        options: Sequence[tuple[str, Any]],
        *,
        threads: int,
        busy_poll: float = 0.0,
    ) -> None:
        self._handle = handle
        self._log: logs.Logger = logging.get_logger()
        self._methods = frozenset(m.encode() for m in methods)
        self._threads = threads
        self._queue = cygrpc.CompletionQueue()
        self._server = cygrpc.Server(tuple(options), False)
        self._server.register_completion_queue(self._queue)
        self._lock = threading.Lock()
        self._polling = _Polling()
        self._reading = 0  # calls being read or answered: at most threads
        self._waiting: collections.deque[tuple[cygrpc.Call, Any]] = collections.deque()
        self._stopping = False
        self._stopped = threading.Event()  # grpc core has ended every call (after stop)
        self._busy_poll = busy_poll  # seconds; 0: never
        # When the last call in hand was answered (monotonic), and whether the call before it
        # came within busy_poll of the one before that: the polling thread then busy-polls.
        self._idle_since = time.monotonic()
        self._back_to_back = False
        # When grpc core last handed over a call (monotonic): the drain at SIGTERM waits for
        # the calls already on their way (function/server.py).
        self.last_call = time.monotonic()

    def add_port(self, address: str, credentials: grpc.ServerCredentials | None) -> int:
        """Listen on address (TLS with credentials, plaintext without); the port bound.
        RuntimeError when grpc core cannot bind it, as grpc.server's add_*_port."""
        creds = None if credentials is None else credentials._credentials
        port: int = self._server.add_http2_port(address.encode(), creds)
        if port == 0:
            raise RuntimeError(f"Failed to bind to address {address}")
        return port

    def start(self) -> None:
        self._server.start()
        with self._lock:
            self._request()
        for n in range(self._threads + 1):
            threading.Thread(target=self._poll, name=f"grpc-poll-{n}", daemon=True).start()

    def stop(self, grace: float | None) -> None:
        """Take no new call; cancel what still runs after grace seconds (at once with None).
        Returns at once; wait_for_termination waits for the end."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._server.shutdown(self._queue, self._on_shutdown)
        if grace is None:
            self._server.cancel_all_calls()
            return

        def cancel_after_grace() -> None:
            if not self._stopped.wait(grace):
                self._server.cancel_all_calls()

        threading.Thread(target=cancel_after_grace, name="grace", daemon=True).start()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Whether every call has ended after stop(), within timeout seconds. Waits in short
        steps, so that the main thread still runs its signal handlers."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self._stopped.wait(1.0):
            if end is not None and time.monotonic() >= end:
                return False
        return True

    # ------------------------------------------------------------- polling threads

    def _poll(self) -> None:
        while True:
            self._polling.take()
            event = self._next_event()
            if event.completion_type == cygrpc.CompletionType.queue_shutdown:
                self._polling.hand_over()  # every thread polls once more, and ends
                return
            if event.completion_type != cygrpc.CompletionType.operation_complete:
                continue
            try:
                event.tag(event)
            except Exception as e:  # a poller must outlive any one call
                self._log.error("handling a gRPC event failed", **logs.describe_exception(e))

    def _next_event(self) -> Any:
        """The queue's next event: busy-polled while calls come back to back and none is in
        hand, until busy_poll after the last was answered; then waited for."""
        if self._back_to_back and self._reading == 0:  # read unlocked: a hint
            end = self._idle_since + self._busy_poll
            while time.monotonic() < end:
                # A deadline passed: one pass of epoll that does not wait (grpc core's cq_next,
                # src/core/lib/surface/completion_queue.cc, polls once on its first loop
                # whatever the deadline).
                event = self._queue.poll(0)
                if event.completion_type != cygrpc.CompletionType.queue_timeout:
                    return event
                os.sched_yield()
        return self._queue.poll()

    def _request(self) -> None:
        """Ask grpc core for the next call. Under _lock."""
        if not self._stopping:
            self._server.request_call(self._queue, self._queue, self._on_call)

    def _on_shutdown(self, _event: object) -> None:
        """grpc core has ended every call. The pollers stop once no handler runs: one still
        running (cancelled after the grace period) sends its end on the queue, and a batch
        started on a queue shut down fails grpc core's check (grpc_cq_begin_op), which
        aborts the process."""
        with self._lock:
            self._stopped.set()
            idle = self._reading == 0
        if idle:
            self._queue.shutdown()

    def _on_call(self, event: Any) -> None:
        if not event.success:
            return  # the server is shutting down
        with self._lock:
            self._request()
        self.last_call = time.monotonic()
        call, details = event.call, event.call_details
        if details.method not in self._methods:
            _finish(call, _status(grpc.StatusCode.UNIMPLEMENTED, _NOT_FOUND))
            return
        with self._lock:
            if self._reading == 0:
                self._back_to_back = self.last_call - self._idle_since < self._busy_poll
            if self._reading >= self._threads:
                self._waiting.append((call, details))
                return
            self._reading += 1
        self._read(call, details)

    def _read(self, call: cygrpc.Call, details: Any) -> None:
        def on_message(received: Any) -> None:
            try:
                self._answer(call, details, received)
            finally:
                self._next()

        call.start_server_batch((cygrpc.ReceiveMessageOperation(0),), on_message)

    def _next(self) -> None:
        """A call is answered: read the longest waiting, if any; once grpc core has ended
        every call and this was the last handler, shut the queue down."""
        with self._lock:
            if self._waiting:
                call, details = self._waiting.popleft()
            else:
                self._reading -= 1
                if self._reading == 0:
                    self._idle_since = time.monotonic()
                    if self._stopped.is_set():
                        self._queue.shutdown()
                return
        self._read(call, details)

    def _answer(self, call: cygrpc.Call, details: Any, received: Any) -> None:
        data = received.batch_operations[0].message() if received.success else None
        if data is None:
            if received.success:  # the client closed its side without a message
                why = _ONE_MESSAGE.format(details.method.decode()).encode()
                _finish(call, _status(grpc.StatusCode.UNIMPLEMENTED, why))
            return  # else grpc core has ended the call (cancelled, or over the size limit)
        try:
            out = self._handle(data, Context(details.deadline, self._polling))
        except AbortError as a:
            _finish(call, _status(a.code, a.details.encode()))
        except Exception as e:  # what it carries may be a secret: its type and where, only
            self._log.error("the call's handler raised", **logs.describe_exception(e))
            _finish(call, _status(grpc.StatusCode.UNKNOWN, type(e).__name__.encode()))
        else:
            _finish(
                call,
                cygrpc.SendMessageOperation(out, 0),
                _status(grpc.StatusCode.OK, b""),
            )
