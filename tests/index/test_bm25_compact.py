"""The compact BM25 storage (counts by term in uint8/uint16/uint32): parity with rank_bm25 at the dtype edges,
empty articles, and edits of an index memory-mapped from disk (which never write into the maps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rank_bm25

from kbrank import Article, BM25Index, Corpus, Searcher
from kbrank.errors import IndexFormatError
from kbrank.index.term_counts import TermCounts

VARIANTS = {"okapi": rank_bm25.BM25Okapi, "bm25l": rank_bm25.BM25L, "bm25+": rank_bm25.BM25Plus}


def _tokens(repeat: int) -> list[list[str]]:
    """Articles where one word occurs ``repeat`` times (and so needs a wider count dtype), plus empty ones."""
    rng = np.random.default_rng(repeat)
    words = [f"w{i}" for i in range(40)]
    docs = [[str(w) for w in rng.choice(words, size=int(rng.integers(1, 30)))] for _ in range(60)]
    docs[3] = ["flood"] * repeat + ["w1", "w2"]
    docs[10] = ["flood", "w3"]
    docs[20] = []  # an empty article
    return docs


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize(("repeat", "dtype"), [(200, np.uint8), (300, np.uint16), (70_000, np.uint32)])
def test_counts_beyond_each_dtype_match_rank_bm25(variant: str, repeat: int, dtype) -> None:
    docs = _tokens(repeat)
    ours = BM25Index(variant=variant, b=0.5).build_from_tokens(docs)
    theirs = VARIANTS[variant](docs, b=0.5)
    assert ours.counts_.counts.dtype == dtype
    for query in (["flood"], ["flood", "w1", "flood"], ["w3", "w5", "w7"], ["w0"], ["nothing"]):
        expected = theirs.get_scores(query)
        np.testing.assert_array_equal(ours.score_tokens(query), expected)
        found = ours.search_tokens(query, k=10)
        np.testing.assert_array_equal(found.scores, expected[found.rows])
        order = np.lexsort((np.arange(len(expected)), -expected))
        contains = np.array([any(t in d for t in query) for d in docs])
        assert found.rows.tolist() == [r for r in order.tolist() if contains[r]][:10]


def test_term_counts_store_one_byte_counts_and_ranks_for_short_articles() -> None:
    counts = TermCounts.from_tokens([["a", "b", "a"], [], ["c", "a"]])
    assert counts.counts.dtype == np.uint8 and counts.ranks.dtype == np.uint8 and counts.rows.dtype == np.int32
    assert counts.terms == ("a", "b", "c")
    assert counts.col_ptr.tolist() == [0, 2, 3, 4]
    assert counts.rows.tolist() == [0, 2, 0, 2] and counts.counts.tolist() == [2, 1, 1, 1]
    assert counts.ranks.tolist() == [0, 1, 1, 0]  # 'a' is the second distinct term of article 2
    assert counts.doc_len.tolist() == [3, 0, 2]


def test_removing_the_article_that_introduced_terms_renumbers_as_a_rebuild() -> None:
    """Article 1 holds 'b' before 'a': once article 0 is gone, a rebuild meets 'b' first."""
    counts = TermCounts.from_tokens([["a"], ["b", "a", "b"], ["c"]])
    assert counts.deleted([0]).terms == TermCounts.from_tokens([["b", "a", "b"], ["c"]]).terms == ("b", "a", "c")


def _corpus(n: int) -> Corpus:
    words = ["router", "wifi", "camera", "reset", "firmware", "update", "battery", "the"]
    rng = np.random.default_rng(n)
    return Corpus(Article(id=f"kb-{i}", title=" ".join(rng.choice(words, 2)),
                          body=" ".join(rng.choice(words, int(rng.integers(0, 15))))) for i in range(n))


def test_edits_after_a_memory_mapped_load_copy_and_leave_the_files_alone(tmp_path: Path) -> None:
    built = BM25Index().build(_corpus(50))
    built.save(tmp_path / "idx")
    before = {p.name: p.read_bytes() for p in (tmp_path / "idx").iterdir()}
    loaded = BM25Index.load(tmp_path / "idx")
    mapped = loaded.counts_
    assert isinstance(mapped.rows, np.memmap) and not mapped.rows.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        mapped.counts[0] = 9  # numpy refuses a write into the read-only map
    loaded.add([Article(id="new", title="camera camera pairing")])
    loaded.update([Article(id="kb-3", title="router firmware")])
    loaded.remove(["kb-7", "kb-8"])
    rebuilt = BM25Index().build(loaded.corpus_)
    assert loaded.counts_.terms == rebuilt.counts_.terms
    for query in ["camera", "router firmware", "the wifi reset", "pairing"]:
        np.testing.assert_array_equal(loaded.get_scores(query), rebuilt.get_scores(query))
        assert loaded.search(query).rows.tolist() == rebuilt.search(query).rows.tolist()
    assert {p.name: p.read_bytes() for p in (tmp_path / "idx").iterdir()} == before
    assert BM25Index.load(tmp_path / "idx").search("camera").rows.tolist() == built.search("camera").rows.tolist()


def test_batch_search_equals_single_searches_with_and_without_mask() -> None:
    index = BM25Index().build(_corpus(400))
    queries = ["router", "wifi reset", "the camera battery", "", "firmware update the router", "unknown"]
    mask = np.random.default_rng(2).random(400) < 0.4
    for m in (None, mask):
        for threads in (1, 2, 3):
            batch = index.search_batch(queries, k=7, mask=m, n_threads=threads)
            for query, got in zip(queries, batch):
                want = index.search(query, k=7, mask=m)
                assert got.rows.tolist() == want.rows.tolist()
                np.testing.assert_array_equal(got.scores, want.scores)


def test_an_index_saved_with_the_earlier_weight_layout_names_the_fix(tmp_path: Path) -> None:
    # Earlier kbrank saved float64 weights and a `dense_share` parameter; its manifest must get a clear fix.

    target = tmp_path / "index"
    corpus = Corpus([Article(id="a", title="router", body="reset the router"), Article(id="b", body="printer jam")])
    Searcher(mode="bm25").build(corpus).save(target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["components"]["bm25"]["params"]["dense_share"] = 0.05
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="saved by an earlier kbrank") as info:
        Searcher.load(target)
    assert "rebuild the index with this kbrank" in str(info.value)
