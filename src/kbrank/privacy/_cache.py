"""A small LRU cache of decoded profiles for the gateway's single reads.

It holds profiles *without* addresses (contact reads always go to the store), and it is emptied whenever
the store's generation changes, so a consent withdrawn by another process is seen on the next read.
Erasure removes the customer's entry and reports it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .profiles import CustomerProfile

__all__ = ["ProfileCache"]


class ProfileCache:
    """At most ``size`` profiles, least recently used evicted first; ``size=0`` disables it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, CustomerProfile] = OrderedDict()
        self._generation: int | None = None
        self._lock = threading.Lock()

    def get(self, pseudonym: str, generation: int) -> CustomerProfile | None:
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
                return None
            profile = self._entries.get(pseudonym)
            if profile is not None:
                self._entries.move_to_end(pseudonym)
            return profile

    def put(self, profile: CustomerProfile, generation: int) -> None:
        if self.size <= 0:
            return
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
            self._entries[profile.id] = profile
            self._entries.move_to_end(profile.id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, pseudonym: str) -> int:
        """Drop one customer; returns 1 if they were cached, else 0."""
        with self._lock:
            return 1 if self._entries.pop(pseudonym, None) is not None else 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation = None

    def __contains__(self, pseudonym: object) -> bool:
        with self._lock:
            return pseudonym in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
