"""Encoding a query on the search path: one encode at a time per encoder.

A query encoder (torch) already spreads one forward pass over every core it is allowed. Two client threads
encoding at once on the same model start two OpenMP teams of that size, so on 2 cores four threads share two
cores, and every barrier inside the forward pass waits for a descheduled thread. Serializing the encodes (the
rest of a search, BM25 and faiss, still runs in parallel: both release the GIL) keeps each encode at full
speed, so a searcher serving N threads answers at least as many queries per second as it does for one.

`encode_query` is what `kbrank.Searcher` and `HybridRetriever` call; the lock belongs to the encoder object
(`encode_lock`), so every searcher and index sharing a model shares its lock, and it goes away with the
encoder. Processes do not share it: with P worker processes on C cores, give each ``C // P`` torch threads
(``torch.set_num_threads`` in the worker, or ``OMP_NUM_THREADS``); see the README's "Serving" section.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

__all__ = ["encode_lock", "encode_query"]

_LOCKS: "weakref.WeakKeyDictionary[Any, threading.Lock]" = weakref.WeakKeyDictionary()
_SHARED = threading.Lock()  # for encoders that cannot be weakly referenced
_GUARD = threading.Lock()


def encode_lock(encoder: Any) -> threading.Lock:
    """The lock that serializes query encodes on ``encoder`` (created on first use)."""
    with _GUARD:
        try:
            lock = _LOCKS.get(encoder)
            if lock is None:
                lock = _LOCKS[encoder] = threading.Lock()
        except TypeError:  # not weakly referenceable or not hashable: one shared lock
            lock = _SHARED
        return lock


def encode_query(dense: Any, query: str) -> np.ndarray:
    """``dense.encode_query(query)``, one at a time per encoder (see the module docstring)."""
    with encode_lock(dense.encoder_):
        vector: np.ndarray = dense.encode_query(query)
    return vector
