"""Write and read a `DenseState` in an index directory (see `kbrank.storage` for the format).

The component (``"dense"`` by default) stores, besides its manifest entry (parameters, passage settings, and
the encoder's class, name, dimension and fingerprint):

- ``dense.faiss``: faiss's native file (``faiss.write_index``), checksummed like every other file; one vector
  per distinct passage text;
- ``dense.passage_article``, ``dense.passage_start``, ``dense.passage_end`` and ``dense.passage_vector``:
  int64 ``.npy`` arrays, one row per passage (the last one is the faiss id of its vector);
- ``dense.digests``: the 16-byte text digest of each vector (so edits after a load reuse vectors);
- ``dense.embeddings``: float32 vectors, only for lossy index types (sq8, fp16), whose codes cannot give
  them back; edits re-quantize from them.

The corpus is the directory's shared ``"corpus"`` component (`kbrank.corpus.io`). Reading validates that
every array fits the others and the faiss file (`DenseState.validate`). This module knows the state, not
the index class: `DenseIndex.save` and `DenseIndex.read` call it.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from ..corpus.io import read_corpus
from ..errors import IndexFormatError, ParameterError
from ..storage import IndexReader, IndexWriter
from .dense_faiss import describe, faiss_module
from .dense_state import DenseState
from .encoders import Encoder, SentenceTransformerEncoder
from .passages import Passages, PassageSplitter

__all__ = ["write_dense", "read_dense"]

_PASSAGE_ARRAYS = (("passage_article", "article_rows"), ("passage_start", "starts"), ("passage_end", "ends"))
_PARAMS = ("index_type", "hnsw_m", "ef_search", "ef_construction", "passage_words", "passage_stride",
           "passage_title")


def _encoder_record(encoder: Encoder, fingerprint: str) -> dict[str, Any]:
    record: dict[str, Any] = {"class": type(encoder).__name__, "name": encoder.name, "dim": int(encoder.dim),
                              "fingerprint": fingerprint}
    if isinstance(encoder, SentenceTransformerEncoder) and (encoder.model is None
                                                            or isinstance(encoder.model, (str, os.PathLike))):
        record["model"] = None if encoder.model is None else os.fspath(encoder.model)
    return record


def write_dense(writer: IndexWriter, state: DenseState, *, params: Mapping[str, Any], encoder: Encoder,
                prefix: str = "dense") -> None:
    """Add the state's files and manifest entry to ``writer`` (the corpus is written by the caller)."""
    faiss = faiss_module()
    writer.add_blob(f"{prefix}.faiss", "faiss", lambda path: faiss.write_index(state.faiss_index, str(path)))
    for name, field in _PASSAGE_ARRAYS:
        writer.add_array(f"{prefix}.{name}", getattr(state.passages, field))
    writer.add_array(f"{prefix}.passage_vector", state.vector_rows)
    writer.add_array(f"{prefix}.digests", state.digests)
    if state.embeddings is not None:
        writer.add_array(f"{prefix}.embeddings", np.asarray(state.embeddings, dtype=np.float32))
    writer.components[prefix] = {
        "class": "DenseIndex", "params": dict(params), "encoder": _encoder_record(encoder, state.fingerprint),
        "articles": len(state.corpus), "passages": len(state.passages), "vectors": state.n_vectors,
        "dim": state.dim, "metric": "inner_product", "has_embeddings": state.embeddings is not None,
    }


def _resolve_encoder(meta: Mapping[str, Any], encoder: Encoder | None, where: str) -> Encoder:
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


def read_dense(reader: IndexReader, prefix: str = "dense", *, corpus: Any = None, encoder: Encoder | None = None,
               mmap: bool = True) -> tuple[dict[str, Any], Encoder, DenseState]:
    """``(params, encoder, state)`` of the component (checksums were verified by the reader)."""
    where = str(reader.path)
    meta = reader.components.get(prefix)
    if not isinstance(meta, Mapping) or meta.get("class") != "DenseIndex":
        raise IndexFormatError(f"the index has no dense component {prefix!r}", path=where,
                               fix="build it with DenseIndex(...).build(corpus) and save it")
    params = {name: meta["params"][name] for name in _PARAMS if name in meta["params"]}
    resolved = _resolve_encoder(meta, encoder, where)
    splitter = PassageSplitter(words=params["passage_words"], stride=params["passage_stride"],
                               title=bool(params["passage_title"]))
    arrays = {field: reader.array(f"{prefix}.{name}", mmap=mmap) for name, field in _PASSAGE_ARRAYS}
    try:
        passages = Passages(**arrays)
    except ValueError as exc:
        raise IndexFormatError(f"passage arrays are inconsistent ({exc})", path=where, fix="rebuild the index") from None
    vector_rows = np.asarray(reader.array(f"{prefix}.passage_vector", mmap=False))
    digests = np.asarray(reader.array(f"{prefix}.digests", mmap=False))
    embeddings = reader.array(f"{prefix}.embeddings", mmap=mmap) if meta["has_embeddings"] else None
    corpus = read_corpus(reader) if corpus is None else corpus
    faiss_index = faiss_module().read_index(str(reader.file(f"{prefix}.faiss")))
    if describe(faiss_index) != params["index_type"]:
        raise IndexFormatError(f"the faiss file holds a {describe(faiss_index)} index, the manifest says "
                               f"{params['index_type']}", path=where, fix="rebuild the index")
    if vector_rows.dtype != np.int64 or len(passages) != meta["passages"]:
        raise IndexFormatError(f"the passage map does not match the manifest ({meta['passages']} passages)",
                               path=where, fix="rebuild the index")
    state = DenseState.assemble(corpus, passages, faiss_index, embeddings, splitter, meta["encoder"]["fingerprint"],
                                vector_rows, digests)
    state.validate(where, n_articles=len(corpus), dim=int(meta["dim"]))
    return params, resolved, state
