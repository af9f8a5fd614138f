"""Write and read a `BM25State` in an index directory (see `kbrank.storage` for the format).

The component (``"bm25"`` by default) stores the parameters and the analyzer configuration in the manifest,
the term counts and the CSC weights as ``.npy`` arrays (memory-mapped on load) and the vocabulary as JSONL.
The corpus is the directory's shared ``"corpus"`` component (`kbrank.corpus.io`). Reading validates every
array against the others before the state is used (`BM25State.validate`), so a crafted file is refused
with `IndexFormatError`, never handed to the compiled kernels.

This module knows the state, not the index class: `BM25Index.save` and `BM25Index.read` call it.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..corpus.io import read_corpus
from ..errors import IndexFormatError
from ..storage import IndexReader, IndexWriter
from .bm25_state import BM25State
from .term_counts import TermCounts

__all__ = ["write_bm25", "read_bm25"]

_COUNT_ARRAYS = ("indptr", "term_ids", "counts", "doc_len")
_WEIGHT_ARRAYS = ("col_ptr", "row_idx", "data", "idf")
_PARAMS = ("variant", "k1", "b", "epsilon", "delta", "title_weight", "dense_share", "broad_share")


def write_bm25(writer: IndexWriter, state: BM25State, *, params: Mapping[str, Any], analyzer: Mapping[str, Any],
               prefix: str = "bm25") -> None:
    """Add the state's files and manifest entry to ``writer`` (the corpus is written by the caller)."""
    for name in _COUNT_ARRAYS:
        writer.add_array(f"{prefix}.{name}", getattr(state.counts, name))
    for name in _WEIGHT_ARRAYS:
        writer.add_array(f"{prefix}.{name}", getattr(state, name))
    if state.base is not None:
        writer.add_array(f"{prefix}.base", state.base)
    writer.add_jsonl(f"{prefix}.terms", state.counts.terms)
    writer.components[prefix] = {
        "class": "BM25Index", "params": dict(params), "analyzer": dict(analyzer), "articles": state.n_docs,
        "terms": state.counts.n_terms, "has_corpus": state.corpus is not None, "has_base": state.base is not None,
    }


def read_bm25(reader: IndexReader, prefix: str = "bm25", *, corpus: Any = None,
              mmap: bool = True) -> tuple[dict[str, Any], dict[str, Any], BM25State]:
    """``(params, analyzer_config, state)`` of the component; ``corpus`` is read from the directory unless given."""
    where = str(reader.path)
    meta = reader.components.get(prefix)
    if not isinstance(meta, Mapping) or meta.get("class") != "BM25Index":
        raise IndexFormatError(f"the index has no BM25 component {prefix!r}", path=where,
                               fix="build it with `kbrank index` (mode bm25 or hybrid)")
    params = {name: meta["params"][name] for name in _PARAMS if name in meta["params"]}
    terms = []
    for line, term in reader.jsonl(f"{prefix}.terms"):
        if not isinstance(term, str):
            raise IndexFormatError(f"vocabulary line {line} is not a string", path=str(reader.file(f"{prefix}.terms")))
        terms.append(term)
    arrays = {name: reader.array(f"{prefix}.{name}", mmap=mmap) for name in _COUNT_ARRAYS + _WEIGHT_ARRAYS}
    counts = TermCounts(arrays["indptr"], arrays["term_ids"], arrays["counts"], arrays["doc_len"], tuple(terms))
    if counts.n_terms != meta["terms"] or counts.n_docs != meta["articles"]:
        raise IndexFormatError("array sizes disagree with the manifest", path=where, fix="rebuild the index")
    if meta["has_corpus"] and corpus is None:
        corpus = read_corpus(reader)
    base = reader.array(f"{prefix}.base", mmap=mmap) if meta["has_base"] else None
    raw = BM25State(counts, corpus if meta["has_corpus"] else None, np.asarray(arrays["col_ptr"]),
                    arrays["row_idx"], arrays["data"], arrays["idf"], base, np.empty(0, np.int64),
                    np.empty(0, np.int64), np.zeros((0, 0)), False)
    raw.validate(where)
    state = BM25State.assemble(raw.counts, raw.corpus, raw.col_ptr, raw.row_idx, raw.data, raw.idf, raw.base,
                               dense_share=int(params.get("dense_share", 8)))
    return params, dict(meta["analyzer"]), state
