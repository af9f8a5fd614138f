"""`ByteBoundedCache`: the one in-process cache of kbrank, bounded by bytes, least recently used evicted first.

Every cache that can hold something derived from a customer (personalization plans, analyzed query tokens,
conversation state) is one of these, so each has a byte bound and a `clear` that erasure can call (see
`kbrank.privacy.register_cache`). Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

__all__ = ["ByteBoundedCache"]

V = TypeVar("V")


class ByteBoundedCache(Generic[V]):
    """At most ``max_bytes`` of values (as their sizes are declared to `put`); ``max_bytes=0`` disables it.

    >>> cache = ByteBoundedCache(100)
    >>> cache.put("a", "x", 60); cache.put("b", "y", 60)
    >>> "a" in cache, "b" in cache, cache.nbytes
    (False, True, 60)
    """

    def __init__(self, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            from .errors import ParameterError

            raise ParameterError("max_bytes", "an integer >= 0", max_bytes)
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V, nbytes: int) -> None:
        """Keep ``value`` (of ``nbytes`` bytes), evicting the least recently used entries to stay in bounds.
        A value larger than the whole bound is not kept."""
        if nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                _, (_, size) = self._entries.popitem(last=False)
                self._bytes -= size

    def clear(self, *_: object) -> int:
        """Drop everything; returns how many entries were dropped (usable directly as an erasure hook)."""
        with self._lock:
            dropped = len(self._entries)
            self._entries.clear()
            self._bytes = 0
            return dropped

    @property
    def nbytes(self) -> int:
        """The bytes held now (the sum of the declared sizes)."""
        return self._bytes

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"ByteBoundedCache({len(self)} entries, {self._bytes} of {self.max_bytes} bytes)"
