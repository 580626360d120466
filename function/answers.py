"""Answers remembered by request, for the reconciles that send the same request again.

Crossplane calls the function on every reconcile of an XR (each poll interval, each
watch event), and while nothing it observes has changed it sends the same request:
the same XR, observed and required resources, input and credentials. The answer is
then a pure function of the request's bytes, since composing is deterministic,
unless composing it read the clock (a preview's expiry), or went to Vault or the
API server (state outside the request, and side effects that must happen on every
call). Such a call marks itself volatile and its answer is never kept.

Keys are BLAKE2b-256 digests of the request's deterministic serialization (map entries
in key order): Crossplane, in Go, writes maps (observed resources, every Struct's
fields) in random order, so equal requests seldom arrive as equal bytes. One XR's
answer cannot be served for another's request: the digest covers its name, namespace,
uid and credentials. Entries are bounded in bytes (function/lru.py) and live in the
process.
"""

import contextvars
import hashlib
from collections.abc import Callable
from typing import TypeVar

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.lru import ByteLRU

T = TypeVar("T")

# The default of --response-cache-mib: a few thousand answers of a typical size.
DEFAULT_BUDGET_MIB = 32
# One answer may take at most this share of the budget: a huge XR cannot evict the rest.
_MAX_ENTRY_SHARE = 8

_volatile: contextvars.ContextVar[bool] = contextvars.ContextVar("volatile", default=False)


def mark_volatile() -> None:
    """Say that the answer being composed depends on more than its request."""
    _volatile.set(True)


def run_tracked(compose: Callable[[], T]) -> tuple[T, bool]:
    """Run compose in a context of its own; its result and whether it marked itself volatile."""
    context = contextvars.Context()
    result = context.run(compose)
    return result, context.get(_volatile, False)


def key(req: fnv1.RunFunctionRequest) -> bytes:
    """The request's digest, the same for every order its maps were written in."""
    return hashlib.blake2b(req.SerializeToString(deterministic=True), digest_size=32).digest()


class Answers:
    """Serialized responses by the digest of their serialized request."""

    def __init__(self, budget_mib: float = DEFAULT_BUDGET_MIB) -> None:
        budget = int(budget_mib * 1024 * 1024)
        self.entries = ByteLRU(budget, budget // _MAX_ENTRY_SHARE)

    @property
    def enabled(self) -> bool:
        return self.entries.budget > 0

    def get(self, request_key: bytes) -> bytes | None:
        return self.entries.get(request_key) if self.enabled else None

    def put(self, request_key: bytes, response: bytes) -> None:
        if self.enabled:
            self.entries.put(request_key, response)
