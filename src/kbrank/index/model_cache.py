"""Encoder models exported for ONNX Runtime, kept once in kbrank's own cache and reused.

`SentenceTransformerEncoder(backend="onnx")` (and ``"onnx-int8"``) runs the model through sentence-transformers'
ONNX backend. The ONNX file is exported here, offline, from the model's own folder (by default the packaged
all-MiniLM-L6-v2), never into site-packages and never from the hub::

    CACHE_ROOT/models/<backend>-<key[:32]>/          a sentence-transformers folder without torch weights:
        modules.json, config.json, tokenizer files, 1_Pooling/, ... (copied from the source folder)
        onnx/model.onnx                              backend "onnx": float32, exported with torch.onnx
        onnx/model_int8_avx2.onnx                   backend "onnx-int8": dynamic int8 quantization of it
        kbrank-export.json                           written last: format, source key, backend, the ONNX
                                                     file's name, size and sha256

``key`` is a sha256 over the source folder's files (names and contents) and the export settings, so a changed
model gets a new folder. An export is built in a temporary folder beside its final place and renamed into
place in one step, so a killed export leaves no half model under the final name (stale temporary folders are
removed by a later export). A final folder whose ``kbrank-export.json`` is missing or does not match its ONNX
file is kbrank's own damaged export: it is removed and exported again.

Why the float32 graph is exported with ``torch.onnx.export`` rather than optimum's exporter: optimum-onnx 0.1
pins transformers < 4.58 (sentence-transformers 6 needs transformers 5), and the fork that allows
transformers 5 (optimum-onnx-naf) patches an attention-mask function whose signature transformers 5.24
changed, so its export fails. Loading (``ORTModelForFeatureExtraction``) and quantization (``ORTQuantizer``,
through sentence-transformers' ``export_dynamic_quantized_onnx_model``) do come from optimum.

Why a quantized model must be loaded from a full model folder: ``export_dynamic_quantized_onnx_model(model,
config, folder)`` writes only ``folder/onnx/model_qint8_<config>.onnx``. Loading a folder that holds only that
file fails with "Unrecognized model ... should have a `model_type` key in its config.json", because
sentence-transformers finds no ``modules.json`` and transformers no ``config.json``. Here the quantized file
lands in a folder that has both, and it is loaded with ``model_kwargs={"file_name": "onnx/model_int8_avx2.onnx"}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable

from .._io import atomic_open, sha256_file
from ..errors import MissingDependencyError, OutputError

__all__ = ["BACKENDS", "QUANTIZATION", "cache_root", "default_model_cache_dir", "ensure_export", "Export"]

log = logging.getLogger(__name__)

#: The encoder backends: torch runs the model as sentence-transformers loads it; the others through ONNX Runtime.
BACKENDS = ("torch", "onnx", "onnx-int8")
#: The dynamic int8 preset of ``onnx-int8`` (optimum's `AutoQuantizationConfig`): ``avx2`` runs on any x86-64
#: CPU of the last decade (the avx512 presets differ only in the kernels they favor).
QUANTIZATION = "avx2"
_INT8_SUFFIX = f"int8_{QUANTIZATION}"
ONNX_FILE = {"onnx": "onnx/model.onnx", "onnx-int8": f"onnx/model_{_INT8_SUFFIX}.onnx"}
MANIFEST = "kbrank-export.json"
FORMAT = "kbrank-onnx-export"
FORMAT_VERSION = 1
_OPSET = 17
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".onnx_data", ".pt", ".h5", ".msgpack", ".ot")
_SKIPPED_FOLDERS = ("onnx", "openvino")
_STALE_SECONDS = 3600


def cache_root() -> Path:
    """kbrank's cache folder: ``$KBRANK_CACHE_DIR``, else ``~/.cache/kbrank``."""
    return Path(os.environ.get("KBRANK_CACHE_DIR") or Path.home() / ".cache" / "kbrank")


def default_model_cache_dir() -> Path:
    """Where exported models live: ``models`` under `cache_root`, beside the embedding cache."""
    return cache_root() / "models"


class Export:
    """A checked export folder: ``folder`` (load it with sentence-transformers), ``file_name`` (the ONNX file
    inside it) and ``sha256`` (of that file; the encoder's fingerprint includes it)."""

    def __init__(self, folder: Path, file_name: str, sha256: str) -> None:
        self.folder, self.file_name, self.sha256 = folder, file_name, sha256


def require_onnx_runtime() -> None:
    """Raise `MissingDependencyError` (extra ``onnx``) unless onnxruntime, onnx and optimum's ORT part import."""
    for module, package in (("onnxruntime", "onnxruntime"), ("onnx", "onnx"),
                            ("optimum.onnxruntime", "optimum-onnx-naf (optimum's ONNX Runtime part)")):
        try:
            __import__(module)
        except ImportError as exc:
            raise MissingDependencyError(package, "onnx") from exc


def _source_files(source: Path) -> list[Path]:
    """The files of a model folder that an export copies (everything but weights and other exports)."""
    out = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or relative.parts[0] in _SKIPPED_FOLDERS or relative.parts[0].startswith("."):
            continue
        if path.suffix not in _WEIGHT_SUFFIXES:
            out.append(relative)
    return out


def export_key(source: Path, backend: str) -> str:
    """sha256 over every file of the source folder (weights included) and the export settings."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "backend": backend,
                                        "opset": _OPSET, "quantization": QUANTIZATION if backend == "onnx-int8"
                                        else None}, sort_keys=True).encode())
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source)
        if relative.parts[0] in _SKIPPED_FOLDERS or relative.parts[0].startswith("."):
            continue
        digest.update(f"{relative.as_posix()}|{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def _checked(folder: Path, key: str, backend: str) -> Export | None:
    """The export in ``folder`` if its manifest and ONNX file agree; None if it is missing or damaged."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        file_name = ONNX_FILE[backend]
        onnx_file = folder / file_name
        if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
                or manifest.get("format_version") != FORMAT_VERSION or manifest.get("key") != key
                or manifest.get("backend") != backend or manifest.get("file_name") != file_name
                or manifest.get("size") != onnx_file.stat().st_size or not (folder / "modules.json").is_file()):
            return None
        digest = sha256_file(onnx_file)
    except (OSError, ValueError):
        return None
    return Export(folder, file_name, digest) if digest == manifest.get("sha256") else None


def ensure_export(source: Path, backend: str, load_torch: Callable[[], Any], *,
                  cache_dir: Path | None = None) -> Export:
    """The export of the model folder ``source`` for ``backend`` (``"onnx"`` or ``"onnx-int8"``), made now if
    the cache does not hold a sound one. ``load_torch()`` returns the torch `SentenceTransformer` of
    ``source`` (called only when exporting)."""
    require_onnx_runtime()
    models = default_model_cache_dir() if cache_dir is None else Path(cache_dir)
    key = export_key(source, backend)
    folder = models / f"{backend}-{key[:32]}"
    found = _checked(folder, key, backend)
    if found is not None:
        return found
    if folder.exists():
        log.warning("the exported model in %s is damaged or incomplete; exporting it again", folder)
        _remove(folder, models)
    _remove_stale_temporaries(models)
    temporary = models / f".tmp-{folder.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        temporary.mkdir(parents=True)
        _copy_model_files(source, temporary)
        if backend == "onnx":
            _export_float32(load_torch(), temporary / ONNX_FILE["onnx"])
        else:
            plain = ensure_export(source, "onnx", load_torch, cache_dir=models)
            _quantize(plain, temporary)
        onnx_file = temporary / ONNX_FILE[backend]
        with atomic_open(temporary / MANIFEST, "w") as handle:
            json.dump({"format": FORMAT, "format_version": FORMAT_VERSION, "key": key, "backend": backend,
                       "source": str(source), "file_name": ONNX_FILE[backend], "size": onnx_file.stat().st_size,
                       "sha256": sha256_file(onnx_file), "quantization": QUANTIZATION if backend == "onnx-int8"
                       else None}, handle, indent=2, sort_keys=True)
        try:
            os.rename(temporary, folder)
        except OSError:
            if _checked(folder, key, backend) is None:  # not another process that finished first
                raise
    except OSError as exc:
        raise OutputError(f"cannot write the exported model ({exc.strerror or exc})", path=str(folder),
                          fix=f"make {models} writable (or set KBRANK_CACHE_DIR to a folder you may write)") from None
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    found = _checked(folder, key, backend)
    if found is None:  # pragma: no cover - only if the folder is changed while we look at it
        raise OutputError("the exported model does not match its manifest right after export", path=str(folder),
                          fix="delete the folder and try again")
    log.info("exported %s for ONNX Runtime (%s) into %s", source, backend, folder)
    return found


def _remove(folder: Path, models: Path) -> None:
    """Remove one of kbrank's export folders (moved aside first, so no reader sees it half deleted)."""
    if folder.parent != models or folder.is_symlink():
        raise OutputError("is not an export folder kbrank wrote", path=str(folder), fix="remove it yourself")
    aside = models / f".tmp-removed-{folder.name}-{uuid.uuid4().hex[:8]}"
    os.rename(folder, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _remove_stale_temporaries(models: Path) -> None:
    """Temporary folders left by killed exports (older than an hour), so the cache stays bounded."""
    if not models.is_dir():
        return
    now = time.time()
    for path in models.glob(".tmp-*"):
        try:
            if path.is_dir() and not path.is_symlink() and now - path.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def _copy_model_files(source: Path, target: Path) -> None:
    for relative in _source_files(source):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target / relative)


def _export_float32(model: Any, path: Path) -> None:
    """Export the transformer of a torch `SentenceTransformer` as the graph optimum's
    ``ORTModelForFeatureExtraction`` runs: inputs ``input_ids``, ``attention_mask`` (, ``token_type_ids``),
    output ``last_hidden_state``, batch and sequence axes dynamic."""
    import torch

    transformer = model[0].auto_model.eval()
    # Trace with padding in the batch, so the attention mask is part of the graph.
    sample = model.tokenizer(["an example passage to trace the graph with", "short"], padding=True,
                             return_tensors="pt")
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class _LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    dynamic = {name: {0: "batch_size", 1: "sequence_length"} for name in (*names, "last_hidden_state")}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and exporter notes about constant shapes
        torch.onnx.export(_LastHiddenState(), tuple(sample[name] for name in names), str(path), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=dynamic, opset_version=_OPSET,
                          do_constant_folding=True, dynamo=False)


def _quantize(plain: Export, temporary: Path) -> None:
    """Dynamic int8 quantization of the float32 export into ``temporary/onnx/`` (sentence-transformers'
    ``export_dynamic_quantized_onnx_model`` with optimum's ``avx2`` preset)."""
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SentenceTransformer(str(plain.folder), backend="onnx", device="cpu", local_files_only=True,
                                    model_kwargs={"file_name": plain.file_name})
        export_dynamic_quantized_onnx_model(model, QUANTIZATION, str(temporary), file_suffix=_INT8_SUFFIX)
