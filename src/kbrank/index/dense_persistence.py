"""Save and load `DenseIndex` in an index directory (see `kbrank.index.storage` for the format).

The component ``"dense"`` stores, besides its manifest entry (parameters, passage settings, and the
encoder's class, name, dimension and fingerprint):

- ``dense.faiss``: faiss's native file (``faiss.write_index``), checksummed like every other file;
- ``dense.passage_article``, ``dense.passage_start``, ``dense.passage_end``: int64 ``.npy`` arrays,
  one row per passage (faiss id = passage row);
- ``dense.embeddings``: float32 vectors, only for lossy index types (sq8, fp16), whose codes cannot give
  them back; edits re-quantize from them.

The corpus is the shared ``"corpus"`` component (written by `save_dense`, or once by whoever saves
several components into one directory).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import IndexFormatError, ParameterError
from .bm25_persistence import read_corpus, write_corpus
from .encoders import Encoder, SentenceTransformerEncoder
from .passages import Passages
from .storage import IndexReader, IndexWriter

__all__ = ["save_dense", "load_dense", "write_dense", "read_dense"]

_PASSAGE_ARRAYS = (("passage_article", "article_rows"), ("passage_start", "starts"), ("passage_end", "ends"))


def _encoder_record(encoder: Encoder) -> dict[str, Any]:
    record: dict[str, Any] = {"class": type(encoder).__name__, "name": encoder.name, "dim": int(encoder.dim),
                              "fingerprint": encoder.fingerprint}
    if isinstance(encoder, SentenceTransformerEncoder) and (encoder.model is None
                                                            or isinstance(encoder.model, (str, os.PathLike))):
        record["model"] = None if encoder.model is None else os.fspath(encoder.model)
    return record


def write_dense(writer: IndexWriter, index: Any, prefix: str = "dense") -> None:
    """Add a fitted `DenseIndex`'s files and manifest entry to ``writer`` (the corpus is not written)."""
    faiss = _faiss()
    index._check_fitted()
    writer.add_blob(f"{prefix}.faiss", "faiss", lambda path: faiss.write_index(index.faiss_index_, str(path)))
    for name, field in _PASSAGE_ARRAYS:
        writer.add_array(f"{prefix}.{name}", getattr(index.passages_, field))
    if index.embeddings_ is not None:
        writer.add_array(f"{prefix}.embeddings", np.asarray(index.embeddings_, dtype=np.float32))
    encoder = _encoder_record(index.encoder_)
    encoder["fingerprint"] = index.encoder_fingerprint_
    writer.components[prefix] = {
        "class": "DenseIndex",
        "params": index.get_params(),
        "encoder": encoder,
        "articles": len(index.corpus_),
        "passages": len(index.passages_),
        "dim": index.dim_,
        "metric": "inner_product",
        "has_embeddings": index.embeddings_ is not None,
    }


def _faiss() -> Any:
    from .dense_faiss import faiss_module

    return faiss_module()


def _resolve_encoder(meta: dict[str, Any], encoder: Encoder | None, where: str) -> Encoder:
    record = meta["encoder"]
    if encoder is None:
        if record.get("class") != "SentenceTransformerEncoder" or "model" not in record:
            raise ParameterError("encoder", f"the encoder this index was built with ({record.get('class')} "
                                 f"{record.get('name')!r})", None, hint="pass it: DenseIndex.load(path, encoder=...)")
        encoder = SentenceTransformerEncoder(record["model"])
    if int(encoder.dim) != record["dim"] or encoder.fingerprint != record["fingerprint"]:
        raise IndexFormatError(
            f"the index was built with encoder {record.get('name')!r} (dim {record['dim']}, fingerprint "
            f"{record['fingerprint'][:12]}...), but the given encoder {encoder.name!r} has dim {encoder.dim} and "
            f"fingerprint {encoder.fingerprint[:12]}...",
            path=where,
            fix="load with the encoder the index was built with, or rebuild the index with this one",
        )
    return encoder


def read_dense(reader: IndexReader, prefix: str = "dense", *, encoder: Encoder | None = None,
               cache_dir: str | os.PathLike[str] | None = None, mmap: bool = True) -> Any:
    """Rebuild a `DenseIndex` from ``reader`` (already checksum-verified) and its ``"corpus"`` component."""
    from .dense import DenseIndex
    from .dense_faiss import describe

    meta = reader.components.get(prefix)
    if meta is None or meta.get("class") != "DenseIndex":
        raise IndexFormatError(f"the index has no dense component {prefix!r}", path=str(reader.path),
                               fix="build it with DenseIndex(...).build(corpus) and save it")
    where = str(reader.path)
    resolved = _resolve_encoder(meta, encoder, where)
    index = DenseIndex(encoder, cache_dir=cache_dir, **meta["params"])
    if encoder is None:
        index._default_encoder = resolved
    splitter = index._check_params()
    faiss_index = _faiss().read_index(str(reader.file(f"{prefix}.faiss")))
    arrays = {field: reader.array(f"{prefix}.{name}", mmap=mmap) for name, field in _PASSAGE_ARRAYS}
    try:
        passages = Passages(**arrays)
    except ValueError as exc:
        raise IndexFormatError(f"passage arrays are inconsistent ({exc})", path=where) from None
    embeddings = reader.array(f"{prefix}.embeddings", mmap=mmap) if meta.get("has_embeddings") else None
    corpus = read_corpus(reader)
    problems = []
    if describe(faiss_index) != meta["params"]["index_type"]:
        problems.append(f"faiss file holds a {describe(faiss_index)} index, manifest says "
                        f"{meta['params']['index_type']}")
    if faiss_index.ntotal != len(passages) or len(passages) != meta["passages"]:
        problems.append(f"{faiss_index.ntotal} vectors for {len(passages)} passages (manifest: {meta['passages']})")
    if faiss_index.d != meta["dim"]:
        problems.append(f"vectors have dim {faiss_index.d}, manifest says {meta['dim']}")
    if len(corpus) != meta["articles"] or passages.n_articles != len(corpus):
        problems.append(f"{len(corpus)} articles in the corpus, {passages.n_articles} in the passage map")
    if embeddings is not None and embeddings.shape != (len(passages), meta["dim"]):
        problems.append(f"embeddings have shape {embeddings.shape}")
    if problems:
        raise IndexFormatError("; ".join(problems), path=where, fix="rebuild the index")
    index._set_state(corpus, passages, faiss_index, embeddings, splitter, meta["encoder"]["fingerprint"])
    return index


def save_dense(index: Any, path: str | os.PathLike[str]) -> None:
    writer = IndexWriter(path)
    write_dense(writer, index)
    write_corpus(writer, index.corpus_)
    writer.commit()


def load_dense(path: str | os.PathLike[str], *, encoder: Encoder | None = None,
               cache_dir: str | os.PathLike[str] | None = None, mmap: bool = True) -> Any:
    return read_dense(IndexReader(path), encoder=encoder, cache_dir=cache_dir, mmap=mmap)
