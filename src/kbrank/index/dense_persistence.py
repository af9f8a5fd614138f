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
from typing import Any, Callable, Literal, Mapping, TypeVar

import numpy as np
from pydantic import Field

from ..corpus.io import read_corpus
from ..errors import IndexFormatError, KBRankError, ParameterError
from ..storage import IndexReader, IndexWriter, Section
from .dense_faiss import faiss_module, read_faiss
from .dense_state import DenseState
from .encoders import Encoder, SentenceTransformerEncoder
from .passages import Passages, PassageSplitter

__all__ = ["write_dense", "read_dense"]

_PASSAGE_ARRAYS = (("passage_article", "article_rows"), ("passage_start", "starts"), ("passage_end", "ends"))
_PARAMS = ("index_type", "hnsw_m", "ef_search", "ef_construction", "passage_words", "passage_stride",
           "passage_title")
_REBUILD = "rebuild the index (the manifest was changed or damaged)"
Index = TypeVar("Index")


class _Params(Section):
    """Types only; the values pass the constructor's own checks (`DenseIndex._check_params`)."""

    index_type: str = "flat"
    hnsw_m: int = 32
    ef_search: int = 128
    ef_construction: int = 40
    passage_words: int = 128
    passage_stride: int = 96
    passage_title: bool = True


class _EncoderRecord(Section):
    class_: str = Field(alias="class")
    name: str
    dim: int = Field(ge=1)
    fingerprint: str = Field(min_length=1)
    model: str | None = None
    backend: Literal["torch", "onnx", "onnx-int8"] = "torch"


class _Component(Section):
    class_: Literal["DenseIndex"] = Field(alias="class")
    params: _Params
    encoder: _EncoderRecord
    articles: int = Field(ge=1)
    passages: int = Field(ge=1)
    vectors: int = Field(ge=1)
    dim: int = Field(ge=1)
    metric: Literal["inner_product"]
    has_embeddings: bool


def _encoder_record(encoder: Encoder, fingerprint: str) -> dict[str, Any]:
    record: dict[str, Any] = {"class": type(encoder).__name__, "name": encoder.name, "dim": int(encoder.dim),
                              "fingerprint": fingerprint}
    if isinstance(encoder, SentenceTransformerEncoder) and (encoder.model is None
                                                            or isinstance(encoder.model, (str, os.PathLike))):
        record["model"] = None if encoder.model is None else os.fspath(encoder.model)
        if encoder.backend != "torch":  # torch indexes keep the manifest they always had
            record["backend"] = encoder.backend
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


def _resolve_encoder(record: _EncoderRecord, encoder: Encoder | None, where: str) -> Encoder:
    if encoder is None:
        if record.class_ != "SentenceTransformerEncoder" or "model" not in record.model_fields_set:
            raise ParameterError("encoder", f"the encoder this index was built with ({record.class_} "
                                 f"{record.name!r})", None, hint="pass it: DenseIndex.load(path, encoder=...)")
        encoder = SentenceTransformerEncoder(record.model, backend=record.backend)
        try:
            encoder.dim, encoder.fingerprint  # noqa: B018 - load the recorded model now
        except KBRankError:
            raise
        except Exception as exc:  # a third-party loader on a path read from the manifest
            raise IndexFormatError(f"cannot load the model the index names ({record.model!r}: "
                                   f"{type(exc).__name__})", path=where,
                                   fix="pass the encoder: DenseIndex.load(path, encoder=...), or rebuild") from None
    if int(encoder.dim) != record.dim or encoder.fingerprint != record.fingerprint:
        raise IndexFormatError(
            f"the index was built with encoder {record.name!r} (dim {record.dim}, fingerprint "
            f"{record.fingerprint[:12]}...), but the given encoder {encoder.name!r} has dim {encoder.dim} and "
            f"fingerprint {encoder.fingerprint[:12]}...",
            path=where,
            fix="load with the encoder the index was built with, or rebuild the index with this one",
        )
    return encoder


def _int64(reader: IndexReader, name: str, mmap: bool) -> np.ndarray:
    array = reader.array(name, mmap=mmap)
    if array.dtype != np.int64 or array.ndim != 1:
        raise IndexFormatError(f"{name} has dtype {array.dtype} and shape {array.shape}, not a 1-d int64 array",
                               path=str(reader.path), fix="rebuild the index (the files were changed or crafted)")
    return array


def read_dense(reader: IndexReader, prefix: str = "dense", *, corpus: Any = None, encoder: Encoder | None = None,
               mmap: bool = True, build: Callable[[dict[str, Any], Encoder | None], Index]
               ) -> tuple[Index, Encoder, DenseState]:
    """``(index, encoder, state)`` of the component (checksums were verified by the reader).

    ``build(params, encoder)`` makes the unfitted index and runs the constructor's checks (a `ParameterError`
    becomes an `IndexFormatError`). Every array is checked against the others, and the faiss file's structure
    against them, before the state is returned (`DenseState.validate`).
    """
    where = str(reader.path)
    meta = reader.component(_Component, prefix, written_by="DenseIndex", what="dense",
                            fix="build it with DenseIndex(...).build(corpus) and save it")
    params = meta.params.model_dump(include=set(meta.params.model_fields_set))
    try:
        index = build(params, encoder)
        splitter = PassageSplitter(words=meta.params.passage_words, stride=meta.params.passage_stride,
                                   title=meta.params.passage_title)
    except ParameterError as exc:
        raise IndexFormatError(f"manifest.json, components.{prefix}: invalid setting ({exc})", path=where,
                               fix=_REBUILD) from None
    if meta.encoder.dim != meta.dim:
        raise IndexFormatError(f"manifest.json, components.{prefix}: the encoder's dim {meta.encoder.dim} is not the "
                               f"index's {meta.dim}", path=where, fix=_REBUILD)
    resolved = _resolve_encoder(meta.encoder, encoder, where)
    arrays = {field: _int64(reader, f"{prefix}.{name}", mmap) for name, field in _PASSAGE_ARRAYS}
    try:
        passages = Passages(**arrays)
    except ValueError as exc:
        raise IndexFormatError(f"passage arrays are inconsistent ({exc})", path=where, fix="rebuild the index") from None
    vector_rows = np.asarray(_int64(reader, f"{prefix}.passage_vector", False))
    digests = np.asarray(reader.array(f"{prefix}.digests", mmap=False))
    embeddings = reader.array(f"{prefix}.embeddings", mmap=mmap) if meta.has_embeddings else None
    corpus = read_corpus(reader) if corpus is None else corpus
    if len(passages) != meta.passages or digests.shape[:1] != (meta.vectors,) or len(corpus) != meta.articles:
        raise IndexFormatError(f"the passage map does not match the manifest ({meta.articles} articles, "
                               f"{meta.passages} passages, {meta.vectors} vectors)", path=where,
                               fix="rebuild the index")
    DenseState.validate_arrays(where, corpus, passages, vector_rows, digests, embeddings, dim=meta.dim)
    faiss_index, problems = read_faiss(str(reader.file(f"{prefix}.faiss")), meta.params.index_type,
                                       n_vectors=meta.vectors, dim=meta.dim)
    if problems:
        raise IndexFormatError("the dense index files do not fit together: " + "; ".join(problems), path=where,
                               fix="rebuild the index (the files were changed or crafted)")
    state = DenseState.assemble(corpus, passages, faiss_index, embeddings, splitter, meta.encoder.fingerprint,
                                vector_rows, digests)
    return index, resolved, state
