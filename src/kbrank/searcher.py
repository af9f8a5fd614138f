"""`Searcher`: the facade that holds a corpus and its indexes and answers ``search(query, k)``.

Modes: ``"bm25"`` (lexical only), ``"dense"`` (embeddings only) and ``"hybrid"`` (both, fused). Built from a
corpus, or loaded from an index directory that holds the corpus, every index it needs and the personalizer's
settings, so a loaded searcher ranks and explains exactly as the saved one did.

Everything built is one immutable snapshot (`SearcherState`: the corpus, both indexes and the fitted
personalizer). A search reads the snapshot once, and `add`, `update` and `remove` build a new one beside it and
swap it in with a single assignment, so readers in other threads see the old corpus or the new one, never a
mix. Queries are checked at the door: empty ones give no results in every mode, and very long ones (more than
``max_query_chars`` characters or ``max_query_terms`` distinct terms) are refused with a clear error.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ._params import built_state, check_int, clone
from ._searcher_checks import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    MODES,
    SEARCH_PURPOSES,
    check_mode,
    check_profile,
    check_query,
)
from ._searcher_io import SETTINGS, SearcherState, check_fusion, read_indexes, read_settings, write_searcher
from .candidates import Candidates, SourceScores, check_k, check_mask
from .corpus import Corpus
from .errors import IndexFormatError, ParameterError
from .results import HiddenResult, Result, Results, SourceHit
from .retrieval.fusion import DEFAULT_FUSION
from .retrieval.hybrid import DEFAULT_DEPTH

__all__ = ["Searcher", "SearcherState", "MODES", "SEARCH_PURPOSES", "MAX_QUERY_CHARS", "MAX_QUERY_TERMS",
           "check_profile"]

Progress = Callable[[str, int, int], None]


class Searcher:
    """Search a corpus in one of three modes.

    Parameters (keyword-only, stored unchanged): ``mode`` (``"hybrid"`` by default), ``bm25`` (a `BM25Index`
    template, unbuilt, to configure it), ``dense`` (a `DenseIndex` template), ``fusion`` (``"rrf"`` or
    ``"weighted"``), ``fusion_params`` (the method's parameters; RRF's constant is 30 by default),
    ``depth`` (candidates per source before fusion, 500; both defaults were chosen on the BEIR dev splits),
    ``personalizer`` (a `Personalizer` template; default settings otherwise), ``rerank_depth`` (candidates
    the personalizer reranks, 100), ``max_query_chars`` (`MAX_QUERY_CHARS`) and ``max_query_terms``
    (`MAX_QUERY_TERMS`). `build` clones the templates, so they are never changed.
    """

    def __init__(self, *, mode: str = "hybrid", bm25: Any = None, dense: Any = None, fusion: str = DEFAULT_FUSION,
                 fusion_params: Mapping[str, Any] | None = None, depth: int = DEFAULT_DEPTH, personalizer: Any = None,
                 rerank_depth: int = 100, max_query_chars: int = MAX_QUERY_CHARS,
                 max_query_terms: int = MAX_QUERY_TERMS) -> None:
        self.mode = mode
        self.bm25 = bm25
        self.dense = dense
        self.fusion = fusion
        self.fusion_params = fusion_params
        self.depth = depth
        self.personalizer = personalizer
        self.rerank_depth = rerank_depth
        self.max_query_chars = max_query_chars
        self.max_query_terms = max_query_terms

    def _check_params(self) -> None:
        check_mode(self.mode)
        from .retrieval.fusion import FUSION

        if self.fusion not in FUSION:
            raise ParameterError("fusion", f"one of {sorted(FUSION)}", self.fusion)
        for name in ("depth", "rerank_depth", "max_query_chars", "max_query_terms"):
            value = getattr(self, name)
            check_int(name, value, 1)
        if self.fusion_params is not None and not isinstance(self.fusion_params, Mapping):
            raise ParameterError("fusion_params", "a mapping of parameter name -> value, or None", self.fusion_params)

    # -- building ----------------------------------------------------------------------------------
    def build(self, corpus: Corpus, *, progress: Progress | None = None) -> Searcher:
        """Index ``corpus`` in this searcher's mode; ``progress(step, done, total)`` reports each step."""
        self._check_params()
        if not isinstance(corpus, Corpus):
            raise ParameterError("corpus", "a kbrank.Corpus", type(corpus).__name__,
                                 hint="wrap articles with Corpus(...) or load with Corpus.from_jsonl")
        from .index import BM25Index, DenseIndex

        def step(name: str) -> Callable[[int, int], None] | None:
            return None if progress is None else (lambda done, total: progress(name, done, total))

        bm25 = dense = None
        if self.mode in ("bm25", "hybrid"):
            bm25 = (clone(self.bm25) if self.bm25 is not None else BM25Index()).build(corpus, progress=step("analyzing"))
        if self.mode in ("dense", "hybrid"):
            dense = (clone(self.dense) if self.dense is not None else DenseIndex()).build(corpus,
                                                                                          progress=step("encoding"))
        self._install(corpus, bm25, dense, self.personalizer)
        return self

    def _install(self, corpus: Corpus, bm25: Any, dense: Any, personalizer: Any, *, lazy: bool = False) -> None:
        """Swap in a new snapshot: every index is pointed at ``corpus`` (one corpus object per snapshot). The
        personalizer is fitted now, or with ``lazy`` (a loaded plain `Personalizer`) on first use."""
        from .personalize import Personalizer

        template = clone(personalizer) if personalizer is not None else Personalizer()
        if template.analyzer is None and bm25 is not None:
            template.analyzer = bm25.analyzer_
        for index in (bm25, dense):
            if index is not None and index.state_.corpus is not corpus:
                index.state_ = dataclasses.replace(index.state_, corpus=corpus)
        state = SearcherState(corpus, bm25, dense, template)
        self.state_ = state if lazy and type(template) is Personalizer else state.fit_personalizer()

    def _state(self) -> SearcherState:
        """The current snapshot, or `NotFittedError`; refuses indexes that were edited behind its back."""
        state = built_state(self, SearcherState)
        for index in (state.bm25, state.dense):
            if index is not None and index.state_.corpus is not state.corpus:
                raise ParameterError("searcher", "indexes in step with its corpus", "an index edited directly",
                                     hint="Edit through Searcher.add, update and remove: they keep the corpus, "
                                          "both indexes and the applicability in step.")
        return state

    def _fitted(self) -> None:
        self._state()

    corpus_ = property(lambda self: self._state().corpus)
    bm25_ = property(lambda self: self._state().bm25)
    dense_ = property(lambda self: self._state().dense)
    personalizer_ = property(lambda self: self._state().personalizer)

    def with_personalizer(self, personalizer: Any) -> Searcher:
        """A searcher over these same built indexes that personalizes with ``personalizer`` (a template,
        fitted here on this corpus). This searcher is unchanged, so several policies or learned models can be
        compared without building again."""
        state = self._state()
        other = copy.copy(self)
        other.personalizer = personalizer
        other._install(state.corpus, state.bm25, state.dense, personalizer)
        return other

    # -- editing -----------------------------------------------------------------------------------
    def _edit(self, edit: Callable[[Any], Any]) -> Searcher:
        """Apply ``edit`` to copies of the indexes, refit the personalizer, and swap the new snapshot in."""
        lock = self.__dict__.setdefault("_edit_lock", threading.Lock())
        with lock:
            state = self._state()
            bm25 = None if state.bm25 is None else edit(copy.copy(state.bm25))
            dense = None if state.dense is None else edit(copy.copy(state.dense))
            edited = [index for index in (bm25, dense) if index is not None]
            self._install(edited[0].corpus_, bm25, dense, state.template)
        return self

    def add(self, articles: Iterable[Any]) -> Searcher:
        """Append articles (new ids) to the corpus, both indexes and the applicability, atomically for readers.
        Only the new articles are analyzed and encoded."""
        new = list(articles)
        return self._edit(lambda index: index.add(new))

    def update(self, articles: Iterable[Any]) -> Searcher:
        """Replace articles by id (keeping their rows), atomically for readers; only changed text is re-encoded."""
        new = list(articles)
        return self._edit(lambda index: index.update(new))

    def remove(self, article_ids: Iterable[str]) -> Searcher:
        """Remove articles by id, atomically for readers; later rows move up as in a rebuilt corpus."""
        ids = list(article_ids)
        return self._edit(lambda index: index.remove(ids))

    def available_modes(self) -> tuple[str, ...]:
        return self._available(self._state())

    @staticmethod
    def _available(state: SearcherState) -> tuple[str, ...]:
        have = {"bm25": state.bm25 is not None, "dense": state.dense is not None}
        return tuple(m for m in MODES if (m == "hybrid" and all(have.values())) or have.get(m, False))

    def _mode(self, mode: str | None, state: SearcherState) -> str:
        mode = check_mode(self.mode if mode is None else mode)
        if mode not in self._available(state):
            raise ParameterError("mode", f"one this searcher was built for {self._available(state)}", mode,
                                 hint="rebuild with that mode (kbrank index --mode ...)")
        return mode

    def _query(self, query: object, state: SearcherState) -> str:
        """The query, checked (see `kbrank._searcher_checks.check_query`)."""
        analyzer = state.bm25.analyzer_ if state.bm25 is not None else state.personalizer.analyzer_
        return check_query(query, analyzer, max_chars=self.max_query_chars, max_terms=self.max_query_terms)

    # -- searching ---------------------------------------------------------------------------------
    def query_vector(self, query: str, mode: str | None = None) -> np.ndarray | None:
        """The dense query vector when ``mode`` uses the dense index (encode a query once, search it often)."""
        state = self._state()
        if self._mode(mode, state) == "bm25" or not self._query(query, state).strip():
            return None
        vector: np.ndarray = state.dense.encode_query(query)
        return vector

    def candidates(self, query: str, k: int = 10, *, mode: str | None = None, mask: np.ndarray | None = None,
                   query_vector: np.ndarray | None = None) -> Candidates:
        """Rows and scores (the internal currency); `search` turns them into `Results` with ids.

        ``mask`` filters before the top-k and never reorders the articles it keeps. ``query_vector`` (from
        `query_vector`) saves encoding the query again. An empty (or blank) query finds nothing, in every mode.
        """
        state = self._state()
        mask = None if mask is None else check_mask(mask, len(state.corpus))
        return self._candidates(state, self._mode(mode, state), self._query(query, state), check_k(k), mask,
                                query_vector)[0]

    def _candidates(self, state: SearcherState, mode: str, query: str, k: int,
                    mask: np.ndarray | None, vector: np.ndarray | None) -> tuple[Candidates, np.ndarray | None]:
        """The candidates and the query vector they were found with (None for BM25)."""
        if not query.strip() or k == 0:
            return Candidates.empty(), vector
        if mode == "hybrid":
            from .retrieval.hybrid import HybridRetriever

            retriever = HybridRetriever(state.bm25, state.dense, fusion=self.fusion, depth=self.depth,
                                        fusion_params=self.fusion_params)
            return retriever.search_encoded(query, k, mask=mask, query_vector=vector)
        if mode == "bm25":
            found = state.bm25.search(query, k, mask=mask)
        else:
            vector = state.dense.encode_query(query) if vector is None else vector
            found = state.dense.search(vector, k, mask=mask)
        return Candidates(found.rows, found.scores,
                          sources={mode: SourceScores(np.arange(1, len(found) + 1), found.scores)}), vector

    @staticmethod
    def _results(state: SearcherState, query: str, mode: str, found: Candidates, *, explained: tuple[Any, ...] = (),
                 base: np.ndarray | None = None, pool: Candidates | None = None, **extra: Any) -> Results:
        fused = {} if pool is None else dict(zip(pool.rows.tolist(), pool.scores.tolist()))
        hits = [[SourceHit(rank=rank or None, score=None if score != score else score)  # NaN: not retrieved
                 for rank, score in zip(s.ranks.tolist(), s.scores.tolist())] for s in found.sources.values()]
        names = tuple(found.sources)
        bases = [] if base is None else base.tolist()
        items = []
        for i, (row, score) in enumerate(zip(found.rows.tolist(), found.scores.tolist())):
            article = state.corpus[row]
            personal = {} if base is None else {"fused_score": fused.get(row), "retrieval_score": bases[i],
                                                "contributions": explained[i]}
            items.append(Result(rank=i + 1, article_id=article.id, title=article.title, url=article.url,
                                score=score, sources={name: hit[i] for name, hit in zip(names, hits)}, **personal))
        return Results(query=query, mode=mode, items=tuple(items), **extra)

    def search(self, query: str, k: int = 10, *, mode: str | None = None, mask: np.ndarray | None = None,
               profile: Any = None, explain_hidden: bool = False, named: Iterable[str] = (),
               query_vector: np.ndarray | None = None) -> Results:
        """The best ``k`` articles; with a ``profile`` (a `ProfileView` read for purpose personalization),
        reranked for that customer, each result with its receipt.

        With no profile, or a view without consent (not ``personalized``), the ranking is exactly the
        unpersonalized one. Hidden articles are masked out before any top-k, without reordering the others.
        If the profile would hide every match, the best unpersonalized matches are returned and ``notice``
        says so. ``explain_hidden`` also lists the articles the profile hid from the unpersonalized top ``k``.
        The query is encoded once, however many retrievals the request needs (``query_vector`` passes a
        vector already encoded, `query_vector`). An empty query finds nothing (``notice`` says so), in every
        mode. ``named`` lists products the query's context names although its text does not (the chat
        retriever passes the product a conversation is about); the profile treats them as named by the query.
        """
        from .personalize import is_personalized

        check_profile(profile)
        state = self._state()
        mode = self._mode(mode, state)
        query = self._query(query, state)
        k = check_k(k)
        mask = None if mask is None else check_mask(mask, len(state.corpus))
        if not query.strip():
            return Results(query=query, mode=mode, items=(), notice="the query is empty")
        if not is_personalized(profile):
            notice = None if profile is None else f"not personalized: {profile.reason or 'no personalization consent'}"
            return self._results(state, query, mode, self._candidates(state, mode, query, k, mask, query_vector)[0],
                                 notice=notice)
        personalizer = state.personalizer
        self._register_caches(state, profile)
        named = tuple(named)
        plan = personalizer.plan(profile, query, named=named) if named else personalizer.plan(profile, query)
        allowed = ~plan.hide if mask is None else (~plan.hide & mask)
        pool, vector = self._candidates(state, mode, query, max(self.rerank_depth, k), allowed, query_vector)
        hidden: tuple[HiddenResult, ...] = ()
        if explain_hidden or len(pool) == 0:
            plain = self._candidates(state, mode, query, k, mask, vector)[0]
            rows = plain.rows[plan.hide[plain.rows]]
            ranks = np.flatnonzero(plan.hide[plain.rows]) + 1
            reasons = personalizer.hidden_reasons(rows, profile, plan)
            hidden = tuple(HiddenResult(state.corpus[r].id, state.corpus[r].title, int(rank), why)
                           for r, rank, why in zip(rows.tolist(), ranks.tolist(), reasons))
            if len(pool) == 0:
                return self._results(state, query, mode, plain, hidden=hidden, notice=(
                    "your profile would hide every match; showing the best unpersonalized matches instead"))
        reranked, base, receipts = personalizer.rerank_and_explain(pool, plan, k, profile)
        explained = tuple(receipts)
        return self._results(state, query, mode, reranked, explained=explained, base=base, pool=pool,
                             personalized=True, hidden=hidden if explain_hidden else ())

    @staticmethod
    def _register_caches(state: SearcherState, profile: Any) -> None:
        """Have the gateway that handed out ``profile`` empty the analyzers' token caches on erasure (the words
        of a customer's queries pass through them); the personalizer registers its plan cache itself."""
        from .privacy import register_cache

        for analyzer in {id(a): a for a in (state.personalizer.analyzer_,
                                            state.bm25.analyzer_ if state.bm25 is not None else None) if a}.values():
            register_cache(profile, f"kbrank.analyzer.tokens.{id(analyzer):x}", analyzer.clear_cache)

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> None:
        """Save the whole searcher to an index directory: the corpus, each index, the personalizer's
        settings (policy, product aliases, learned model) and the search settings; atomic.

        ``path`` must be new, empty or an index directory kbrank wrote; ``force=True`` also allows another
        non-empty directory (kbrank never deletes or overwrites files it did not write; see `kbrank.storage`)."""
        state = self._state()
        from .storage import IndexWriter

        settings = {name: getattr(self, name) for name in SETTINGS}
        settings["fusion_params"] = dict(self.fusion_params or {})
        with IndexWriter(path, force=force) as writer:
            write_searcher(writer, state, settings)
            writer.commit()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, encoder: Any = None, mmap: bool = True,
             personalizer: Any = None, kernels: str = "compiled") -> Searcher:
        """Load a directory written by `save` (checksums, the manifest's schema and array bounds verified).
        ``personalizer`` replaces the saved personalizer settings; ``encoder`` is the dense encoder when it is
        not the default model; ``kernels="numpy"`` suits a process that answers a few queries (see
        `kbrank.index.BM25Index.load`). A save running meanwhile does not disturb the load (see `kbrank.storage`)."""
        from .storage import IndexReader

        with IndexReader(path) as reader:
            searcher = cls(**read_settings(reader, path), personalizer=personalizer)
            try:
                searcher._check_params()
                check_fusion(searcher.fusion, searcher.fusion_params)
            except (ParameterError, TypeError) as exc:
                raise IndexFormatError(f"invalid searcher settings ({exc})", path=str(path),
                                       fix="rebuild the index") from None
            corpus, bm25, dense, saved = read_indexes(reader, path, mode=searcher.mode, encoder=encoder, mmap=mmap,
                                                      personalizer=personalizer is None, kernels=kernels)
        searcher._install(corpus, bm25, dense, personalizer if personalizer is not None else saved,
                          lazy=personalizer is None)  # the saved settings were checked by read_indexes
        return searcher

    def __repr__(self) -> str:
        state = self.__dict__.get("state_")
        size = f", {len(state.corpus)} articles" if state is not None else ""
        return f"Searcher(mode={self.mode!r}{size})"
