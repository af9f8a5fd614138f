"""Index directories: round trips, checksums, format versions, atomic saves, and no pickle anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from kbrank import Article, BM25Index, Corpus, IndexFormatError, storage

SRC = Path(__file__).resolve().parents[2] / "src" / "kbrank"


def _index() -> BM25Index:
    corpus = Corpus(Article(id=f"kb-{i}", title=f"router {i % 3}", body="wifi reset firmware " * (i % 4)) for i in range(30))
    return BM25Index(variant="bm25+", k1=1.2).build(corpus)


def test_round_trip_is_identical_and_memory_mapped(tmp_path: Path) -> None:
    index = _index()
    index.save(tmp_path / "idx")
    loaded = BM25Index.load(tmp_path / "idx")
    counts = loaded.counts_
    assert all(isinstance(a, np.memmap) and not a.flags.writeable for a in (counts.rows, counts.counts, counts.ranks))
    assert loaded.get_params() == index.get_params() and loaded.corpus_ == index.corpus_
    for query in ["router wifi", "firmware 2", "reset"]:
        np.testing.assert_array_equal(loaded.get_scores(query), index.get_scores(query))
        assert loaded.search(query).rows.tolist() == index.search(query).rows.tolist()
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["format_version"] == storage.FORMAT_VERSION
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())


def test_loaded_index_can_be_edited(tmp_path: Path) -> None:
    _index().save(tmp_path / "idx")
    loaded = BM25Index.load(tmp_path / "idx")
    loaded.add([Article(id="new", title="camera")])
    assert loaded.corpus_[int(loaded.search("camera").rows[0])].id == "new"


def _file(path: Path, prefix: str) -> Path:
    return next(p for p in path.iterdir() if p.name.startswith(prefix))


def test_tampered_file_is_rejected(tmp_path: Path) -> None:
    _index().save(tmp_path / "idx")
    target = _file(tmp_path / "idx", "bm25.rows.")
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(IndexFormatError, match=r"checksum mismatch for 'bm25.rows'.*Fix: rebuild the index"):
        BM25Index.load(tmp_path / "idx")


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    _index().save(tmp_path / "idx")
    target = _file(tmp_path / "idx", "corpus.")
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(IndexFormatError, match=r"file for 'corpus' is truncated or changed"):
        BM25Index.load(tmp_path / "idx")


def test_unknown_format_version_is_rejected(tmp_path: Path) -> None:
    _index().save(tmp_path / "idx")
    manifest_path = tmp_path / "idx" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match=r"unknown index format version 99.*Fix: rebuild the index"):
        BM25Index.load(tmp_path / "idx")


def test_missing_directory_and_manifest(tmp_path: Path) -> None:
    with pytest.raises(IndexFormatError, match="no such index directory"):
        BM25Index.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexFormatError, match="no manifest.json"):
        BM25Index.load(tmp_path / "empty")


def test_crash_mid_save_leaves_previous_index_loadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = _index()
    old.save(tmp_path / "idx")
    newer = BM25Index().build(Corpus([Article(id="z", title="completely different")]))
    calls = {"n": 0}
    real_save = np.save

    def crashing_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated crash)")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(np, "save", crashing_save)
    with pytest.raises(OSError, match="simulated"):
        newer.save(tmp_path / "idx")
    monkeypatch.undo()
    loaded = BM25Index.load(tmp_path / "idx")
    assert loaded.corpus_ == old.corpus_
    # a later successful save replaces it and leaves no stray files
    newer.save(tmp_path / "idx")
    assert BM25Index.load(tmp_path / "idx").corpus_ == newer.corpus_
    names = {p.name for p in (tmp_path / "idx").iterdir()}
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert names == {"manifest.json", storage.JOURNAL} | {entry["path"] for entry in manifest["files"].values()}


def test_no_pickle_anywhere_in_the_project() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*(import|from)\s+(c?pickle|joblib|dill|cloudpickle)\b", text, re.M) or "allow_pickle=True" in text:
            offenders.append(str(path))
    assert offenders == []
    with pytest.raises(TypeError, match="never pickles"):
        import pickle

        pickle.dumps(_index())
