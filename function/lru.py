"""The one cache mechanism: a thread-safe LRU bounded by the memory its entries hold.

The Struct conversions (function/structs.py), the response cache (function/response_cache.py)
and the parsed settings (function/input.py) each hold one. An entry costs what the process
holds for it: its key and value as the interpreter stores them (sys.getsizeof for bytes,
the whole object graph for a parsed value, `deep_size`) plus the bookkeeping of the
OrderedDict that orders the entries, ENTRY_OVERHEAD. A cache's budget is therefore the
memory it may take, not the length of what it stores.
"""

import sys
import threading
import types
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Bytes an entry holds besides its key and value: the OrderedDict's node and slot (with the
# slack a dict keeps after growing) and the (value, cost) pair stored in it. tracemalloc
# measures 150 to 200 on CPython 3.11 between resizes; 224 adds the allocator's rounding of
# the key and the value (16 bytes each at most).
ENTRY_OVERHEAD = 224

# Objects shared by the whole process, never held by one entry.
_SHARED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)


def deep_size(value: object) -> int:
    """Bytes held by value and everything it reaches (containers, objects' attributes and
    slots), each object counted once. Classes, modules and functions are shared, not held."""
    seen: set[int] = set()
    stack = [value]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SHARED):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif not isinstance(obj, str | bytes | int | float | bool):
            attributes = getattr(obj, "__dict__", None)
            if attributes is not None:
                stack.append(attributes)
            for cls in type(obj).__mro__:
                for slot in getattr(cls, "__slots__", ()):
                    if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                        stack.append(getattr(obj, slot))
    return total


class LRU(Generic[K, V]):
    """Least recently used entries go first once the entries' costs pass `budget` bytes; an
    entry costing more than `max_entry` is never kept (it is computed, just not kept)."""

    def __init__(self, budget: int, max_entry: int | None = None) -> None:
        self.budget = budget
        self.max_entry = budget if max_entry is None else min(max_entry, budget)
        self.size = 0
        self.hits = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: K, value: V, cost: int | None = None) -> None:
        """Keep value under key. cost: the bytes key and value hold (default: both as
        sys.getsizeof counts them, exact for bytes and str); the entry's own overhead is
        added here."""
        held = sys.getsizeof(key) + sys.getsizeof(value) if cost is None else cost
        held += ENTRY_OVERHEAD
        if held > self.max_entry:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:  # replaced (an answer past its time)
                self.size -= old[1]
            self._entries[key] = (value, held)
            self.size += held
            while self.size > self.budget:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.size -= dropped


class ByteLRU(LRU[bytes, bytes]):
    """An LRU from bytes to bytes: an entry costs the two bytes objects and its overhead."""
