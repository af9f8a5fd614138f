"""Conversation state: what the chat retriever remembers between the turns of a named conversation.

Only product ids and counts are kept, never the conversation's text: the products in focus, the options of
the clarifying question asked last (so that "the second one" resolves even when the caller passes plain
text turns) and how many customer turns were seen. Each entry belongs to a customer, by pseudonym
(`ProfileGateway.pseudonymize`), so that `erase_customer` (registered as a gateway erasure hook) removes
their conversations. The store is bounded in bytes (its entries' JSON size), least recently used first out.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from .._params import check_int

__all__ = ["ConversationState", "ConversationStore"]


@dataclass(frozen=True)
class ConversationState:
    customer: str
    products: tuple[str, ...] = ()
    asked: tuple[str, ...] = ()
    turns: int = 0

    def nbytes(self) -> int:
        return len(json.dumps([self.customer, self.products, self.asked, self.turns]).encode()) + 64


class ConversationStore:
    """Conversation states by conversation id, at most ``max_bytes`` in all (1 MiB by default)."""

    def __init__(self, max_bytes: int = 1 << 20) -> None:
        check_int("max_bytes", max_bytes, 0)
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, ConversationState] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, conversation: str) -> ConversationState | None:
        with self._lock:
            state = self._entries.get(conversation)
            if state is not None:
                self._entries.move_to_end(conversation)
            return state

    def put(self, conversation: str, state: ConversationState) -> None:
        with self._lock:
            old = self._entries.pop(conversation, None)
            if old is not None:
                self._bytes -= old.nbytes() + len(conversation)
            size = state.nbytes() + len(conversation)
            if size > self.max_bytes:
                return
            self._entries[conversation] = state
            self._bytes += size
            while self._bytes > self.max_bytes:
                key, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes() + len(key)

    def forget(self, conversation: str) -> bool:
        """Drop one conversation; whether it was held."""
        with self._lock:
            state = self._entries.pop(conversation, None)
            if state is not None:
                self._bytes -= state.nbytes() + len(conversation)
            return state is not None

    def erase_customer(self, pseudonym: str) -> int:
        """Drop every conversation of the customer with this pseudonym; returns how many (an erasure hook)."""
        with self._lock:
            keys = [k for k, s in self._entries.items() if s.customer == pseudonym]
            for key in keys:
                self._bytes -= self._entries.pop(key).nbytes() + len(key)
            return len(keys)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, conversation: object) -> bool:
        return conversation in self._entries
