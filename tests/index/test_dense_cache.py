"""The embedding cache: on disk, keyed by encoder fingerprint and passage content, no pickle."""

from __future__ import annotations

import json

import numpy as np
from _dense_helpers import CountingEncoder, help_corpus, minilm  # noqa: F401 (fixture)

from kbrank import Article
from kbrank.index import DenseIndex, EmbeddingCache
from kbrank.index.embedding_cache import passage_key

FP = "ab" * 32


def _vectors(n: int, dim: int = 4, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_put_get_and_reopen(tmp_path) -> None:
    cache = EmbeddingCache(tmp_path, fingerprint=FP, dim=4)
    vectors = _vectors(3)
    cache.put(["a", "b", "c"], vectors)
    cache.put(["c", "d"], _vectors(2, seed=1))  # "c" is already cached: kept as first written
    reopened = EmbeddingCache(tmp_path, fingerprint=FP, dim=4)
    got, found = reopened.get(["c", "x", "a"])
    assert found.tolist() == [True, False, True] and len(reopened) == 4
    np.testing.assert_array_equal(got[[0, 2]], vectors[[2, 0]])
    np.testing.assert_array_equal(got[1], 0)
    # another encoder (fingerprint) or dimension sees nothing
    assert len(EmbeddingCache(tmp_path, fingerprint="cd" * 32, dim=4)) == 0
    # files are .npy (no pickle) and JSONL with a header
    files = sorted(p.name.rsplit(".", 1)[1] for p in (tmp_path / FP[:32]).iterdir())
    assert files == ["jsonl", "jsonl", "npy", "npy"]
    header = json.loads((next((tmp_path / FP[:32]).glob("*.jsonl"))).read_text().splitlines()[0])
    assert header["format"] == "kbrank-embedding-cache" and header["fingerprint"] == FP
    assert not list(tmp_path.rglob("*.tmp"))


def test_damaged_segments_are_ignored_and_compaction_merges(tmp_path) -> None:
    cache = EmbeddingCache(tmp_path, fingerprint=FP, dim=4)
    cache.put(["a"], _vectors(1))
    cache.put(["b"], _vectors(1, seed=2))
    victim = sorted((tmp_path / FP[:32]).glob("*.npy"))[0]
    victim.write_bytes(victim.read_bytes()[:-4] + b"\0\0\0\0")
    assert len(EmbeddingCache(tmp_path, fingerprint=FP, dim=4)) == 1
    (tmp_path / FP[:32] / "seg.0000000000000000.jsonl").write_text("not json\n")  # foreign file: ignored
    cache = EmbeddingCache(tmp_path, fingerprint=FP, dim=4)
    cache.compact(keep=["b", "zzz"])
    reopened = EmbeddingCache(tmp_path, fingerprint=FP, dim=4)
    assert len(reopened) == 1 and "b" in reopened
    assert len(list((tmp_path / FP[:32]).glob("*.npy"))) == 1


def test_second_build_encodes_nothing(minilm, tmp_path) -> None:
    corpus = help_corpus()
    first = CountingEncoder(minilm)
    index = DenseIndex(first, cache_dir=tmp_path).build(corpus)
    assert first.documents == index.n_passages > len(corpus)  # the long article has several passages
    calls = []
    second = CountingEncoder(minilm)
    again = DenseIndex(second, cache_dir=tmp_path).build(corpus, progress=lambda d, t: calls.append((d, t)))
    assert second.documents == 0
    assert calls[0] == calls[-1] == (index.n_passages, index.n_passages)
    np.testing.assert_array_equal(again.vectors(), index.vectors())
    # an edited article re-encodes only its own passages; keys are the content of what was encoded
    edited = corpus.with_replaced([Article(id="wifi", title="Router wifi keeps dropping", body="Restart it.")])
    third = CountingEncoder(minilm)
    DenseIndex(third, cache_dir=tmp_path).build(edited)
    assert third.seen == ["Router wifi keeps dropping Restart it."]
    assert passage_key(third.seen[0]) in EmbeddingCache(tmp_path, fingerprint=minilm.fingerprint, dim=384)


def test_identical_passages_are_encoded_once(minilm) -> None:
    from kbrank import Corpus

    counting = CountingEncoder(minilm)
    corpus = Corpus([Article(id=f"dup{i}", title="Same text", body="Reset the router.") for i in range(3)])
    index = DenseIndex(counting).build(corpus)
    assert counting.documents == 1 and index.n_passages == 3
    vectors = index.vectors()
    np.testing.assert_array_equal(vectors[0], vectors[2])
