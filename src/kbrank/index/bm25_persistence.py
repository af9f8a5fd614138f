"""Write and read a `BM25State` in an index directory (see `kbrank.storage` for the format).

The component (``"bm25"`` by default) stores the parameters and the analyzer configuration in the manifest,
the term counts (`TermCounts`: the only per-posting arrays; weights are computed at query time) as ``.npy``
arrays and the vocabulary as JSONL. On load the arrays are memory-mapped read-only (``mmap=True``): the
reader has verified each file's sha256 by streaming it once, keeping no copy, so the pages it read stay in
the shared page cache for the mapping. Edits after a load build new arrays and never write into the maps.
The corpus is the directory's shared ``"corpus"`` component (`kbrank.corpus.io`). Reading validates every
array against the others before the state is used (`BM25State.validate`), so a crafted file is refused
with `IndexFormatError`, never handed to the compiled kernels.

This module knows the state, not the index class: `BM25Index.save` and `BM25Index.read` call it.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Mapping, Protocol, TypeVar

from pydantic import Field

from ..corpus.io import read_corpus
from ..errors import IndexFormatError, ParameterError
from ..storage import IndexReader, IndexWriter, Section
from .bm25_state import BM25State
from .term_counts import TermCounts

__all__ = ["write_bm25", "read_bm25"]

_COUNT_ARRAYS = ("col_ptr", "rows", "counts", "ranks", "doc_len")


class _Scoring(Protocol):
    """What reading needs of the index `build` makes (a `BM25Index`; bm25.py calls this module, not back)."""

    variant: str
    k1: float
    b: float

    def _extra(self) -> dict[str, float]: ...


Index = TypeVar("Index", bound=_Scoring)


class _Analyzer(Section):
    normalization: str | None = None
    lowercase: bool = True
    stopwords: str | list[str] | None = None
    stemmer: str | None = None
    tokenizer: str | None = None


class _Params(Section):
    """Types only; the values pass the constructor's own checks (`BM25Index._check_params`)."""

    variant: str = "okapi"
    k1: float = 1.5
    b: float = 0.75
    epsilon: float | None = None
    delta: float | None = None
    title_weight: int = 1
    broad_share: int = 4


class _Component(Section):
    class_: Literal["BM25Index"] = Field(alias="class")
    params: _Params
    analyzer: _Analyzer
    articles: int = Field(ge=1)
    terms: int = Field(ge=0)
    has_corpus: bool


def write_bm25(writer: IndexWriter, state: BM25State, *, params: Mapping[str, Any], analyzer: Mapping[str, Any],
               prefix: str = "bm25") -> None:
    """Add the state's files and manifest entry to ``writer`` (the corpus is written by the caller)."""
    for name in _COUNT_ARRAYS:
        writer.add_array(f"{prefix}.{name}", getattr(state.counts, name))
    writer.add_jsonl(f"{prefix}.terms", state.counts.terms)
    writer.components[prefix] = {
        "class": "BM25Index", "params": dict(params), "analyzer": dict(analyzer), "articles": state.n_docs,
        "terms": state.counts.n_terms, "has_corpus": state.corpus is not None,
    }


def read_bm25(reader: IndexReader, prefix: str = "bm25", *, corpus: Any = None, mmap: bool = True,
              build: Callable[[dict[str, Any], dict[str, Any]], Index],
              kernels: str = "compiled") -> tuple[Index, BM25State]:
    """``(index, state)`` of the component: ``build(params, analyzer_config)`` makes the (unfitted) index and
    runs the constructor's checks, whose `ParameterError` becomes an `IndexFormatError`; ``corpus`` is read
    from the directory unless given. The state is validated (by ``kernels``, see `BM25State.validate`) before it
    is returned."""
    where = str(reader.path)
    raw = reader.components.get(prefix)
    if isinstance(raw, dict) and isinstance(raw.get("params"), dict) and "dense_share" in raw["params"]:
        raise IndexFormatError(f"manifest.json, components.{prefix}: this BM25 index was saved by an earlier kbrank, "
                               "which stored float64 weights; this version stores compact term counts", path=where,
                               fix="rebuild the index with this kbrank (`kbrank index`, or Searcher.build + save)")
    meta = reader.component(_Component, prefix, written_by="BM25Index", what="BM25",
                            fix="build it with `kbrank index` (mode bm25 or hybrid)")
    params = meta.params.model_dump(include=set(meta.params.model_fields_set))
    try:
        index = build(params, meta.analyzer.model_dump(exclude_unset=True))
    except ParameterError as exc:
        if exc.parameter == "tokenizer":  # the caller must pass the custom tokenizer: not a damaged file
            raise
        raise IndexFormatError(f"manifest.json, components.{prefix}: invalid setting ({exc})", path=where,
                               fix="rebuild the index (the manifest was changed or damaged)") from None
    terms = []
    for line, term in reader.jsonl(f"{prefix}.terms"):
        if not isinstance(term, str):
            raise IndexFormatError(f"vocabulary line {line} is not a string", path=str(reader.file(f"{prefix}.terms")),
                                   fix="rebuild the index")
        terms.append(term)
    if len(set(terms)) != len(terms):
        raise IndexFormatError("the vocabulary lists a term twice", path=str(reader.file(f"{prefix}.terms")),
                               fix="rebuild the index")
    arrays = {name: reader.array(f"{prefix}.{name}", mmap=mmap) for name in _COUNT_ARRAYS}
    counts = TermCounts(arrays["col_ptr"], arrays["rows"], arrays["counts"], arrays["ranks"], arrays["doc_len"],
                        tuple(terms))
    BM25State.validate(counts, where, n_docs=meta.articles, n_terms=meta.terms, kernels=kernels)
    if meta.has_corpus and corpus is None:
        corpus = read_corpus(reader)
    if meta.has_corpus and len(corpus) != meta.articles:
        raise IndexFormatError(f"the BM25 arrays are inconsistent: {len(corpus)} articles in the corpus, "
                               f"{meta.articles} in the arrays", path=where, fix="rebuild the index")
    state = BM25State.assemble(counts, corpus if meta.has_corpus else None, variant=index.variant, k1=index.k1,
                               b=index.b, extra=index._extra())
    return index, state
