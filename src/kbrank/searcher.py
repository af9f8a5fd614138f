"""`Searcher`: the facade that holds a corpus and its indexes and answers ``search(query, k)``.

Modes: ``"bm25"`` (lexical only), ``"dense"`` (embeddings only) and ``"hybrid"`` (both, fused). Built from a
corpus, or loaded from an index directory that holds the corpus, every index it needs and the personalizer's
settings, so a loaded searcher ranks and explains exactly as the saved one did.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Mapping

import numpy as np

from ._params import clone
from .candidates import Candidates, SourceScores, check_k
from .corpus import Corpus
from .errors import IndexFormatError, NotFittedError, ParameterError, suggestion
from .results import HiddenResult, Result, Results, SourceHit
from .retrieval.fusion import DEFAULT_FUSION
from .retrieval.hybrid import DEFAULT_DEPTH

__all__ = ["Searcher", "MODES", "SEARCH_PURPOSES"]

MODES = ("bm25", "dense", "hybrid")
#: The purposes of the views `Searcher.search` personalizes with (``chat`` views come from the chat retriever).
SEARCH_PURPOSES = ("personalization", "chat")
Progress = Callable[[str, int, int], None]


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise ParameterError("mode", f"one of {MODES}", mode, hint=suggestion(mode, MODES))
    return str(mode)


def check_profile(profile: Any, purposes: tuple[str, ...] = SEARCH_PURPOSES) -> None:
    """Refuse anything but a `ProfileView` read for one of ``purposes`` (or ``None``), saying how to get one."""
    from .privacy import ProfileView

    if profile is None:
        return
    if not isinstance(profile, ProfileView):
        raise TypeError(
            f"profile must be a kbrank.ProfileView or None, not {type(profile).__name__}. Get a view through the "
            f"privacy gate, gateway.read(customer_id, 'personalization', degrade=True), or in a notebook build one "
            f"with ProfileView.of('personalization', owned=..., region=...)")
    if profile.purpose not in purposes:
        raise ParameterError("profile", f"a view read for {' or '.join(map(repr, purposes))}",
                             f"a view read for {profile.purpose!r}",
                             hint="read the profile again for that purpose: each purpose hands out only what it needs, "
                                  "and a view for another purpose must not rank search results")


@functools.cache
def _saved_settings() -> type:
    """The schema of the manifest's ``"searcher"`` component (built on first use: pydantic loads lazily)."""
    from .storage import Section

    class SavedSettings(Section):
        mode: str
        fusion: str = DEFAULT_FUSION
        fusion_params: dict[str, float | str | bool | None | dict[str, float]] = {}
        depth: int = DEFAULT_DEPTH
        rerank_depth: int = 100

    return SavedSettings


def _check_fusion(method: str, params: Mapping[str, Any] | None) -> None:
    """Run the fusion method once on empty runs, so its own checks judge ``params`` now, not at the first search."""
    from .retrieval.fusion import fuse

    fuse({"bm25": Candidates.empty(), "dense": Candidates.empty()}, 1, method=method, **dict(params or {}))


class Searcher:
    """Search a corpus in one of three modes.

    Parameters (keyword-only, stored unchanged): ``mode`` (``"hybrid"`` by default), ``bm25`` (a `BM25Index`
    template, unbuilt, to configure it), ``dense`` (a `DenseIndex` template), ``fusion`` (``"rrf"`` or
    ``"weighted"``), ``fusion_params`` (the method's parameters; RRF's constant is 30 by default), ``depth`` (candidates per source
    before fusion, 500; both defaults were chosen on the BEIR dev splits), ``personalizer`` (a
    `Personalizer` template; default settings otherwise) and ``rerank_depth`` (candidates the personalizer
    reranks, 100). `build` clones the templates, so they are never changed.
    """

    def __init__(self, *, mode: str = "hybrid", bm25: Any = None, dense: Any = None, fusion: str = DEFAULT_FUSION,
                 fusion_params: Mapping[str, Any] | None = None, depth: int = DEFAULT_DEPTH, personalizer: Any = None,
                 rerank_depth: int = 100) -> None:
        self.mode = mode
        self.bm25 = bm25
        self.dense = dense
        self.fusion = fusion
        self.fusion_params = fusion_params
        self.depth = depth
        self.personalizer = personalizer
        self.rerank_depth = rerank_depth

    def _check_params(self) -> None:
        _check_mode(self.mode)
        from .retrieval.fusion import FUSION

        if self.fusion not in FUSION:
            raise ParameterError("fusion", f"one of {sorted(FUSION)}", self.fusion)
        for name in ("depth", "rerank_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(name, "an integer >= 1", value)
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

    def _install(self, corpus: Corpus, bm25: Any, dense: Any, personalizer: Any) -> None:
        from .personalize import Personalizer

        template = clone(personalizer) if personalizer is not None else Personalizer()
        if template.analyzer is None and bm25 is not None:
            template.analyzer = bm25.analyzer_
        self.corpus_ = corpus
        self.bm25_ = bm25
        self.dense_ = dense
        self.personalizer_ = template.fit(corpus)

    def _fitted(self) -> None:
        if "corpus_" not in self.__dict__:
            raise NotFittedError("this Searcher is not built yet; call build(corpus) or Searcher.load(path)")

    def available_modes(self) -> tuple[str, ...]:
        self._fitted()
        have = {"bm25": self.bm25_ is not None, "dense": self.dense_ is not None}
        return tuple(m for m in MODES if (m == "hybrid" and all(have.values())) or have.get(m, False))

    def _mode(self, mode: str | None) -> str:
        self._fitted()
        mode = _check_mode(self.mode if mode is None else mode)
        if mode not in self.available_modes():
            raise ParameterError("mode", f"one this searcher was built for {self.available_modes()}", mode,
                                 hint="rebuild with that mode (kbrank index --mode ...)")
        return mode

    # -- searching ---------------------------------------------------------------------------------
    def query_vector(self, query: str, mode: str | None = None) -> np.ndarray | None:
        """The dense query vector when ``mode`` uses the dense index (encode a query once, search it often)."""
        return self.dense_.encode_query(query) if self._mode(mode) != "bm25" else None

    def candidates(self, query: str, k: int = 10, *, mode: str | None = None, mask: np.ndarray | None = None,
                   query_vector: np.ndarray | None = None) -> Candidates:
        """Rows and scores (the internal currency); `search` turns them into `Results` with ids.

        ``mask`` filters before the top-k and never reorders the articles it keeps. ``query_vector`` (from
        `query_vector`) saves encoding the query again.
        """
        mode = self._mode(mode)
        if not isinstance(query, str):
            raise ParameterError("query", "a string", type(query).__name__)
        k = check_k(k)
        if mode == "hybrid":
            from .retrieval.hybrid import HybridRetriever

            retriever = HybridRetriever(self.bm25_, self.dense_, fusion=self.fusion, depth=self.depth,
                                        fusion_params=self.fusion_params)
            return retriever.search(query, k, mask=mask, query_vector=query_vector)
        if mode == "bm25":
            found = self.bm25_.search(query, k, mask=mask)
        else:
            found = self.dense_.search(query if query_vector is None else query_vector, k, mask=mask)
        return Candidates(found.rows, found.scores,
                          sources={mode: SourceScores(np.arange(1, len(found) + 1), found.scores)})

    def _results(self, query: str, mode: str, found: Candidates, *, explained: tuple[Any, ...] = (),
                 base: np.ndarray | None = None, pool: Candidates | None = None, **extra: Any) -> Results:
        fused = {} if pool is None else dict(zip(pool.rows.tolist(), pool.scores.tolist()))
        items = []
        for i, (row, score) in enumerate(zip(found.rows.tolist(), found.scores.tolist())):
            article = self.corpus_[row]
            sources = {name: SourceHit(rank=int(s.ranks[i]) or None,
                                       score=None if np.isnan(s.scores[i]) else float(s.scores[i]))
                       for name, s in found.sources.items()}
            personal = {} if base is None else {"fused_score": fused.get(row), "retrieval_score": float(base[i]),
                                                "contributions": explained[i]}
            items.append(Result(rank=i + 1, article_id=article.id, title=article.title, url=article.url,
                                score=float(score), sources=sources, **personal))
        return Results(query=query, mode=mode, items=tuple(items), **extra)

    def search(self, query: str, k: int = 10, *, mode: str | None = None, mask: np.ndarray | None = None,
               profile: Any = None, explain_hidden: bool = False) -> Results:
        """The best ``k`` articles; with a ``profile`` (a `ProfileView` read for purpose personalization),
        reranked for that customer, each result with its receipt.

        With no profile, or a view without consent (not ``personalized``), the ranking is exactly the
        unpersonalized one. Hidden articles are masked out before any top-k, without reordering the others.
        If the profile would hide every match, the best unpersonalized matches are returned and ``notice``
        says so. ``explain_hidden`` also lists the articles the profile hid from the unpersonalized top ``k``.
        The query is encoded once, however many retrievals the request needs.
        """
        from .personalize import is_personalized

        check_profile(profile)
        mode = self._mode(mode)
        k = check_k(k)
        if not is_personalized(profile):
            notice = None if profile is None else f"not personalized: {profile.reason or 'no personalization consent'}"
            return self._results(query, mode, self.candidates(query, k, mode=mode, mask=mask), notice=notice)
        personalizer = self.personalizer_
        plan = personalizer.plan(profile, query)
        vector = self.query_vector(query, mode)
        allowed = ~plan.hide if mask is None else (~plan.hide & mask)
        pool = self.candidates(query, max(self.rerank_depth, k), mode=mode, mask=allowed, query_vector=vector)
        hidden: tuple[HiddenResult, ...] = ()
        if explain_hidden or len(pool) == 0:
            plain = self.candidates(query, k, mode=mode, mask=mask, query_vector=vector)
            rows = plain.rows[plan.hide[plain.rows]]
            ranks = np.flatnonzero(plan.hide[plain.rows]) + 1
            reasons = personalizer.hidden_reasons(rows, profile, plan)
            hidden = tuple(HiddenResult(self.corpus_[r].id, self.corpus_[r].title, int(rank), why)
                           for r, rank, why in zip(rows.tolist(), ranks.tolist(), reasons))
            if len(pool) == 0:
                return self._results(query, mode, plain, hidden=hidden, notice=(
                    "your profile would hide every match; showing the best unpersonalized matches instead"))
        reranked, base = personalizer.rerank(pool, plan, k)
        explained = tuple(personalizer.explain(reranked.rows, profile, plan))
        return self._results(query, mode, reranked, explained=explained, base=base, pool=pool, personalized=True,
                             hidden=hidden if explain_hidden else ())

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> None:
        """Save the whole searcher to an index directory: the corpus, each index, the personalizer's
        settings (policy, product aliases, learned model) and the search settings; atomic.

        ``path`` must be new, empty or an index directory kbrank wrote; ``force=True`` also allows another
        non-empty directory (kbrank never deletes or overwrites files it did not write; see `kbrank.storage`)."""
        self._fitted()
        from .corpus.io import write_corpus
        from .index.bm25_persistence import write_bm25
        from .personalize.persistence import write_personalizer
        from .storage import IndexWriter

        with IndexWriter(path, force=force) as writer:
            write_corpus(writer, self.corpus_)
            if self.bm25_ is not None:
                write_bm25(writer, self.bm25_.state_, params=self.bm25_.get_params(),
                           analyzer=self.bm25_.analyzer_.to_config())
            if self.dense_ is not None:
                from .index.dense_persistence import write_dense

                write_dense(writer, self.dense_.state_, params=self.dense_.get_params(),
                            encoder=self.dense_.encoder_)
            write_personalizer(writer, self.personalizer_)
            writer.components["searcher"] = {"mode": self.mode, "fusion": self.fusion,
                                             "fusion_params": dict(self.fusion_params or {}),
                                             "depth": self.depth, "rerank_depth": self.rerank_depth}
            writer.commit()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, encoder: Any = None, mmap: bool = True,
             personalizer: Any = None) -> Searcher:
        """Load a directory written by `save` (checksums and array bounds verified). ``personalizer`` replaces
        the saved personalizer settings; ``encoder`` is the dense encoder when it is not the default model."""
        from .corpus.io import read_corpus
        from .index import BM25Index
        from .personalize.persistence import read_personalizer
        from .storage import IndexReader

        with IndexReader(path) as reader:
            config = reader.components.get("searcher")
            if not isinstance(config, Mapping) or "mode" not in config:
                raise IndexFormatError("the directory holds no searcher (manifest component 'searcher')",
                                       path=str(path),
                                       fix="build it with `kbrank index` or Searcher(...).build(corpus).save(path)")
            config = reader.section(_saved_settings(), "searcher")
            searcher = cls(mode=config.mode, fusion=config.fusion, fusion_params=config.fusion_params,
                           depth=config.depth, rerank_depth=config.rerank_depth, personalizer=personalizer)
            try:
                searcher._check_params()
                _check_fusion(searcher.fusion, searcher.fusion_params)
            except (ParameterError, TypeError) as exc:
                raise IndexFormatError(f"invalid searcher settings ({exc})", path=str(path),
                                       fix="rebuild the index") from None
            corpus = read_corpus(reader)
            bm25 = BM25Index.read(reader, corpus=corpus, mmap=mmap) if "bm25" in reader.components else None
            dense = None
            if "dense" in reader.components:
                from .index import DenseIndex

                dense = DenseIndex.read(reader, corpus=corpus, encoder=encoder, mmap=mmap)
            if (bm25 is None and searcher.mode != "dense") or (dense is None and searcher.mode != "bm25"):
                raise IndexFormatError(f"the {searcher.mode} searcher lacks an index it needs", path=str(path),
                                       fix="rebuild the index")
            saved = read_personalizer(reader) if personalizer is None else None
        searcher._install(corpus, bm25, dense, personalizer if personalizer is not None else saved)
        return searcher

    def __repr__(self) -> str:
        size = f", {len(self.corpus_)} articles" if "corpus_" in self.__dict__ else ""
        return f"Searcher(mode={self.mode!r}{size})"
