"""`Searcher`: the facade that holds a corpus and its indexes and answers ``search(query, k)``.

Modes: ``"bm25"`` (lexical only), ``"dense"`` (embeddings only) and ``"hybrid"`` (both, fused). Built from a
corpus, or loaded from an index directory that holds the corpus and every index it needs.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import numpy as np

from .corpus import Corpus
from .errors import IndexFormatError, ParameterError
from .results import Result, Results, SourceHit
from .retrieval.candidates import Candidates, SourceScores

__all__ = ["Searcher", "MODES"]

MODES = ("bm25", "dense", "hybrid")
Progress = Callable[[str, int, int], None]


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ParameterError("mode", f"one of {MODES}", mode)


class Searcher:
    """Search a corpus in one of three modes.

    Parameters (keyword-only): ``mode`` (``"hybrid"`` by default), ``bm25`` (a `BM25Index`, unbuilt, to
    configure it), ``dense`` (a `DenseIndex`, unbuilt), ``fusion`` (``"rrf"`` or ``"weighted"``),
    ``fusion_params`` (for example ``{"constant": 60}``) and ``depth`` (candidates per source before fusion).
    """

    def __init__(self, *, mode: str = "hybrid", bm25: Any = None, dense: Any = None, fusion: str = "rrf",
                 fusion_params: Mapping[str, Any] | None = None, depth: int = 100) -> None:
        self.mode = mode
        self.bm25 = bm25
        self.dense = dense
        self.fusion = fusion
        self.fusion_params = dict(fusion_params or {})
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
        return self

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
                   mask: np.ndarray | None = None) -> Candidates:
        """Rows and scores (the internal currency); `search` turns them into `Results` with ids."""
        mode = mode or self.mode
        _check_mode(mode)
        if mode not in self.available_modes():
            raise ParameterError("mode", f"one this searcher was built for {self.available_modes()}", mode,
                                 hint="rebuild with that mode (kbrank index --mode ...)")
        found = self._retriever(mode).search(query, k, mask=mask)
        if not found.sources:
            found = Candidates(found.rows, found.scores,
                               sources={mode: SourceScores(np.arange(1, len(found) + 1), found.scores)})
        return found

    def search(self, query: str, k: int = 10, *, mode: str | None = None,
               mask: np.ndarray | None = None) -> Results:
        found = self.candidates(query, k, mode=mode, mask=mask)
        items = []
        for i, (row, score) in enumerate(zip(found.rows.tolist(), found.scores.tolist())):
            article = self.corpus_[row]
            sources = {name: SourceHit(rank=int(s.ranks[i]) or None,
                                       score=None if np.isnan(s.scores[i]) else float(s.scores[i]))
                       for name, s in found.sources.items()}
            items.append(Result(rank=i + 1, article_id=article.id, title=article.title, url=article.url,
                                score=float(score), sources=sources))
        return Results(query=query, mode=mode or self.mode, items=tuple(items))

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
        writer.components["searcher"] = {"mode": self.mode, "fusion": self.fusion,
                                         "fusion_params": self.fusion_params, "depth": self.depth}
        writer.commit()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, encoder: Any = None, mmap: bool = True) -> Searcher:
        from .index.bm25_persistence import read_bm25, read_corpus
        from .index.storage import IndexReader

        reader = IndexReader(path)
        config = reader.components.get("searcher")
        if config is None:
            if "bm25" not in reader.components:
                raise IndexFormatError("the directory holds no searchable index", path=str(path))
            config = {"mode": "bm25"}
        searcher = cls(mode=config["mode"], fusion=config.get("fusion", "rrf"),
                       fusion_params=config.get("fusion_params"), depth=config.get("depth", 100))
        searcher.corpus_ = read_corpus(reader)
        searcher.bm25_ = read_bm25(reader, mmap=mmap) if "bm25" in reader.components else None
        searcher.dense_ = None
        if "dense" in reader.components:
            from .index.dense_persistence import read_dense

            searcher.dense_ = read_dense(reader, encoder=encoder, mmap=mmap)
        return searcher
