"""Save and load `BM25Index` in an index directory (see `kbrank.index.storage` for the format).

The component ``"bm25"`` stores the parameters and analyzer configuration in the manifest, the term
counts and the CSC weights as ``.npy`` arrays (memory-mapped on load), and the vocabulary as JSONL.
The corpus (if the index has one) is the ``"corpus"`` component, shared with other indexes in a directory.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..analysis import Analyzer
from ..corpus import Corpus, article_from_record, article_to_record
from ..errors import IndexFormatError
from .storage import IndexReader, IndexWriter
from .term_counts import TermCounts

__all__ = ["save_bm25", "load_bm25", "write_bm25", "read_bm25", "write_corpus", "read_corpus"]

_COUNT_ARRAYS = ("indptr", "term_ids", "counts", "doc_len")
_WEIGHT_ARRAYS = ("col_ptr", "row_idx", "data", "idf")


def write_corpus(writer: IndexWriter, corpus: Corpus) -> None:
    writer.add_jsonl("corpus", (article_to_record(a) for a in corpus))
    writer.components["corpus"] = {"articles": len(corpus)}


def read_corpus(reader: IndexReader) -> Corpus:
    source = str(reader.file("corpus"))
    return Corpus((article_from_record(obj, source=source, line=n) for n, obj in reader.jsonl("corpus")),
                  source=source)


def write_bm25(writer: IndexWriter, index, prefix: str = "bm25") -> None:
    index._check_fitted()
    counts: TermCounts = index.counts_
    for name in _COUNT_ARRAYS:
        writer.add_array(f"{prefix}.{name}", getattr(counts, name))
    for name, value in (("col_ptr", index.col_ptr_), ("row_idx", index.row_idx_), ("data", index.data_),
                        ("idf", index.idf_)):
        writer.add_array(f"{prefix}.{name}", value)
    if index.base_ is not None:
        writer.add_array(f"{prefix}.base", index.base_)
    writer.add_jsonl(f"{prefix}.terms", counts.terms)
    writer.components[prefix] = {
        "class": "BM25Index",
        "params": index.get_params(),
        "analyzer": index.analyzer_.to_config(),
        "articles": counts.n_docs,
        "terms": counts.n_terms,
        "has_corpus": index.corpus_ is not None,
    }


def read_bm25(reader: IndexReader, prefix: str = "bm25", *,
              tokenizer: Callable[[str], Sequence[str]] | None = None, mmap: bool = True):
    from .bm25 import BM25Index

    meta = reader.components.get(prefix)
    if meta is None or meta.get("class") != "BM25Index":
        raise IndexFormatError(f"the index has no BM25 component {prefix!r}", path=str(reader.path),
                               fix="build it with `kbrank index` (mode bm25 or hybrid)")
    index = BM25Index(analyzer=Analyzer.from_config(meta["analyzer"], tokenizer=tokenizer), **meta["params"])
    terms = []
    for line, term in reader.jsonl(f"{prefix}.terms"):
        if not isinstance(term, str):
            raise IndexFormatError(f"vocabulary line {line} is not a string", path=str(reader.file(f"{prefix}.terms")))
        terms.append(term)
    arrays = {name: reader.array(f"{prefix}.{name}", mmap=mmap) for name in _COUNT_ARRAYS + _WEIGHT_ARRAYS}
    counts = TermCounts(arrays["indptr"], arrays["term_ids"], arrays["counts"], arrays["doc_len"], tuple(terms))
    if counts.n_terms != meta["terms"] or counts.n_docs != meta["articles"]:
        raise IndexFormatError("array sizes disagree with the manifest", path=str(reader.path))
    corpus = read_corpus(reader) if meta.get("has_corpus") else None
    if corpus is not None and len(corpus) != counts.n_docs:
        raise IndexFormatError("the corpus and the BM25 arrays have different sizes", path=str(reader.path))
    base = reader.array(f"{prefix}.base", mmap=mmap) if reader.has(f"{prefix}.base") else None
    index._set_state(counts, corpus, np.asarray(arrays["col_ptr"]), arrays["row_idx"], arrays["data"],
                     arrays["idf"], base)
    return index


def save_bm25(index, path: str) -> None:
    writer = IndexWriter(path)
    write_bm25(writer, index)
    if index.corpus_ is not None:
        write_corpus(writer, index.corpus_)
    writer.commit()


def load_bm25(path: str, *, tokenizer: Callable[[str], Sequence[str]] | None = None, mmap: bool = True):
    return read_bm25(IndexReader(path), tokenizer=tokenizer, mmap=mmap)
