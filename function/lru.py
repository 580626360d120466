"""A thread-safe LRU from bytes to bytes, bounded by the total size of its entries.

The one cache mechanism: the Struct conversions (function/structs.py) and the response
cache (function/response_cache.py) each hold one.
"""

import threading
from collections import OrderedDict


class ByteLRU:
    """Least recently used entries go first once keys and values together pass `budget` bytes;
    an entry larger than `max_entry` is never kept (it is computed, just not kept)."""

    def __init__(self, budget: int, max_entry: int | None = None) -> None:
        self.budget = budget
        self.max_entry = budget if max_entry is None else min(max_entry, budget)
        self.size = 0
        self.hits = 0
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return value

    def put(self, key: bytes, value: bytes) -> None:
        cost = len(key) + len(value)
        if cost > self.max_entry:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:  # replaced (an answer past its time)
                self.size -= len(key) + len(old)
            self._entries[key] = value
            self.size += cost
            while self.size > self.budget:
                old_key, old = self._entries.popitem(last=False)
                self.size -= len(old_key) + len(old)
