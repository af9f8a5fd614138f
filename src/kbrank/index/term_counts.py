"""`TermCounts`: the raw term frequencies of an analyzed corpus, kept so that indexes can be updated.

Layout (CSR by article row, numpy arrays):

- ``indptr``   int64, ``n_docs + 1``: article ``r`` owns entries ``indptr[r]:indptr[r+1]``
- ``term_ids`` int32: term ids, in the order each term first occurs in the article's tokens
- ``counts``   int32: how often the term occurs in the article
- ``doc_len``  int64: number of tokens per article (rank_bm25's document length)
- ``terms``    the vocabulary, term id -> string; ``vocab`` is the reverse mapping

Keeping each article's terms in first-occurrence order lets BM25 reproduce rank_bm25's order of summation
for the average IDF (and so its epsilon rule) exactly, after any sequence of edits. Terms that no article
uses any more are dropped, so the vocabulary always equals the one a full rebuild would have.

Edits (`appended`, `replaced`, `deleted`) return a new object and never re-analyze unchanged articles.
"""

from __future__ import annotations

import gc
import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

__all__ = ["TermCounts"]

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


@dataclass(frozen=True)
class TermCounts:
    indptr: np.ndarray
    term_ids: np.ndarray
    counts: np.ndarray
    doc_len: np.ndarray
    terms: tuple[str, ...]

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_tokens(cls, token_lists: Sequence[Sequence[str]]) -> TermCounts:
        """Count terms; ids are assigned in order of first occurrence across the corpus."""
        vocab: dict[str, int] = {}
        return cls._count(token_lists, vocab)

    @classmethod
    def _count(cls, token_lists: Sequence[Sequence[str]], vocab: dict[str, int]) -> TermCounts:
        indptr_parts = [np.zeros(1, np.int64)]
        term_parts, count_parts, len_parts = [], [], []
        offset = 0
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
                doc_of = np.repeat(np.arange(len(chunk), dtype=np.int64), lengths)
                key = doc_of * max(len(vocab), 1) + flat
                uniq, first, cnt = np.unique(key, return_index=True, return_counts=True)
                order = np.argsort(first, kind="stable")  # first-occurrence order within each article
                uniq, cnt = uniq[order], cnt[order]
                docs = uniq // max(len(vocab), 1)
                per_doc = np.bincount(docs, minlength=len(chunk))
                indptr_parts.append(offset + np.cumsum(per_doc))
                offset += int(per_doc.sum())
                term_parts.append((uniq % max(len(vocab), 1)).astype(np.int32))
                count_parts.append(cnt.astype(np.int32))
                len_parts.append(lengths)
        return cls(
            indptr=np.concatenate(indptr_parts),
            term_ids=np.concatenate(term_parts) if term_parts else np.empty(0, np.int32),
            counts=np.concatenate(count_parts) if count_parts else np.empty(0, np.int32),
            doc_len=np.concatenate(len_parts) if len_parts else np.empty(0, np.int64),
            terms=tuple(vocab),
        )

    # -- shape -------------------------------------------------------------------------------------
    @property
    def n_docs(self) -> int:
        return int(self.doc_len.shape[0])

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    @property
    def vocab(self) -> dict[str, int]:
        cached = self.__dict__.get("_vocab")
        if cached is None:
            cached = {term: i for i, term in enumerate(self.terms)}
            object.__setattr__(self, "_vocab", cached)
        return cached

    def rows_of_postings(self) -> np.ndarray:
        """The article row of every entry (CSR expanded)."""
        return np.repeat(np.arange(self.n_docs, dtype=np.int64), np.diff(self.indptr))

    def doc_freqs(self) -> np.ndarray:
        return np.bincount(self.term_ids, minlength=self.n_terms).astype(np.int64)

    def first_occurrence_order(self) -> np.ndarray:
        """Term ids in the order rank_bm25 meets them (article by article, token by token)."""
        nnz = self.term_ids.shape[0]
        first = np.full(self.n_terms, nnz, dtype=np.int64)
        np.minimum.at(first, self.term_ids, np.arange(nnz, dtype=np.int64))
        used = np.flatnonzero(first < nnz)
        return used[np.argsort(first[used], kind="stable")]

    # -- edits (return new objects) ----------------------------------------------------------------
    def _with_docs(self, pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]], doc_len: np.ndarray,
                   terms: tuple[str, ...]) -> TermCounts:
        term_ids = np.concatenate([p[0] for p in pieces]) if pieces else np.empty(0, np.int32)
        counts = np.concatenate([p[1] for p in pieces]) if pieces else np.empty(0, np.int32)
        sizes = np.concatenate([p[2] for p in pieces]) if pieces else np.empty(0, np.int64)
        indptr = np.concatenate([np.zeros(1, np.int64), np.cumsum(sizes, dtype=np.int64)])
        return TermCounts(indptr, term_ids.astype(np.int32), counts.astype(np.int32), doc_len, terms)._compacted()

    def _slice(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = self.indptr[start], self.indptr[stop]
        return self.term_ids[lo:hi], self.counts[lo:hi], np.diff(self.indptr[start : stop + 1])

    def _analyzed(self, token_lists: Sequence[Sequence[str]]) -> tuple[TermCounts, tuple[str, ...]]:
        """Count new articles against this vocabulary (new terms get new ids at the end)."""
        vocab = dict(self.vocab)
        fresh = TermCounts._count(token_lists, vocab)
        return fresh, tuple(vocab)

    def appended(self, token_lists: Sequence[Sequence[str]]) -> TermCounts:
        fresh, terms = self._analyzed(token_lists)
        pieces = [self._slice(0, self.n_docs), fresh._slice(0, fresh.n_docs)]
        return self._with_docs(pieces, np.concatenate([self.doc_len, fresh.doc_len]), terms)

    def replaced(self, rows: Sequence[int], token_lists: Sequence[Sequence[str]]) -> TermCounts:
        """Replace the given rows' tokens (rows keep their position)."""
        fresh, terms = self._analyzed(token_lists)
        new_of_row = {int(r): i for i, r in enumerate(rows)}
        pieces, doc_len, start = [], self.doc_len.copy(), 0
        for row in sorted(new_of_row):
            if start < row:
                pieces.append(self._slice(start, row))
            i = new_of_row[row]
            pieces.append(fresh._slice(i, i + 1))
            doc_len[row] = fresh.doc_len[i]
            start = row + 1
        if start < self.n_docs:
            pieces.append(self._slice(start, self.n_docs))
        return self._with_docs(pieces, doc_len, terms)

    def deleted(self, rows: Sequence[int]) -> TermCounts:
        """Remove the given rows; later rows move up, as in a rebuilt corpus."""
        keep = np.ones(self.n_docs, dtype=bool)
        keep[np.asarray(list(rows), dtype=np.int64)] = False
        entry_keep = np.repeat(keep, np.diff(self.indptr))
        sizes = np.diff(self.indptr)[keep]
        piece = (self.term_ids[entry_keep], self.counts[entry_keep], sizes)
        return self._with_docs([piece], self.doc_len[keep], self.terms)

    def _compacted(self) -> TermCounts:
        """Drop terms no article uses; renumber the rest in first-occurrence order (as a rebuild would)."""
        if self.term_ids.size == 0:
            return TermCounts(self.indptr, self.term_ids, self.counts, self.doc_len, ())
        order = self.first_occurrence_order()
        used = np.zeros(self.n_terms, dtype=bool)
        used[self.term_ids] = True
        if used.all() and np.array_equal(order, np.arange(self.n_terms)):
            return self
        new_id = np.full(self.n_terms, -1, dtype=np.int64)
        new_id[order] = np.arange(order.shape[0])
        terms = tuple(self.terms[t] for t in order)
        return TermCounts(self.indptr, new_id[self.term_ids].astype(np.int32), self.counts, self.doc_len, terms)
