"""Watches for the reconcile-loop benchmark (harness/loop.py): a fast simulated provider and
the tracker of the XRs' Synced and Ready conditions.

The providers the kinds compose for (provider-helm and the rest) cannot run here. The
simulated provider watches the composed managed resources' kinds and, as soon as one appears
without Ready=True, writes the status the kind's `ready` example observed for it (Synced and
Ready True, what the provider reports once done). It is not what is measured: it answers
both functions' resources alike, at once, so the loop's figures are core's and the function's.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from harness.cases import JSON
from harness.controlplane import ControlPlane

# Server-side timeout of one watch request; the watch is made again until stopped.
WATCH_SECONDS = 5
# Watches failing in a row before the watch gives up and reports the error.
FAILURES = 10
# What a busy API server answers a watch with while its watch cache is behind etcd, as an ERROR
# event: 504 "Too large resource version" (kubernetes v1.35.4
# staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go waitUntilFreshAndBlock), and
# 410 Gone for a resourceVersion it no longer holds. Neither is a failure: a new watch lists
# every object again (ADDED events), so nothing is missed.
CACHE_BEHIND = (410, 504)


def condition_true(obj: JSON, typ: str) -> bool:
    """Whether obj's status holds condition `typ` with status True."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == typ and c.get("status") == "True" for c in conditions)


class Watch(threading.Thread):
    """Calls handle(event type, object) for every object of the kind, in every namespace,
    as it is added, changed or deleted, until stop()."""

    def __init__(
        self, plane: ControlPlane, api_version: str, kind: str, handle: Callable[[str, JSON], None]
    ) -> None:
        super().__init__(daemon=True, name=f"watch {kind}")
        self.resource = plane.resource(api_version, kind)
        self.handle = handle
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        failures = 0
        while not self.stopped.is_set():
            try:
                self._watch_once()
                failures = 0
            except Exception as e:  # a dropped watch is made again; only a lasting failure ends it
                busy = isinstance(e, ApiException) and e.status in CACHE_BEHIND
                if not busy:  # a busy server is not failing: watch again once it has caught up
                    failures += 1
                    if failures >= FAILURES:
                        self.error = e
                        return
                time.sleep(1)

    def _watch_once(self) -> None:
        # A new watch starts with an ADDED event for each object that exists, so nothing
        # changed between two watches is missed. The read timeout ends a watch the server
        # leaves open past its own timeout.
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            self.resource.get,
            serialize=False,
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=3 * WATCH_SECONDS,
        )
        for event in stream:
            if self.stopped.is_set():
                return
            obj = event["object"]
            # ERROR events carry a Status, not an object (an expired resourceVersion).
            if event["type"] != "ERROR" and isinstance(obj, dict) and "metadata" in obj:
                self.handle(str(event["type"]), obj)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=2 * WATCH_SECONDS)


class SimulatedProvider:
    """Writes `status` (by apiVersion and kind) on each composed object that lacks Ready=True."""

    def __init__(self, plane: ControlPlane, statuses: dict[tuple[str, str], JSON]) -> None:
        self.plane = plane
        self.statuses = statuses
        self.pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="provider")
        self.watches = [
            Watch(plane, api_version, kind, self._seen) for api_version, kind in sorted(statuses)
        ]
        self.pending: set[str] = set()
        self.lock = threading.Lock()

    def start(self) -> SimulatedProvider:
        for w in self.watches:
            w.start()
        return self

    def stop(self) -> None:
        for w in self.watches:
            w.stop()
        self.pool.shutdown(wait=True)

    def _seen(self, typ: str, obj: JSON) -> None:
        if typ == "DELETED" or condition_true(obj, "Ready"):
            return
        uid = obj["metadata"]["uid"]
        with self.lock:
            if uid in self.pending:
                return
            self.pending.add(uid)
        self.pool.submit(self._answer, obj)

    def _answer(self, obj: JSON) -> None:
        try:
            status = self.statuses[(obj["apiVersion"], obj["kind"])]
            self.plane.patch_status(obj, status)
        except Exception:  # gone meanwhile; a new watch event retries anything else
            pass
        finally:
            with self.lock:
                self.pending.discard(obj["metadata"]["uid"])


class Convergence:
    """Tracks the XRs of a kind named in `expected` ((namespace, name)) until every one is
    Synced=True and Ready=True; `done` is set then, `done_at` is its time.monotonic()."""

    def __init__(
        self, plane: ControlPlane, api_version: str, kind: str, expected: set[tuple[str, str]]
    ) -> None:
        self.expected = expected
        self.converged: set[tuple[str, str]] = set()
        self.done = threading.Event()
        self.done_at = 0.0
        self.on_done: Callable[[], Any] = lambda: None
        self.watch = Watch(plane, api_version, kind, self._seen)

    def _seen(self, typ: str, obj: JSON) -> None:
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if key not in self.expected:
            return
        if typ != "DELETED" and condition_true(obj, "Synced") and condition_true(obj, "Ready"):
            self.converged.add(key)
        else:
            self.converged.discard(key)
        if len(self.converged) == len(self.expected) and not self.done.is_set():
            self.done_at = time.monotonic()
            self.on_done()
            self.done.set()
