"""Encoder backends (torch, ONNX Runtime, int8 ONNX) with the real all-MiniLM-L6-v2, exported for real.

The exports go to a temporary ``KBRANK_CACHE_DIR`` (one per module), never into site-packages. Exporting and
quantizing the model takes about 20 s, so the tests that need an export are marked slow.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from _dense_helpers import CountingEncoder, help_corpus, minilm  # noqa: F401 (fixture)

from kbrank.errors import MissingDependencyError, ParameterError
from kbrank.index import DenseIndex, SentenceTransformerEncoder, model_cache
from kbrank.index.encoders import default_model_path

TEXTS = ["how do I reset my password", "wifi keeps dropping",
         "Hold the pairing button for five seconds until the light blinks blue, then scan the QR code.", ""]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory):
    """A private kbrank cache for the module: exports land in ``<root>/models``."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("optimum.onnxruntime")
    root = tmp_path_factory.mktemp("kbrank-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KBRANK_CACHE_DIR", str(root))
        yield root


@pytest.fixture(scope="module")
def onnx_encoders(cache_root, minilm):
    """The ONNX and int8 ONNX encoders, exported into the module's cache (loaded once)."""
    encoders = {name: SentenceTransformerEncoder(backend=name) for name in ("onnx", "onnx-int8")}
    for encoder in encoders.values():
        encoder.model_  # noqa: B018 - export and load now
    return encoders


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


@pytest.mark.slow
def test_onnx_backends_agree_with_torch_and_have_their_own_fingerprints(onnx_encoders, minilm) -> None:
    torch_vectors = minilm.encode_documents(TEXTS)
    onnx = onnx_encoders["onnx"].encode_documents(TEXTS)
    int8 = onnx_encoders["onnx-int8"].encode_documents(TEXTS)
    assert onnx.shape == int8.shape == (4, 384) and onnx.dtype == int8.dtype == np.float32
    assert _cosines(torch_vectors, onnx).min() > 0.99999  # the same float32 model, another runtime
    assert _cosines(torch_vectors, int8).min() > 0.97  # int8 weights: close, not equal
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1, atol=1e-5)
    prints = {minilm.fingerprint, onnx_encoders["onnx"].fingerprint, onnx_encoders["onnx-int8"].fingerprint}
    assert len(prints) == 3
    # torch's fingerprint is computed as it always was (no backend key), so existing caches stay valid
    assert minilm.backend == "torch"
    assert SentenceTransformerEncoder(backend="torch").fingerprint == minilm.fingerprint


@pytest.mark.slow
def test_exports_land_once_in_the_cache_dir_and_are_reused(onnx_encoders, cache_root) -> None:
    models = cache_root / "models"
    folders = sorted(p.name for p in models.iterdir())
    assert [f.rsplit("-", 1)[0] for f in folders] == ["onnx", "onnx-int8"]
    assert not (default_model_path() / "onnx").exists()  # never into site-packages
    for folder in models.iterdir():
        manifest = json.loads((folder / model_cache.MANIFEST).read_text())
        onnx_file = folder / manifest["file_name"]
        assert manifest["format"] == "kbrank-onnx-export" and onnx_file.stat().st_size == manifest["size"]
        assert (folder / "config.json").is_file() and (folder / "modules.json").is_file()
        assert not list(folder.rglob("*.safetensors"))  # the torch weights are not copied
    before = {p: p.stat().st_mtime_ns for p in models.rglob("*.onnx")}
    again = SentenceTransformerEncoder(backend="onnx")
    assert again.fingerprint == onnx_encoders["onnx"].fingerprint
    assert {p: p.stat().st_mtime_ns for p in models.rglob("*.onnx")} == before
    assert not list(models.glob(".tmp-*"))


@pytest.mark.slow
def test_a_damaged_or_half_export_is_detected_and_exported_again(onnx_encoders, cache_root, tmp_path) -> None:
    import shutil

    from sentence_transformers import SentenceTransformer

    good = onnx_encoders["onnx"]._export
    models = tmp_path / "models"
    copy = models / good.folder.name
    shutil.copytree(good.folder, copy)
    source = default_model_path()
    key = model_cache.export_key(source, "onnx")
    assert model_cache._checked(copy, key, "onnx") is not None
    # a half export (no manifest: the process died before writing it) is not taken for a model
    (copy / model_cache.MANIFEST).rename(tmp_path / "manifest.json")
    assert model_cache._checked(copy, key, "onnx") is None
    (tmp_path / "manifest.json").rename(copy / model_cache.MANIFEST)
    # a truncated ONNX file is detected by size and checksum, then replaced by a fresh export
    onnx_file = copy / good.file_name
    onnx_file.write_bytes(onnx_file.read_bytes()[: onnx_file.stat().st_size // 2])
    assert model_cache._checked(copy, key, "onnx") is None
    loads = []

    def load_torch():
        loads.append(1)
        return SentenceTransformer(str(source), device="cpu", local_files_only=True)

    fresh = model_cache.ensure_export(source, "onnx", load_torch, cache_dir=models)
    assert loads == [1] and fresh.folder == copy and fresh.sha256 == good.sha256
    assert sorted(p.name for p in models.iterdir()) == [copy.name]  # nothing left aside


@pytest.mark.slow
def test_backends_never_share_cached_vectors(onnx_encoders, minilm, tmp_path) -> None:
    corpus = help_corpus()
    torch_index = DenseIndex(CountingEncoder(minilm), cache_dir=tmp_path).build(corpus)
    counting = CountingEncoder(onnx_encoders["onnx"])
    onnx_index = DenseIndex(counting, cache_dir=tmp_path).build(corpus)
    assert counting.documents == onnx_index.n_passages == torch_index.n_passages  # nothing reused across backends
    assert len(list(tmp_path.iterdir())) == 2  # one cache folder per fingerprint


@pytest.mark.slow
def test_a_saved_onnx_index_reloads_with_its_backend(onnx_encoders, tmp_path) -> None:
    index = DenseIndex(onnx_encoders["onnx-int8"]).build(help_corpus())
    index.save(tmp_path / "index")
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["components"]["dense"]["encoder"]["backend"] == "onnx-int8"
    loaded = DenseIndex.load(tmp_path / "index")
    assert loaded.encoder_.backend == "onnx-int8"
    assert loaded.search("forgot my login", k=1).rows.tolist() == index.search("forgot my login", k=1).rows.tolist()


def test_backend_is_checked_with_a_suggestion() -> None:
    with pytest.raises(ParameterError, match=r"backend must be one of \['torch', 'onnx', 'onnx-int8'\]; got "
                                             r"'onnx8'. Did you mean 'onnx'\?"):
        SentenceTransformerEncoder(backend="onnx8").model_  # noqa: B018
    with pytest.raises(ParameterError, match="model must be None, a folder or a model name with backend='onnx'"):
        SentenceTransformerEncoder(model=_HasEncode(), backend="onnx").model_  # noqa: B018


class _HasEncode:
    """Stands in for a loaded model object (anything with ``encode``)."""

    def encode(self, texts):  # pragma: no cover - never called
        raise AssertionError


def test_missing_onnx_runtime_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "optimum.onnxruntime", None)  # what Python does for an absent package
    with pytest.raises(MissingDependencyError, match=r"pip install 'kbrank\[onnx\]'"):
        model_cache.require_onnx_runtime()
