"""An on-disk cache of passage embeddings, so re-indexing unchanged text encodes nothing.

Entries are keyed by (encoder fingerprint, passage key). The passage key is the sha256 of the exact text
that was encoded, which is the passage's content hash: it changes exactly when the article's content
(`Article.content_key`) or the passage settings change what is encoded, and identical passages in two
articles share one vector.

Layout (no pickle)::

    CACHE_DIR/<fingerprint[:32]>/seg.<digest16>.npy     float32 vectors, shape (n, dim)
    CACHE_DIR/<fingerprint[:32]>/seg.<digest16>.jsonl   line 1: header {"format", "fingerprint", "dim",
                                                         "rows", "sha256" of the .npy}; then one key per line

Each commit adds one segment (`encode_documents` commits every ``flush_every`` texts, 1,024 by default, so an
interrupted build keeps what it encoded): the ``.npy`` is written atomically first, then the ``.jsonl``, whose arrival
commits the segment. A reader ignores segments without their ``.jsonl`` or whose ``.npy`` fails the
checksum (a cache can always be recomputed). When segments pile up they are merged into one.
Concurrent writers never corrupt the cache (segment names are content digests); at worst they repeat work.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .._io import atomic_open, sha256_file
from .._params import check_int
from .encoders import Encoder, checked_vectors
from .model_cache import cache_root

__all__ = ["EmbeddingCache", "default_embedding_cache_dir", "encode_documents", "passage_key"]

FORMAT = "kbrank-embedding-cache"
FORMAT_VERSION = 1
_MAX_SEGMENTS = 32
_SEGMENT = re.compile(r"seg\.[0-9a-f]{16}\.(npy|jsonl)")
#: Texts per call to ``encode_documents`` (one progress tick); the encoder batches inside a call.
ENCODE_CHUNK = 256
#: Texts encoded between two cache commits (each commit adds one segment), the default of ``flush_every``.
CACHE_FLUSH = 1024


def default_embedding_cache_dir() -> Path:
    """kbrank's own embedding cache, shared by the demo, ``kbrank chat``, the benchmarks and the BEIR
    reproduction: ``embeddings`` under ``$KBRANK_CACHE_DIR``, else under ``~/.cache/kbrank``."""
    return cache_root() / "embeddings"


Progress = Callable[[int, int], None]


def passage_key(text: str) -> str:
    """The cache key of an encoded passage text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingCache:
    """Vectors of one encoder (by fingerprint) stored under ``path``.

    >>> import tempfile
    >>> cache = EmbeddingCache(tempfile.mkdtemp(), fingerprint="f" * 64, dim=2)
    >>> cache.put(["k1"], np.array([[0.6, 0.8]], np.float32))
    >>> vectors, found = cache.get(["k1", "k2"])
    >>> found.tolist(), vectors[0].tolist()
    ([True, False], [0.6000000238418579, 0.800000011920929])
    """

    def __init__(self, path: str | os.PathLike[str], *, fingerprint: str, dim: int) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.dim = int(dim)
        self.folder = self.path / fingerprint[:32]
        self._segments: list[np.ndarray] = []
        self._names: list[str] = []
        self._where: dict[str, tuple[int, int]] = {}
        self._loaded = False

    # -- reading -----------------------------------------------------------------------------------
    def _read_segment(self, keys_path: Path) -> tuple[np.ndarray, list[str]] | None:
        try:
            with open(keys_path, encoding="utf-8") as handle:
                header = json.loads(handle.readline())
                keys = [json.loads(line) for line in handle if line.strip()]
            vectors_path = keys_path.with_suffix(".npy")
            if (header.get("format") != FORMAT or header.get("format_version") != FORMAT_VERSION
                    or header.get("fingerprint") != self.fingerprint or header.get("dim") != self.dim
                    or header.get("rows") != len(keys) or sha256_file(vectors_path) != header.get("sha256")):
                return None
            vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, AttributeError):  # missing, truncated or foreign files
            return None
        if vectors.dtype != np.float32 or vectors.shape != (len(keys), self.dim):
            return None
        return vectors, keys

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self.folder.is_dir():
            return
        for keys_path in sorted(self.folder.glob("seg.*.jsonl")):
            segment = self._read_segment(keys_path)
            if segment is not None:
                self._index_segment(keys_path.stem, *segment)

    def _index_segment(self, name: str, vectors: np.ndarray, keys: Sequence[str]) -> None:
        number = len(self._segments)
        self._segments.append(vectors)
        self._names.append(name)
        for row, key in enumerate(keys):
            self._where.setdefault(key, (number, row))

    def __len__(self) -> int:
        self._load()
        return len(self._where)

    def __contains__(self, key: object) -> bool:
        self._load()
        return key in self._where

    def get(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(vectors, found)``: vectors of shape ``(len(keys), dim)`` (zeros where not found) and a mask."""
        self._load()
        vectors = np.zeros((len(keys), self.dim), np.float32)
        found = np.zeros(len(keys), bool)
        by_segment: dict[int, tuple[list[int], list[int]]] = {}
        for position, key in enumerate(keys):
            hit = self._where.get(key)
            if hit is not None:
                targets, rows = by_segment.setdefault(hit[0], ([], []))
                targets.append(position)
                rows.append(hit[1])
        for number, (targets, rows) in by_segment.items():
            vectors[targets] = self._segments[number][rows]
            found[targets] = True
        return vectors, found

    # -- writing -----------------------------------------------------------------------------------
    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` under ``keys`` (keys already cached are skipped) as one new segment."""
        self._load()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.dim):
            raise ValueError(f"expected vectors of shape ({len(keys)}, {self.dim}), got {vectors.shape}")
        fresh: dict[str, int] = {}
        for position, key in enumerate(keys):
            if key not in self._where and key not in fresh:
                fresh[key] = position
        if not fresh:
            return
        self._write_segment(list(fresh), vectors[list(fresh.values())])
        if len(self._segments) > _MAX_SEGMENTS:
            self.compact()

    def _write_segment(self, keys: list[str], vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        digest.update(vectors.tobytes())
        digest.update("\n".join(keys).encode())
        name = f"seg.{digest.hexdigest()[:16]}"
        with atomic_open(self.folder / f"{name}.npy", "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        header = {"format": FORMAT, "format_version": FORMAT_VERSION, "fingerprint": self.fingerprint,
                  "dim": self.dim, "rows": len(keys), "sha256": sha256_file(self.folder / f"{name}.npy")}
        with atomic_open(self.folder / f"{name}.jsonl", "w") as handle:
            handle.write(json.dumps(header, sort_keys=True) + "\n")
            for key in keys:
                handle.write(json.dumps(key) + "\n")
        self._index_segment(name, np.load(self.folder / f"{name}.npy", mmap_mode="r", allow_pickle=False), keys)

    def compact(self, keep: Sequence[str] | None = None) -> None:
        """Merge all segments into one; with ``keep``, drop every key not in it (to forget stale text).

        Damaged segments are deleted too (so is a segment another process is writing at that moment:
        its vectors are simply encoded again next time).
        """
        self._load()
        keys = list(self._where) if keep is None else [k for k in dict.fromkeys(keep) if k in self._where]
        vectors, _ = self.get(keys)
        self._segments, self._names, self._where = [], [], {}
        if keys:
            self._write_segment(keys, vectors)
        current = {f"{name}{ext}" for name in self._names for ext in (".jsonl", ".npy")}
        if not self.folder.is_dir():
            return
        # each .jsonl before its .npy, so a crash never leaves a committed segment without vectors
        for path in sorted(self.folder.glob("seg.*"), key=lambda p: p.suffix != ".jsonl"):
            if path.name not in current and _SEGMENT.fullmatch(path.name):  # only names this cache writes
                path.unlink(missing_ok=True)


def _chunk_size(encoder: Encoder, flush_every: int) -> int:
    """Texts per ``encode_documents`` call: `ENCODE_CHUNK` (or ``flush_every`` if smaller) rounded down to a
    multiple of the encoder's batch size (when it has one), so every forward pass holds exactly the texts a
    single bare call over all texts would batch together."""
    size = min(ENCODE_CHUNK, flush_every)
    batch = getattr(encoder, "batch_size", None)
    if isinstance(batch, int) and not isinstance(batch, bool) and batch > 0:
        return max(batch, size // batch * batch)
    return size


def encode_documents(encoder: Encoder, texts: Sequence[str], *, cache_dir: str | os.PathLike[str] | None = None,
                     progress: Progress | None = None, flush_every: int = CACHE_FLUSH) -> np.ndarray:
    """Unit float32 vectors for ``texts``: from the cache in ``cache_dir`` where present, encoded otherwise.

    Identical texts are encoded once. The texts left to encode are sorted by length (longest first, as
    sentence-transformers sorts within a call) before they are cut into calls of `ENCODE_CHUNK` texts, so
    batches are padded no more than in one bare ``SentenceTransformer.encode`` over all of them.
    ``progress(done, total)`` is called after each call (cache hits count as done from the start). New
    vectors are committed to the cache every ``flush_every`` texts (one atomic segment each), so an
    interrupted build resumes with what it had encoded.
    """
    check_int("flush_every", flush_every, 1)
    dim = int(encoder.dim)
    total = len(texts)
    out = np.zeros((total, dim), np.float32)
    cache = None if cache_dir is None else EmbeddingCache(cache_dir, fingerprint=encoder.fingerprint, dim=dim)
    keys = [passage_key(t) for t in texts] if cache is not None else []
    todo = np.arange(total)
    if cache is not None:
        cached, found = cache.get(keys)
        out[found] = cached[found]
        todo = np.flatnonzero(~found)
    first: dict[str, int] = {}
    for position in todo.tolist():
        first.setdefault(texts[position], position)
    unique = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    lengths = np.fromiter((len(texts[p]) for p in unique.tolist()), dtype=np.int64, count=unique.size)
    unique = unique[np.argsort(-lengths, kind="stable")].tolist()
    done = total - len(todo)
    if progress is not None:
        progress(done, total)
    pending: list[int] = []
    step = _chunk_size(encoder, flush_every)
    for start in range(0, len(unique), step):
        chunk = unique[start : start + step]
        vectors = encoder.encode_documents([texts[p] for p in chunk])
        out[chunk] = checked_vectors(vectors, len(chunk), dim, "encode_documents")
        pending.extend(chunk)
        if cache is not None and (len(pending) >= flush_every or start + step >= len(unique)):
            cache.put([keys[p] for p in pending], out[pending])
            pending = []
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    duplicates = [p for p in todo.tolist() if first[texts[p]] != p]
    if duplicates:
        out[duplicates] = out[[first[texts[p]] for p in duplicates]]
        if progress is not None:
            progress(total, total)
    return out
