"""Saving and loading a whole `kbrank.searcher.Searcher`: one index directory (see `kbrank.storage`) holding
the corpus, each index, the personalizer (policy, product aliases, learned model) and the search settings."""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ._searcher_checks import MAX_QUERY_CHARS, MAX_QUERY_TERMS
from .candidates import Candidates
from .corpus import Corpus
from .errors import IndexFormatError
from .retrieval.fusion import DEFAULT_FUSION
from .retrieval.hybrid import DEFAULT_DEPTH

if TYPE_CHECKING:
    from .storage import IndexReader, IndexWriter, Section

__all__ = ["SETTINGS", "SearcherState", "check_fusion", "read_indexes", "read_settings", "write_searcher"]

#: The search settings saved beside the indexes (the manifest's ``"searcher"`` component).
SETTINGS = ("mode", "fusion", "fusion_params", "depth", "rerank_depth", "max_query_chars", "max_query_terms")


@dataclass(frozen=True, eq=False)
class SearcherState:
    """One consistent snapshot of a built searcher: a search reads it once, an edit replaces it whole.

    ``template`` is the personalizer (unfitted) that `personalizer` fits on this snapshot's corpus. Fitting
    reads every article's applicability, so a loaded searcher fits it on first use (a personalized search),
    and a search without a profile never parses the articles it does not show; `fit_personalizer` fits now.
    A loaded corpus brings its applicability compiled (`kbrank.corpus.io.saved_applicability`), so fitting
    parses no article; an edited corpus is a new one and compiles its own.
    """

    corpus: Corpus
    bm25: Any  # BM25Index or None
    dense: Any  # DenseIndex or None
    template: Any  # an unfitted Personalizer
    _fitted: list[Any] = field(default_factory=list, init=False, repr=False)  # [the fitted personalizer]
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def personalizer(self) -> Any:
        """The personalizer fitted on this snapshot's corpus (fitted on first use, once)."""
        if not self._fitted:
            with self._lock:
                if not self._fitted:
                    from .corpus.io import saved_applicability

                    stored = saved_applicability(self.corpus)
                    self._fitted.append(self.template.fit(self.corpus) if stored is None
                                        else self.template.fit(self.corpus, applicability=stored))
        return self._fitted[0]

    def fit_personalizer(self) -> SearcherState:
        """Fit the personalizer now (so that its errors surface here), and return this snapshot."""
        self.personalizer  # noqa: B018 - the property fits it
        return self


@functools.cache
def _saved_settings() -> type[Section]:
    """The schema of the manifest's ``"searcher"`` component (built on first use: pydantic loads lazily)."""
    from .storage import Section

    class SavedSettings(Section):
        mode: str
        fusion: str = DEFAULT_FUSION
        fusion_params: dict[str, float | str | bool | None | dict[str, float]] = {}
        depth: int = DEFAULT_DEPTH
        rerank_depth: int = 100
        max_query_chars: int = MAX_QUERY_CHARS
        max_query_terms: int = MAX_QUERY_TERMS

    return SavedSettings


def check_fusion(method: str, params: Mapping[str, Any] | None) -> None:
    """Run the fusion method once on empty runs, so its own checks judge ``params`` now, not at the first search."""
    from .retrieval.fusion import fuse

    fuse({"bm25": Candidates.empty(), "dense": Candidates.empty()}, 1, method=method, **dict(params or {}))


def write_searcher(writer: IndexWriter, state: SearcherState, settings: Mapping[str, Any]) -> None:
    """Write one snapshot and the search ``settings`` (`SETTINGS`)."""
    from .corpus.io import write_corpus
    from .index.bm25_persistence import write_bm25
    from .personalize.persistence import write_personalizer

    personalizer = state.personalizer  # fitted on this corpus: its applicability is the corpus's, compiled
    write_corpus(writer, state.corpus, applicability=personalizer.applicability_)
    if state.bm25 is not None:
        write_bm25(writer, state.bm25.state_, params=state.bm25.get_params(), analyzer=state.bm25.analyzer_.to_config())
    if state.dense is not None:
        from .index.dense_persistence import write_dense

        write_dense(writer, state.dense.state_, params=state.dense.get_params(), encoder=state.dense.encoder_)
    write_personalizer(writer, personalizer)
    writer.components["searcher"] = {name: settings[name] for name in SETTINGS}


def read_settings(reader: IndexReader, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The saved search settings (`SETTINGS`), checked against the schema."""
    config = reader.components.get("searcher")
    if not isinstance(config, Mapping) or "mode" not in config:
        raise IndexFormatError("the directory holds no searcher (manifest component 'searcher')", path=str(path),
                               fix="build it with `kbrank index` or Searcher(...).build(corpus).save(path)")
    section = reader.section(_saved_settings(), "searcher")
    return {name: getattr(section, name) for name in SETTINGS}


def read_indexes(reader: IndexReader, path: str | os.PathLike[str], *, mode: str, encoder: Any, mmap: bool,
                 personalizer: bool, kernels: str = "compiled") -> tuple[Corpus, Any, Any, Any]:
    """(corpus, BM25 index or None, dense index or None, saved personalizer or None unless ``personalizer``);
    ``kernels`` is the BM25 index's (see `kbrank.index.BM25Index.load`)."""
    from .corpus.io import read_corpus
    from .index import BM25Index
    from .index.bm25 import check_kernels
    from .personalize.persistence import read_personalizer

    check_kernels(kernels)  # before any work, and for an index without BM25 too
    corpus = read_corpus(reader)
    bm25 = BM25Index.read(reader, corpus=corpus, mmap=mmap, kernels=kernels) if "bm25" in reader.components else None
    dense = None
    if "dense" in reader.components:
        from .index import DenseIndex

        dense = DenseIndex.read(reader, corpus=corpus, encoder=encoder, mmap=mmap)
    if (bm25 is None and mode != "dense") or (dense is None and mode != "bm25"):
        raise IndexFormatError(f"the {mode} searcher lacks an index it needs", path=str(path), fix="rebuild the index")
    return corpus, bm25, dense, read_personalizer(reader) if personalizer else None
