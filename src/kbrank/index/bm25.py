"""`BM25Index`: lexical retrieval whose scores equal rank_bm25's bit for bit (float64).

Data flow inside: ``Corpus -> Analyzer -> TermCounts (raw counts by term, uint8/uint16) -> per-term idf and
per-article length terms (bm25_weights)``. The index keeps no per-posting weights: a query's compiled loop
(`_bm25_kernels.search_top_k`) computes each weight from its count with rank_bm25's float64 expression while it
sums the query terms' postings and keeps the top k, reading 5 bytes per posting.

Edits (`add`, `update`, `remove`) re-analyze only the edited articles and rebuild the counts from the stored
ones; IDF and average length are recomputed (they change with every edit), which equals a full rebuild exactly.

All fitted state is one immutable `BM25State` (``state_``), replaced in a single assignment by a build or an
edit; a search reads it once, so it sees one consistent index even while another thread edits.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .._params import built_state
from .._threads import start as start_on_kept_threads
from ..analysis import Analyzer
from ..candidates import Candidates, check_k, check_mask
from ..corpus import Article, Corpus
from ..errors import CorpusError, NotFittedError, ParameterError, suggestion
from .bm25_state import BM25State
from .bm25_weights import VARIANT_DEFAULTS, VARIANTS
from .term_counts import TermCounts

__all__ = ["BM25Index"]

Progress = Callable[[int, int], None]
_ANALYZE_CHUNK = 2_000


class BM25Index:
    """Okapi BM25 (default), BM25L or BM25+ over a corpus, with rank_bm25's parameters.

    >>> from kbrank import Article, Corpus
    >>> corpus = Corpus([Article(id="a", title="Reset the router"), Article(id="b", title="Pair the camera")])
    >>> index = BM25Index().build(corpus)
    >>> [corpus[r].id for r in index.search("router reset", k=5).rows]
    ['a']

    Parameters (keyword-only, stored unchanged): ``analyzer`` (an `Analyzer`, default English),
    ``variant`` (``"okapi"``, ``"bm25l"``, ``"bm25+"``), ``k1`` (1.5), ``b`` (0.75), ``epsilon`` (Okapi's
    negative-IDF floor factor, 0.25), ``delta`` (BM25L 0.5, BM25+ 1.0), ``title_weight`` (how many times
    title tokens count; 1 indexes ``title + " " + body`` as BEIR does) and ``broad_share`` (a query whose
    posting lists cover more than 1/broad_share of the articles scans every article instead of tracking the
    touched ones; 0: never). The last one only trades work for speed; results are identical.
    """

    #: Which code searches single queries: "compiled" (numba) unless `load` was told "numpy".
    kernels_: str = "compiled"

    def __init__(
        self,
        *,
        analyzer: Analyzer | None = None,
        variant: str = "okapi",
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float | None = None,
        delta: float | None = None,
        title_weight: int = 1,
        broad_share: int = 4,
    ) -> None:
        self.analyzer = analyzer
        self.variant = variant
        self.k1 = k1
        self.b = b
        self.epsilon = epsilon
        self.delta = delta
        self.title_weight = title_weight
        self.broad_share = broad_share

    # -- parameters --------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.variant not in VARIANTS:
            raise ParameterError("variant", f"one of {sorted(VARIANTS)}", self.variant,
                                 hint=suggestion(self.variant, VARIANTS))
        if not (isinstance(self.k1, (int, float)) and self.k1 >= 0):
            raise ParameterError("k1", "a number >= 0", self.k1)
        if not (isinstance(self.b, (int, float)) and 0 <= self.b <= 1):
            raise ParameterError("b", "a number between 0 and 1", self.b)
        if not (isinstance(self.title_weight, int) and self.title_weight >= 1):
            raise ParameterError("title_weight", "an integer >= 1", self.title_weight)
        if self.variant == "okapi" and self.delta is not None:
            raise ParameterError("delta", "None for variant 'okapi' (it uses epsilon)", self.delta)
        if self.variant != "okapi" and self.epsilon is not None:
            raise ParameterError("epsilon", f"None for variant {self.variant!r} (it uses delta)", self.epsilon)
        value = self.broad_share
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ParameterError("broad_share", "an integer >= 0 (0: never)", value)

    def _extra(self) -> dict[str, float]:
        name, default = next(iter(VARIANT_DEFAULTS[self.variant].items()))
        value = getattr(self, name)
        return {name: float(default if value is None else value)}

    def get_params(self) -> dict[str, Any]:
        """The constructor settings except the analyzer (recorded by its own configuration)."""
        return {"variant": self.variant, "k1": self.k1, "b": self.b, "epsilon": self.epsilon,
                "delta": self.delta, "title_weight": self.title_weight, "broad_share": self.broad_share}

    @property
    def analyzer_(self) -> Analyzer:
        """The analyzer in use: the one given, or a default `Analyzer` created once (the parameter is kept)."""
        if self.analyzer is not None:
            return self.analyzer
        default = self.__dict__.get("_default_analyzer")
        if default is None:
            default = self.__dict__["_default_analyzer"] = Analyzer()
        return default

    # -- building ----------------------------------------------------------------------------------
    def _tokens(self, articles: Sequence[Article], progress: Progress | None = None) -> list[list[str]]:
        analyze = self.analyzer_
        out: list[list[str]] = []
        total = len(articles)
        for start in range(0, total, _ANALYZE_CHUNK):
            for article in articles[start : start + _ANALYZE_CHUNK]:
                if self.title_weight == 1:
                    out.append(analyze(article.text))
                else:
                    out.append(analyze(article.title) * self.title_weight + analyze(article.body))
            if progress is not None:
                progress(min(start + _ANALYZE_CHUNK, total), total)
        return out

    def build(self, corpus: Corpus, *, progress: Progress | None = None) -> BM25Index:
        """Analyze and index ``corpus``. ``progress(done, total)`` is called as articles are analyzed."""
        self._check_params()
        if not isinstance(corpus, Corpus):
            raise ParameterError("corpus", "a kbrank.Corpus", type(corpus).__name__,
                                 hint="wrap articles with Corpus(...) or load with Corpus.from_jsonl")
        counts = TermCounts.from_tokens(self._tokens(corpus, progress))
        self._install(counts, corpus)
        return self

    def build_from_tokens(self, token_lists: Sequence[Sequence[str]]) -> BM25Index:
        """Index pre-tokenized articles (rows only, no ids): for benchmarks and reference tests."""
        self._check_params()
        if len(token_lists) == 0:
            raise CorpusError("the corpus is empty", fix="give at least one token list")
        self._install(TermCounts.from_tokens(token_lists), None)
        return self

    def _install(self, counts: TermCounts, corpus: Corpus | None) -> None:
        """Compute the per-term and per-article statistics and swap in the new state in one assignment."""
        if int(counts.doc_len.sum()) == 0:
            raise CorpusError("no article has any indexable text (every article analyzed to zero tokens)",
                              fix="check the analyzer's stopwords and the articles' title/body")
        self.state_ = BM25State.assemble(counts, corpus, variant=self.variant, k1=self.k1, b=self.b,
                                         extra=self._extra())

    def _fitted(self) -> BM25State:
        """The current state (read it once per operation), or `NotFittedError`."""
        return built_state(self, BM25State)

    def _check_fitted(self) -> None:
        self._fitted()

    @property
    def counts_(self) -> TermCounts:
        return self._fitted().counts

    @property
    def corpus_(self) -> Corpus | None:
        return self._fitted().corpus

    # Fitted arrays, each read from the current state (see `BM25State` and `TermCounts`).
    col_ptr_ = property(lambda self: self._fitted().counts.col_ptr)
    row_idx_ = property(lambda self: self._fitted().counts.rows)
    idf_ = property(lambda self: self._fitted().idf)
    base_ = property(lambda self: self._fitted().base)
    df_ = property(lambda self: self._fitted().df)

    @property
    def n_docs(self) -> int:
        return self._fitted().n_docs

    # -- incremental updates -----------------------------------------------------------------------
    def _need_corpus(self) -> tuple[BM25State, Corpus]:
        state = self._fitted()
        if state.corpus is None:
            raise NotFittedError("this index was built from tokens without ids; edits need build(corpus)")
        return state, state.corpus

    def add(self, articles: Iterable[Article]) -> BM25Index:
        """Append new articles (their ids must be new). Only they are analyzed."""
        new = list(articles)
        state, corpus = self._need_corpus()
        corpus = corpus.with_added(new)
        self._install(state.counts.appended(self._tokens(new)), corpus)
        return self

    def update(self, articles: Iterable[Article]) -> BM25Index:
        """Replace articles by id, keeping their rows. Only they are analyzed."""
        new = list(articles)
        state, corpus = self._need_corpus()
        corpus = corpus.with_replaced(new)
        rows = [corpus.row(a.id) for a in new]
        self._install(state.counts.replaced(rows, self._tokens(new)), corpus)
        return self

    def remove(self, article_ids: Iterable[str]) -> BM25Index:
        """Remove articles by id; later rows move up, exactly as in a rebuilt corpus."""
        ids = list(article_ids)
        state, corpus = self._need_corpus()
        rows = [corpus.row(i) for i in ids]
        corpus = corpus.without(ids)  # raises CorpusError if this would empty the corpus
        self._install(state.counts.deleted(rows), corpus)
        return self

    # -- scoring -----------------------------------------------------------------------------------
    @staticmethod
    def _term_ids(state: BM25State, tokens: Sequence[str]) -> np.ndarray:
        vocab = state.counts.vocab
        return np.array([vocab[t] for t in tokens if t in vocab], dtype=np.int64)

    @staticmethod
    def _kernel_args(state: BM25State) -> tuple[Any, ...]:
        """The leading arguments of every kernel call: the postings and the statistics of the state."""
        args = state.__dict__.get("_kernel_args")
        if args is None:
            c = state.counts
            base = state.base if state.base is not None else state.idf
            args = (c.col_ptr, c.rows, c.counts, state.idf, base, state.length_id, state.table,
                    state.norm.shape[0], int(c.counts.max()) if c.nnz else 0, state.norm, state.variant, state.k1, state.k1p1, state.delta,
                    state.base is not None)
            object.__setattr__(state, "_kernel_args", args)
        return args

    def score_tokens(self, tokens: Sequence[str]) -> np.ndarray:
        """The full score vector for analyzed query tokens (what rank_bm25's ``get_scores`` returns)."""
        from ._bm25_kernels import full_scores

        state = self._fitted()
        scores = np.zeros(state.n_docs)
        full_scores(*self._kernel_args(state), self._term_ids(state, tokens), scores)  # type: ignore[call-arg]
        return scores

    def get_scores(self, query: str) -> np.ndarray:
        """The full score vector of a query string (analyzed with this index's analyzer)."""
        return self.score_tokens(self.analyzer_(query))

    def _buffers(self, state: BM25State) -> tuple[np.ndarray, ...]:
        """Per-thread scratch arrays for ``state`` (``n_docs`` scores, marks and touched rows, which the kernels
        leave zeroed, and a term's weights per factor-table entry), kept by thread id with a weak reference to the
        state they were sized for (an old state is not kept alive) in a small dict (a plain dict lookup is
        cheaper per query than a ``threading.local``)."""
        scratch = self.__dict__.setdefault("_scratch", {})
        ident = threading.get_ident()
        mine = scratch.get(ident)
        if mine is not None and mine[0]() is state:
            return mine[1]
        if mine is not None and mine[1][0].shape[0] == state.n_docs and mine[1][3].shape[0] >= state.table.shape[0]:
            buffers = mine[1]  # an edit that kept the sizes: reuse the (zeroed) arrays
        else:
            n = state.n_docs
            buffers = (np.zeros(n), np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(max(state.table.shape[0], 1)))
        if len(scratch) >= _MAX_SCRATCH:  # threads come and go: keep the dict bounded
            scratch.clear()
        scratch[ident] = (weakref.ref(state), buffers)
        return buffers

    @staticmethod
    def _check_mask(mask: np.ndarray | None, n_docs: int) -> tuple[np.ndarray, bool]:
        if mask is None:
            return _NO_MASK, False
        return check_mask(mask, n_docs), True

    def search_tokens(self, tokens: Sequence[str], k: int = 10, *, mask: np.ndarray | None = None) -> Candidates:
        """The best ``k`` articles containing at least one query token; ``mask`` filters before top-k."""
        state = self._fitted()
        k = check_k(k)
        n_docs = state.n_docs
        mask_arg, use_mask = (_NO_MASK, False) if mask is None else self._check_mask(mask, n_docs)
        vocab = state.counts.vocab
        ids = [vocab[t] for t in tokens if t in vocab]
        if not ids or k == 0:
            return Candidates.empty()
        k = min(k, n_docs)
        if self.kernels_ == "numpy":  # see `load`
            from ._bm25_numpy import search_top_k as numpy_top_k

            return Candidates.adopt(*numpy_top_k(self._kernel_args(state), np.array(ids, np.int64),
                                                 mask_arg if use_mask else None, k))
        from ._bm25_kernels import search_top_k

        out_rows = np.empty(k, np.int64)
        out_scores = np.empty(k, np.float64)
        size = search_top_k(*self._kernel_args(state), self.broad_share, np.array(ids, np.int64), mask_arg, use_mask,
                            k, *self._buffers(state), out_rows, out_scores)  # type: ignore[call-arg]
        # The output arrays are this call's own: the result adopts them instead of copying (see `Candidates.adopt`).
        return Candidates.adopt(out_rows[:size], out_scores[:size])

    def search(self, query: str, k: int = 10, *, mask: np.ndarray | None = None) -> Candidates:
        """Analyze ``query`` and return the best ``k`` matching articles (see `search_tokens`)."""
        return self.search_tokens(self.analyzer_(query), k, mask=mask)

    def search_batch(self, queries: Sequence[str], k: int = 10, *, mask: np.ndarray | None = None,
                     n_threads: int | None = None) -> list[Candidates]:
        """Search many query strings (see `search_tokens_batch`)."""
        self._fitted()
        return self.search_tokens_batch([self.analyzer_(q) for q in queries], k, mask=mask, n_threads=n_threads)

    def search_tokens_batch(self, token_lists: Sequence[Sequence[str]], k: int = 10, *,
                            mask: np.ndarray | None = None, n_threads: int | None = None) -> list[Candidates]:
        """Search many analyzed queries on ``n_threads`` cores (default: all).

        The queries are split into one share per thread, each run by a pool thread as one compiled call without
        the GIL (`_bm25_batch.top_k_batch`); the pool and each thread's scratch buffers are kept for the next
        batch. The results equal `search_tokens`'s for each query."""
        state = self._fitted()
        k = check_k(k)
        if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1):
            raise ParameterError("n_threads", "an integer >= 1 (or None: all cores)", n_threads)
        mask_arg, use_mask = self._check_mask(mask, state.n_docs)
        token_lists = list(token_lists)
        k = min(k, state.n_docs)
        if not token_lists or k == 0:
            return [Candidates.empty() for _ in token_lists]
        from ._bm25_batch import top_k_batch

        threads = max(1, min(n_threads or os.cpu_count() or 1, len(token_lists)))
        return top_k_batch((*self._kernel_args(state), self.broad_share), state.counts.vocab, token_lists, k,
                           mask_arg, use_mask, threads, lambda: self._buffers(state), start_on_kept_threads)

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> None:
        """Save to an index directory (atomic; see `kbrank.storage`), with the corpus when it has one.

        ``path`` must be new, empty or an index directory kbrank wrote; ``force=True`` also allows another
        non-empty directory (its files are never deleted or overwritten)."""
        from ..corpus.io import write_corpus
        from ..storage import IndexWriter
        from .bm25_persistence import write_bm25

        state = self._fitted()
        with IndexWriter(path, force=force) as writer:
            if state.corpus is not None:
                write_corpus(writer, state.corpus)
            write_bm25(writer, state, params=self.get_params(), analyzer=self.analyzer_.to_config())
            writer.commit()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, tokenizer: Callable[[str], Sequence[str]] | None = None,
             mmap: bool = True, kernels: str = "compiled") -> BM25Index:
        """Load an index directory, verifying checksums and array bounds; arrays are memory-mapped unless
        ``mmap=False``. ``kernels="numpy"`` checks and searches single queries with numpy instead of the compiled
        kernels: the same results, bit for bit, without the second or so a new process spends loading numba,
        at about five times the cost per query (for a process that answers a few queries, like ``kbrank search``)."""
        from ..storage import IndexReader

        with IndexReader(path) as reader:
            return cls.read(reader, tokenizer=tokenizer, mmap=mmap, kernels=kernels)

    @classmethod
    def read(cls, reader: Any, *, corpus: Corpus | None = None, prefix: str = "bm25",
             tokenizer: Callable[[str], Sequence[str]] | None = None, mmap: bool = True,
             kernels: str = "compiled") -> BM25Index:
        """The index stored under ``prefix`` in an opened `kbrank.storage.IndexReader` (``corpus``: the
        directory's corpus when the caller has already read it; ``kernels``: see `load`). The stored parameters
        pass the constructor's checks, and the arrays `BM25State.validate`, before anything uses them."""
        from .bm25_persistence import read_bm25

        check_kernels(kernels)

        def checked(params: dict[str, Any], analyzer: dict[str, Any]) -> BM25Index:
            index = cls(analyzer=Analyzer.from_config(analyzer, tokenizer=tokenizer), **params)
            index._check_params()
            return index

        index, state = read_bm25(reader, prefix, corpus=corpus, mmap=mmap, build=checked, kernels=kernels)
        index.state_ = state
        index.kernels_ = kernels
        return index

    def __copy__(self) -> "BM25Index":
        """A shallow copy sharing the (immutable) state; an edit of the copy leaves this index unchanged."""
        new = type(self).__new__(type(self))
        # A snapshot first: searches in other threads may add the lazy "_scratch" while this copies.
        attributes = self.__dict__.copy()
        attributes.pop("_scratch", None)
        new.__dict__.update(attributes)
        return new

    def __getstate__(self) -> None:
        raise TypeError("kbrank never pickles; use BM25Index.save(path) and BM25Index.load(path)")

    def __repr__(self) -> str:
        state = self.__dict__.get("state_")
        size = f", {state.n_docs} articles, {state.counts.n_terms} terms" if state is not None else ""
        return f"BM25Index(variant={self.variant!r}, k1={self.k1}, b={self.b}{size})"


def check_kernels(kernels: object) -> None:
    """Refuse a ``kernels`` choice other than ``"compiled"`` and ``"numpy"`` (see `BM25Index.load`)."""
    if kernels not in ("compiled", "numpy"):
        raise ParameterError("kernels", '"compiled" (default) or "numpy"', kernels)


_NO_MASK = np.ones(1, dtype=np.bool_)
_MAX_SCRATCH = 64  # threads with scratch buffers kept per index
