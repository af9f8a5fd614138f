"""`Searcher`: the facade that holds a corpus and its indexes and answers ``search(query, k)``.

Modes: ``"bm25"`` (lexical only), ``"dense"`` (embeddings only) and ``"hybrid"`` (both, fused). Built from a
corpus, or loaded from an index directory that holds the corpus and every index it needs.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .corpus import Corpus
from .errors import IndexFormatError, ParameterError
from .results import HiddenResult, Result, Results, SourceHit
from .retrieval.candidates import Candidates, SourceScores

__all__ = ["Searcher", "MODES"]

MODES = ("bm25", "dense", "hybrid")
#: Fusion defaults, chosen on the BEIR dev splits (SciFact train, NFCorpus dev; see benchmarks/effectiveness.py):
#: RRF with constant 30 over the top 500 of each source had the best smallest gain over the better single mode.
DEFAULT_FUSION_PARAMS = {"constant": 30}
Progress = Callable[[str, int, int], None]


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ParameterError("mode", f"one of {MODES}", mode)


class Searcher:
    """Search a corpus in one of three modes.

    Parameters (keyword-only): ``mode`` (``"hybrid"`` by default), ``bm25`` (a `BM25Index`, unbuilt, to
    configure it), ``dense`` (a `DenseIndex`, unbuilt), ``fusion`` (``"rrf"`` or ``"weighted"``),
    ``fusion_params`` (default ``{"constant": 30}``), ``depth`` (candidates per source before fusion, 500; both
    defaults were chosen on the BEIR dev splits),
    ``personalizer`` (a `kbrank.personalize.Personalizer`, unfitted; default settings otherwise) and
    ``rerank_depth`` (candidates the personalizer reranks, 100).
    """

    def __init__(self, *, mode: str = "hybrid", bm25: Any = None, dense: Any = None, fusion: str = "rrf",
                 fusion_params: Mapping[str, Any] | None = None, depth: int = 500, personalizer: Any = None,
                 rerank_depth: int = 100) -> None:
        self.personalizer = personalizer
        self.rerank_depth = rerank_depth
        self.mode = mode
        self.bm25 = bm25
        self.dense = dense
        self.fusion = fusion
        self.fusion_params = dict(DEFAULT_FUSION_PARAMS if fusion_params is None else fusion_params)
        self.depth = depth

    # -- building ----------------------------------------------------------------------------------
    def build(self, corpus: Corpus, *, progress: Progress | None = None) -> Searcher:
        _check_mode(self.mode)
        from .index import BM25Index

        def step(name: str) -> Callable[[int, int], None] | None:
            return None if progress is None else (lambda done, total: progress(name, done, total))

        self.corpus_ = corpus
        self.bm25_ = None
        self.dense_ = None
        if self.mode in ("bm25", "hybrid"):
            self.bm25_ = (self.bm25 or BM25Index()).build(corpus, progress=step("analyzing"))
        if self.mode in ("dense", "hybrid"):
            from .index.dense import DenseIndex

            self.dense_ = (self.dense or DenseIndex()).build(corpus, progress=step("encoding"))
        self._fit_personalizer(None)
        return self

    def _fit_personalizer(self, applicability: Any) -> None:
        from .personalize import Personalizer

        analyzer = self.bm25_.analyzer_ if self.bm25_ is not None else None
        personalizer = self.personalizer or Personalizer(analyzer=analyzer)
        self.personalizer_ = personalizer.fit(self.corpus_, applicability)

    def _retriever(self, mode: str):
        if mode == "hybrid":
            from .retrieval.hybrid import HybridRetriever

            return HybridRetriever(self.bm25_, self.dense_, fusion=self.fusion, depth=self.depth,
                                   fusion_params=self.fusion_params)
        return self.bm25_ if mode == "bm25" else self.dense_

    def available_modes(self) -> tuple[str, ...]:
        have = {"bm25": self.bm25_ is not None, "dense": self.dense_ is not None}
        return tuple(m for m in MODES if (m == "hybrid" and all(have.values())) or have.get(m, False))

    # -- searching ---------------------------------------------------------------------------------
    def candidates(self, query: str, k: int = 10, *, mode: str | None = None,
                   mask: np.ndarray | None = None, query_vector: np.ndarray | None = None) -> Candidates:
        """Rows and scores (the internal currency); `search` turns them into `Results` with ids.

        ``query_vector`` is the query's dense vector (`DenseIndex.encode_query`), to encode a query once
        for several searches; the lexical side still reads ``query``.
        """
        mode = mode or self.mode
        _check_mode(mode)
        if mode not in self.available_modes():
            raise ParameterError("mode", f"one this searcher was built for {self.available_modes()}", mode,
                                 hint="rebuild with that mode (kbrank index --mode ...)")
        retriever = self._retriever(mode)
        if query_vector is None or mode == "bm25":
            found = retriever.search(query, k, mask=mask)
        elif mode == "dense":
            found = retriever.search(query_vector, k, mask=mask)
        else:
            found = retriever.search(query, k, mask=mask, query_vector=query_vector)
        if not found.sources:
            found = Candidates(found.rows, found.scores,
                               sources={mode: SourceScores(np.arange(1, len(found) + 1), found.scores)})
        return found

    def _results(self, query: str, mode: str, found: Candidates, **extra: Any) -> Results:
        items = []
        plan, base, pool = extra.pop("plan", None), extra.pop("base", None), extra.pop("pool", None)
        fused = {} if pool is None else dict(zip(pool.rows.tolist(), pool.scores.tolist()))
        for i, (row, score) in enumerate(zip(found.rows.tolist(), found.scores.tolist())):
            article = self.corpus_[row]
            sources = {name: SourceHit(rank=int(s.ranks[i]) or None,
                                       score=None if np.isnan(s.scores[i]) else float(s.scores[i]))
                       for name, s in found.sources.items()}
            personal = {} if plan is None else {
                "fused_score": fused.get(row), "retrieval_score": float(base[i]),
                "contributions": self.personalizer_.contributions(row, plan)}
            items.append(Result(rank=i + 1, article_id=article.id, title=article.title, url=article.url,
                                score=float(score), sources=sources, **personal))
        return Results(query=query, mode=mode, items=tuple(items), **extra)

    def search(self, query: str, k: int = 10, *, mode: str | None = None, mask: np.ndarray | None = None,
               profile: Any = None, explain_hidden: bool = False, named: Sequence[str] = (),
               query_vector: np.ndarray | None = None) -> Results:
        """The best ``k`` articles; with a ``profile`` (a `ProfileView` for purpose personalization), reranked
        for that customer, each result with its receipt.

        With no profile, or a view without consent (not ``personalized``), the ranking is exactly the
        unpersonalized one. Hidden articles are masked out before any top-k. If the profile would hide
        every match, the best unpersonalized matches are returned and ``notice`` says so.
        ``explain_hidden`` also lists the articles the profile hid from the unpersonalized top ``k``.
        ``named`` lists products the query's context names although its text does not (the chat retriever
        passes the product a conversation is about); the profile treats them as named by the query.
        ``query_vector``: the query's dense vector, when it is already encoded (see `candidates`).
        """
        from .personalize import is_personalized

        mode = mode or self.mode
        if not is_personalized(profile):
            notice = None if profile is None else (getattr(profile, "reason", None) or "no personalization consent")
            return self._results(query, mode, self.candidates(query, k, mode=mode, mask=mask,
                                                              query_vector=query_vector),
                                 notice=None if notice is None else f"not personalized: {notice}")
        if named:
            plan = self.personalizer_.plan(profile, query, named=tuple(named))
        else:  # the two-argument call keeps custom personalizers without ``named`` working
            plan = self.personalizer_.plan(profile, query)
        allowed = ~plan.hide if mask is None else (~plan.hide & mask)
        pool = self.candidates(query, max(self.rerank_depth, k), mode=mode, mask=allowed,
                               query_vector=query_vector)
        hidden: tuple[HiddenResult, ...] = ()
        if explain_hidden or len(pool) == 0:
            plain = self.candidates(query, k, mode=mode, mask=mask, query_vector=query_vector)
            hidden = tuple(
                HiddenResult(self.corpus_[r].id, self.corpus_[r].title, rank,
                             self.personalizer_.hidden_reasons(r, plan))
                for rank, r in enumerate(plain.rows.tolist(), start=1) if plan.hide[r])
            if len(pool) == 0:
                return self._results(query, mode, plain, hidden=hidden, notice=(
                    "your profile would hide every match; showing the best unpersonalized matches instead"))
        reranked, base = self.personalizer_.rerank(pool, plan, k)
        return self._results(query, mode, reranked, plan=plan, base=base, pool=pool, personalized=True,
                             hidden=hidden if explain_hidden else ())

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        from .index.bm25_persistence import write_bm25, write_corpus
        from .index.storage import IndexWriter

        writer = IndexWriter(path)
        write_corpus(writer, self.corpus_)
        if self.bm25_ is not None:
            write_bm25(writer, self.bm25_)
        if self.dense_ is not None:
            from .index.dense_persistence import write_dense

            write_dense(writer, self.dense_)
        from .personalize.applicability import write_applicability

        write_applicability(writer, self.personalizer_.applicability_)
        writer.components["searcher"] = {"mode": self.mode, "fusion": self.fusion,
                                         "fusion_params": self.fusion_params, "depth": self.depth,
                                         "rerank_depth": self.rerank_depth}
        writer.commit()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, encoder: Any = None, mmap: bool = True,
             personalizer: Any = None) -> Searcher:
        from .index.bm25_persistence import read_bm25, read_corpus
        from .index.storage import IndexReader

        reader = IndexReader(path)
        config = reader.components.get("searcher")
        if config is None:
            if "bm25" not in reader.components:
                raise IndexFormatError("the directory holds no searchable index", path=str(path))
            config = {"mode": "bm25"}
        searcher = cls(mode=config["mode"], fusion=config.get("fusion", "rrf"), personalizer=personalizer,
                       fusion_params=config.get("fusion_params"), depth=config.get("depth", 100),
                       rerank_depth=config.get("rerank_depth", 100))
        searcher.corpus_ = read_corpus(reader)
        searcher.bm25_ = read_bm25(reader, mmap=mmap) if "bm25" in reader.components else None
        searcher.dense_ = None
        if "dense" in reader.components:
            from .index.dense_persistence import read_dense

            searcher.dense_ = read_dense(reader, encoder=encoder, mmap=mmap)
        applicability = None
        if "applicability" in reader.components:
            from .personalize.applicability import read_applicability

            applicability = read_applicability(reader)
        searcher._fit_personalizer(applicability)
        return searcher
