"""`TermCounts`: the raw term frequencies of an analyzed corpus, by term (CSC), in compact integer arrays.

It is both what BM25 searches (the compiled kernels compute each weight from a count and the article's
length, see `kbrank.index.bm25_weights`) and what edits rebuild from, so the index holds one copy of its
postings. Layout, numpy arrays:

- ``col_ptr``  int64, ``n_terms + 1``: term ``t`` owns entries ``col_ptr[t]:col_ptr[t+1]``
- ``rows``     int32: the article row of each entry, strictly increasing within a term
- ``counts``   uint8, uint16 or uint32 (the smallest that holds the largest count): how often the term occurs
- ``ranks``    uint8, uint16 or uint32 likewise: the term's place among its article's distinct terms, in the
  order they first occur in the article's tokens
- ``doc_len``  int64: number of tokens per article (rank_bm25's document length)
- ``terms``    the vocabulary, term id -> string; ``vocab`` is the reverse mapping

Term ids are numbered in the order rank_bm25 first meets the terms (article by article, token by token): the
entry with the smallest (row, rank) comes first. That fixes rank_bm25's order of summation for the average IDF
(and so its epsilon rule) after any sequence of edits, and ``ranks`` is what keeps it exact when the article
that introduced a term is edited away. Terms no article uses any more are dropped, so the vocabulary always
equals the one a full rebuild would have.

Edits (`appended`, `replaced`, `deleted`) return a new object (they never write into the arrays, which may be
read-only memory maps of a saved index) and never re-analyze unchanged articles.
"""

from __future__ import annotations

import gc
import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

__all__ = ["TermCounts", "compact_uint"]

_CHUNK_DOCS = 32_768


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building millions of small objects (it makes bulk builds super-linear)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compact_uint(values: np.ndarray) -> np.ndarray:
    """``values`` (all >= 0) in the smallest of uint8, uint16, uint32 that holds them.

    >>> compact_uint(np.array([1, 255])).dtype, compact_uint(np.array([256])).dtype
    (dtype('uint8'), dtype('uint16'))
    """
    top = int(values.max()) if values.size else 0
    dtype = np.uint8 if top <= 0xFF else np.uint16 if top <= 0xFFFF else np.uint32
    return values.astype(dtype, copy=False)


def _grouped(keys: np.ndarray, n_keys: int, a: np.ndarray, b: np.ndarray, c: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(ptr, a, b, c)`` stably grouped by ``keys`` (a counting sort, O(n), compiled)."""
    from ._bm25_postings import group_by

    ptr = np.zeros(n_keys + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n_keys), out=ptr[1:])
    outs = (np.empty_like(a), np.empty_like(b), np.empty_like(c))
    group_by(keys, ptr, a, b, c, *outs)
    return (ptr, *outs)


@dataclass(frozen=True)
class TermCounts:
    col_ptr: np.ndarray
    rows: np.ndarray
    counts: np.ndarray
    ranks: np.ndarray
    doc_len: np.ndarray
    terms: tuple[str, ...]

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_tokens(cls, token_lists: Sequence[Sequence[str]]) -> TermCounts:
        """Count terms; ids are assigned in order of first occurrence across the corpus."""
        vocab: dict[str, int] = {}
        entries = cls._count(token_lists, vocab, first_row=0)
        return cls._from_entries(*entries, terms=tuple(vocab), by_row=True)

    @staticmethod
    def _count(token_lists: Sequence[Sequence[str]], vocab: dict[str, int], *, first_row: int
               ) -> tuple[np.ndarray, ...]:
        """Entries ``(terms, rows, counts, ranks, doc_len)`` of these articles, article by article; new terms
        get the next ids of ``vocab`` in first-occurrence order."""
        parts: list[tuple[np.ndarray, ...]] = []
        len_parts = [np.empty(0, np.int64)]
        with _gc_paused():
            for start in range(0, len(token_lists), _CHUNK_DOCS):
                chunk = token_lists[start : start + _CHUNK_DOCS]
                lengths = np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))
                # Both passes run at C speed: dict.fromkeys keeps first occurrences in order, so new terms get
                # ids in the order rank_bm25 meets them; map(vocab.__getitem__) looks every token up.
                for token in dict.fromkeys(itertools.chain.from_iterable(chunk)):
                    if token not in vocab:
                        vocab[token] = len(vocab)
                flat = np.fromiter(map(vocab.__getitem__, itertools.chain.from_iterable(chunk)), dtype=np.int64,
                                   count=int(lengths.sum()))
                width = max(len(vocab), 1)
                doc_of = np.repeat(np.arange(len(chunk), dtype=np.int64), lengths)
                uniq, first, cnt = np.unique(doc_of * width + flat, return_index=True, return_counts=True)
                del doc_of, flat
                order = np.argsort(first, kind="stable")  # first-occurrence order within each article
                uniq, cnt = uniq[order], cnt[order]
                docs = uniq // width
                starts = np.zeros(len(chunk) + 1, np.int64)
                np.cumsum(np.bincount(docs, minlength=len(chunk)), out=starts[1:])
                ranks = np.arange(docs.shape[0], dtype=np.int64) - starts[docs]
                parts.append(((uniq % width).astype(np.int32), (docs + first_row + start).astype(np.int32),
                              compact_uint(cnt), compact_uint(ranks)))  # 10 bytes an entry while building
                len_parts.append(lengths)
        if not parts:
            empty = np.empty(0, np.int64)
            return empty.astype(np.int32), empty.astype(np.int32), empty, empty, np.concatenate(len_parts)
        return (*(np.concatenate([p[i] for p in parts]) for i in range(4)), np.concatenate(len_parts))

    @classmethod
    def _from_entries(cls, terms_of: np.ndarray, rows: np.ndarray, counts: np.ndarray, ranks: np.ndarray,
                      doc_len: np.ndarray, *, terms: tuple[str, ...], by_row: bool) -> TermCounts:
        """The counts of these entries (any order unless ``by_row``: already sorted by row), renumbered in
        first-occurrence order with unused terms dropped."""
        counts, ranks = compact_uint(counts), compact_uint(ranks)
        if not by_row:
            ptr, terms_of, counts, ranks = _grouped(rows, int(doc_len.shape[0]), terms_of, counts, ranks)
            rows = np.repeat(np.arange(doc_len.shape[0], dtype=np.int32), np.diff(ptr))
        col_ptr, rows, counts, ranks = _grouped(terms_of, len(terms), rows.astype(np.int32, copy=False),
                                                counts, ranks)
        return cls(col_ptr, rows, counts, ranks, doc_len.astype(np.int64, copy=False), terms)._compacted()

    # -- shape -------------------------------------------------------------------------------------
    @property
    def n_docs(self) -> int:
        return int(self.doc_len.shape[0])

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    @property
    def nnz(self) -> int:
        return int(self.rows.shape[0])

    @property
    def vocab(self) -> dict[str, int]:
        cached = self.__dict__.get("_vocab")
        if cached is None:
            cached = {term: i for i, term in enumerate(self.terms)}
            object.__setattr__(self, "_vocab", cached)
        return cached

    def doc_freqs(self) -> np.ndarray:
        return np.diff(self.col_ptr)

    def nbytes(self) -> int:
        """Bytes held by the arrays (not the vocabulary strings)."""
        return sum(a.nbytes for a in (self.col_ptr, self.rows, self.counts, self.ranks, self.doc_len))

    def _entries(self) -> tuple[np.ndarray, ...]:
        """``(terms, rows, counts, ranks)`` of every entry, sorted by (term, row)."""
        terms_of = np.repeat(np.arange(self.n_terms, dtype=np.int32), np.diff(self.col_ptr))
        return terms_of, self.rows, self.counts, self.ranks

    # -- edits (return new objects) ----------------------------------------------------------------
    def appended(self, token_lists: Sequence[Sequence[str]]) -> TermCounts:
        vocab = dict(self.vocab)
        fresh = self._count(token_lists, vocab, first_row=self.n_docs)
        # New rows come after every old one, so within each term old-then-new entries are in row order: a
        # stable grouping by term (``by_row``) sorts them.
        terms_of, rows, counts, ranks = (np.concatenate([old, new]) for old, new in zip(self._entries(), fresh[:4]))
        return self._from_entries(terms_of, rows, counts, ranks, np.concatenate([self.doc_len, fresh[4]]),
                                  terms=tuple(vocab), by_row=True)

    def replaced(self, rows: Sequence[int], token_lists: Sequence[Sequence[str]]) -> TermCounts:
        """Replace the given rows' tokens (rows keep their position)."""
        vocab = dict(self.vocab)
        fresh = self._count(token_lists, vocab, first_row=0)
        targets = np.asarray(list(rows), dtype=np.int64)
        old_terms, old_rows, old_counts, old_ranks = self._entries()
        keep = np.ones(self.n_docs, dtype=bool)
        keep[targets] = False
        kept = keep[old_rows]
        new_rows = targets[fresh[1]] if targets.size else fresh[1].astype(np.int64)
        doc_len = self.doc_len.copy()
        doc_len[targets] = fresh[4]
        return self._from_entries(
            np.concatenate([old_terms[kept], fresh[0]]), np.concatenate([old_rows[kept], new_rows.astype(np.int32)]),
            np.concatenate([old_counts[kept], fresh[2]]), np.concatenate([old_ranks[kept], fresh[3]]),
            doc_len, terms=tuple(vocab), by_row=False)

    def deleted(self, rows: Sequence[int]) -> TermCounts:
        """Remove the given rows; later rows move up, as in a rebuilt corpus."""
        keep = np.ones(self.n_docs, dtype=bool)
        keep[np.asarray(list(rows), dtype=np.int64)] = False
        new_row = (np.cumsum(keep) - 1).astype(np.int32)
        kept = keep[self.rows]
        kept_before = np.zeros(self.nnz + 1, np.int64)
        np.cumsum(kept, out=kept_before[1:])
        col_ptr = kept_before[self.col_ptr]
        return TermCounts(col_ptr, new_row[self.rows[kept]], self.counts[kept], self.ranks[kept],
                          self.doc_len[keep], self.terms)._compacted()

    def _compacted(self) -> TermCounts:
        """Drop terms no article uses; renumber the rest in first-occurrence order (as a rebuild would)."""
        df = np.diff(self.col_ptr)
        used = np.flatnonzero(df > 0)
        if used.size == 0:
            return TermCounts(np.zeros(1, np.int64), self.rows, self.counts, self.ranks, self.doc_len, ())
        first = self.col_ptr[used]  # rows increase within a term: its first entry is its first article
        key = self.rows[first].astype(np.int64) * (int(self.ranks.max()) + 1) + self.ranks[first]
        order = used[np.argsort(key, kind="stable")]
        if order.shape[0] == self.n_terms and bool(np.all(order == np.arange(self.n_terms))):
            return self
        lengths = df[order]
        col_ptr = np.zeros(order.shape[0] + 1, np.int64)
        np.cumsum(lengths, out=col_ptr[1:])
        take = np.repeat(self.col_ptr[order] - col_ptr[:-1], lengths) + np.arange(int(col_ptr[-1]), dtype=np.int64)
        terms = tuple(self.terms[t] for t in order.tolist())
        return TermCounts(col_ptr, self.rows[take], self.counts[take], self.ranks[take], self.doc_len, terms)
