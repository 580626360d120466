"""What one server process takes on at once: the bytes of the requests it holds, and one
call composing at a time.

A request costs memory far beyond its bytes while it is composed (the parsed message, the
Python objects of every Struct read, the response): ten to fifteen times its size for one
made of many small fields. Two bounds keep a process within its memory limit whatever
mix of requests arrives:

- `Admission`: the bytes of the requests in flight (received and not yet answered) stay
  within a budget. A request that would pass it is refused at once with
  RESOURCE_EXHAUSTED (the runner), unless nothing else is in flight: a request of any
  size gRPC accepts is served when the process is free for it. Refusing rather than
  waiting keeps the bound: a waiting request's bytes are held too. Crossplane treats the
  error as a failed reconcile and requeues the XR with backoff.
- `Turn`: one call composes at a time; a call gives its turn up while it waits on
  something else (Vault, the Kubernetes API). Python runs one thread at a time anyway (the
  GIL), so this costs no throughput; it keeps only one request's working memory alive at
  once, and it leaves grpc's own thread, which takes new calls off the connection, a
  free interpreter most of the time (function/server.py's shutdown relies on it).
"""

import contextlib
import threading
from collections.abc import Iterator


class BusyError(Exception):
    """The process cannot take this call now."""


class Admission:
    """The bytes of the requests in flight, within `budget` (0: unbounded)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.in_flight = 0
        self._lock = threading.Lock()

    def hold(self, size: int) -> "_Held":
        """Count size bytes in flight for the block; BusyError when they would pass the
        budget while another request is in flight."""
        with self._lock:
            if self.budget and self.in_flight and self.in_flight + size > self.budget:
                raise BusyError(
                    f"the function holds {_mib(self.in_flight)} of requests, and this one of "
                    f"{_mib(size)} would pass its budget of {_mib(self.budget)} "
                    "(--in-flight-mib); retried on a later reconcile"
                )
            self.in_flight += size
        return _Held(self, size)

    def _release(self, size: int) -> None:
        with self._lock:
            self.in_flight -= size


class _Held:
    """Bytes counted in flight until the block ends (a class, not a generator: it is entered
    on every call)."""

    def __init__(self, admission: Admission, size: int) -> None:
        self.admission = admission
        self.size = size

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        self.admission._release(self.size)


class Turn:
    """One call composes at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def take(self, timeout: float | None = None) -> bool:
        """Wait for the turn (at most timeout seconds); whether it was taken. A call without a
        deadline has one centuries away (grpc's time_remaining), past what a lock waits."""
        if timeout is None or timeout >= threading.TIMEOUT_MAX:
            return self._lock.acquire()
        return self._lock.acquire(timeout=max(timeout, 0))

    def give(self) -> None:
        self._lock.release()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Give the turn up for the block (a wait on something else), then wait for it."""
        self.give()
        try:
            yield
        finally:
            self.take()


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
