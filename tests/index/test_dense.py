"""DenseIndex with the real all-MiniLM-L6-v2: ranking, filters before top-k, passages, edits, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _dense_helpers import CountingEncoder, HashEncoder, help_corpus, minilm  # noqa: F401 (fixture)
from hypothesis import given, settings
from hypothesis import strategies as st

from kbrank import Article, Corpus
from kbrank.errors import IndexFormatError, NotFittedError, ParameterError
from kbrank.index import DenseIndex, PassageHits

TYPES = ("flat", "hnsw", "sq8", "fp16")


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return help_corpus()


@pytest.fixture(scope="module")
def built(minilm, corpus, tmp_path_factory) -> dict[str, DenseIndex]:
    """One index per type; encoded once (the first build fills the cache the others read)."""
    cache = tmp_path_factory.mktemp("dense-types")
    return {kind: DenseIndex(minilm, index_type=kind, cache_dir=cache).build(corpus) for kind in TYPES}


def _ids(corpus: Corpus, candidates) -> list[str]:
    return [corpus[int(r)].id for r in candidates.rows]


@pytest.mark.parametrize("kind", TYPES)
def test_a_related_query_ranks_the_right_article_first(built, corpus, kind) -> None:
    index = built[kind]
    result = index.search("how do I reset my password", k=3)
    assert _ids(corpus, result)[0] == "password"
    assert result.scores[0] > result.scores[1] + 0.2
    assert _ids(corpus, index.search("my printer says paper is stuck", k=1)) == ["printer"]
    # found by a middle passage (the first and last passages do not mention parcels)
    assert _ids(corpus, index.search("return a damaged parcel with the prepaid label", k=1)) == ["long"]


def test_scores_are_cosines_of_the_best_passage(built, corpus, minilm) -> None:
    index = built["flat"]
    query = minilm.encode_queries(["return a damaged parcel"])[0]
    expected = np.array([max(index.vectors()[p] @ query for p in np.flatnonzero(index.passages_.article_rows == r))
                         for r in range(len(corpus))])
    result = index.search(query, k=len(corpus))
    np.testing.assert_allclose(result.scores, expected[result.rows], atol=1e-5)
    assert result.rows.tolist() == np.lexsort((np.arange(len(corpus)), -expected)).tolist()


@pytest.mark.parametrize("kind", TYPES)
def test_the_mask_is_applied_before_top_k(built, corpus, kind) -> None:
    index = built[kind]
    mask = np.ones(len(corpus), bool)
    mask[corpus.row("password")] = False
    result = index.search("how do I reset my password", k=5, mask=mask)
    assert len(result) == 5 and "password" not in _ids(corpus, result)
    # asking for every allowed article returns every allowed article, even the long multi-passage one
    everything = index.search("how do I reset my password", k=100, mask=mask)
    assert sorted(everything.rows.tolist()) == np.flatnonzero(mask).tolist()
    only_long = np.zeros(len(corpus), bool)
    only_long[corpus.row("long")] = True
    assert _ids(corpus, index.search("password", k=10, mask=only_long)) == ["long"]
    hits = index.search_passages("password", k=100, mask=only_long)
    assert set(hits.article_rows.tolist()) == {corpus.row("long")} and len(hits) == index.passages_.counts()[4]
    assert len(index.search("password", k=10, mask=np.zeros(len(corpus), bool))) == 0


@pytest.mark.parametrize("kind", ["flat", "hnsw", "sq8"])
def test_a_masked_top_10_has_10_results_at_scale(kind) -> None:
    """3,000 articles of 3 passages each: every mask allowing >= 10 articles gives exactly 10."""
    encoder = HashEncoder()
    corpus = Corpus(Article(id=f"a{i}", title=f"c{i % 20}", body=" ".join(f"w{i}.{j}" for j in range(10)))
                    for i in range(3000))
    exact = DenseIndex(encoder, passage_words=4, passage_stride=4, passage_title=False).build(corpus)
    assert exact.n_passages == 9000
    index = DenseIndex(encoder, index_type=kind, passage_words=4, passage_stride=4, passage_title=False).build(corpus)
    rng = np.random.default_rng(5)
    query = encoder.encode_queries(["c3 w1"])[0]
    for share in (1.0, 0.5, 0.1, 0.03, 0.004):
        mask = rng.random(len(corpus)) < share
        mask[rng.choice(len(corpus), 10, replace=False)] = True  # at least 10 allowed
        got = index.search(query, k=10, mask=mask)
        want = exact.search(query, k=10, mask=mask)
        assert len(got) == 10 and mask[got.rows].all()
        assert len(np.unique(got.rows)) == 10
        if kind == "flat":
            assert got.rows.tolist() == want.rows.tolist()
        else:
            assert len(set(got.rows.tolist()) & set(want.rows.tolist())) >= 8


def test_a_graph_search_that_reaches_too_few_allowed_vectors_is_used_only_when_it_holds_enough(monkeypatch) -> None:
    """The HNSW answer to a filtered query may hold fewer vectors than asked (the query's neighbourhood is
    filtered out). A FAKE graph answer (faiss's search replaced, so the case is certain) shows both outcomes:
    enough articles strictly above the lowest score are used as they are; too few send the search once more
    to the graph, four times as broad, and then to an exact scan of every allowed vector, which the real
    faiss runs."""
    from kbrank.index import dense_faiss

    encoder = HashEncoder()
    corpus = Corpus(Article(id=f"a{i}", title=f"c{i % 20}", body=f"w{i}") for i in range(3000))
    index = DenseIndex(encoder, index_type="hnsw", passage_title=False).build(corpus)
    query = encoder.encode_queries(["c3 w1"])[0]
    mask = np.arange(3000) % 3 == 0  # 1,000 allowed: more than an exact scan is chosen for
    exact = DenseIndex(encoder, passage_title=False).build(corpus).search(query, k=10, mask=mask)
    real = dense_faiss._search_once
    calls: list[tuple[bool, int]] = []

    def graph_returns(count: int):
        def search(index_, kind, query_, depth, selector, *, graph, ef_search):
            calls.append((graph, ef_search))
            scores, ids = real(index_, kind, query_, depth, selector, graph=graph, ef_search=ef_search)
            return (scores[:count], ids[:count]) if graph else (scores, ids)
        return search

    monkeypatch.setattr(dense_faiss, "_search_once", graph_returns(30))  # 30 of the 56 asked: 29 trusted >= 10
    got = index.search(query, k=10, mask=mask)
    assert calls == [(True, 128)] and len(got) == 10 and mask[got.rows].all()
    assert len(set(got.rows.tolist()) & set(exact.rows.tolist())) >= 8
    calls.clear()
    monkeypatch.setattr(dense_faiss, "_search_once", graph_returns(8))  # too few: wider, then an exact scan
    got = index.search(query, k=10, mask=mask)
    assert [graph for graph, _ in calls] == [True, True, False] and calls[1][1] == 4 * 128
    assert got.rows.tolist() == exact.rows.tolist()
    calls.clear()
    first = [0]

    def narrow_then_real(index_, kind, query_, depth, selector, *, graph, ef_search):
        calls.append((graph, ef_search))
        first[0] += 1
        scores, ids = real(index_, kind, query_, depth, selector, graph=graph, ef_search=ef_search)
        return (scores[:8], ids[:8]) if first[0] == 1 else (scores, ids)

    monkeypatch.setattr(dense_faiss, "_search_once", narrow_then_real)  # the wider graph search is enough
    got = index.search(query, k=10, mask=mask)
    assert calls == [(True, 128), (True, 512)] and len(got) == 10 and mask[got.rows].all()
    assert len(set(got.rows.tolist()) & set(exact.rows.tolist())) >= 8


def test_search_passages_returns_offsets_into_the_article_text(built, corpus) -> None:
    index = built["flat"]
    hits = index.search_passages("drop a damaged parcel at the post office", k=4)
    assert isinstance(hits, PassageHits) and len(hits) == 4
    assert hits.article_rows[0] == corpus.row("long")
    assert (np.diff(hits.scores) <= 0).all()
    text = index.passage_text(int(hits.passage_rows[0]))
    assert text == corpus[int(hits.article_rows[0])].text[hits.starts[0] : hits.ends[0]]
    assert "damaged parcel" in text
    np.testing.assert_array_equal(hits.article_rows, index.passages_.article_rows[hits.passage_rows])
    # the article-level search agrees with the best passage
    best = index.search("drop a damaged parcel at the post office", k=1)
    assert best.rows[0] == hits.article_rows[0] and best.scores[0] == hits.scores[0]


def test_ties_are_broken_by_row(minilm, tmp_path) -> None:
    twin = {"title": "Reset your router", "body": "Hold the reset button for ten seconds."}
    corpus = Corpus([Article(id="x", title="Pair a camera"), Article(id="b", **twin),
                     Article(id="y", title="Billing"), Article(id="a", **twin), Article(id="c", **twin)])
    for kind in TYPES:
        index = DenseIndex(minilm, index_type=kind, cache_dir=tmp_path).build(corpus)
        assert index.n_vectors == 3 and index.n_passages == 5  # one stored vector per distinct text
        result = index.search("router reset", k=2)
        assert result.rows.tolist() == [1, 3] and result.scores[0] == result.scores[1]
        assert index.search_passages("router reset", k=3).passage_rows.tolist() == [1, 3, 4]


def _edited_equals_rebuilt(edited: DenseIndex, rebuilt: DenseIndex, queries: list[str], *, exact: bool) -> None:
    assert edited.corpus_ == rebuilt.corpus_
    for name in ("article_rows", "starts", "ends"):
        np.testing.assert_array_equal(getattr(edited.passages_, name), getattr(rebuilt.passages_, name))
    if exact:
        np.testing.assert_array_equal(edited.vectors(), rebuilt.vectors())
    else:
        np.testing.assert_allclose(edited.vectors(), rebuilt.vectors(), atol=2e-5)
    for query in queries:
        a, b = edited.search(query, k=5), rebuilt.search(query, k=5)
        assert a.rows.tolist() == b.rows.tolist()
        np.testing.assert_allclose(a.scores, b.scores, atol=2e-5)
        pa, pb = edited.search_passages(query, k=5), rebuilt.search_passages(query, k=5)
        assert pa.passage_rows.tolist() == pb.passage_rows.tolist()


@pytest.fixture(scope="module")
def edit_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("edit-cache")


@pytest.mark.parametrize("kind", ["flat", "hnsw", "sq8"])
def test_add_update_remove_equal_a_rebuild(minilm, corpus, kind, edit_cache) -> None:
    counting = CountingEncoder(minilm)
    index = DenseIndex(counting, index_type=kind, cache_dir=edit_cache).build(corpus)
    counting.documents, counting.seen = 0, []
    index.remove(["wifi", "camera"])
    assert counting.documents == 0 and index.n_docs == len(corpus) - 2
    changed = Article(id="billing", title="Change your billing address", body="Billing lives under Account now.")
    same_text = Article(id="refund", title=corpus.get("refund").title, body=corpus.get("refund").body, tags=("x",))
    index.update([changed, same_text])
    # the refund article's text did not change: it is never sent; the billing one is, unless already cached
    assert counting.seen in ([changed.text], [])
    new = [Article(id="modem", title="Modem lights explained", body="A red light means no internet signal."),
           Article(id="long2", title="Long", body=" ".join(["filler words about nothing"] * 120))]
    index.add(new)
    final = corpus.without(["wifi", "camera"]).with_replaced([changed, same_text]).with_added(new)
    queries = ["how do I reset my password", "red modem light", "billing account", "filler words"]
    rebuilt = DenseIndex(minilm, index_type=kind, cache_dir=edit_cache).build(final)
    _edited_equals_rebuilt(index, rebuilt, queries, exact=True)
    if kind == "flat":
        # without a cache, vectors of edited articles come from other batches: equal up to float rounding
        fresh = DenseIndex(minilm).build(final)
        _edited_equals_rebuilt(index, fresh, queries, exact=False)


@pytest.mark.parametrize("kind", TYPES)
def test_save_load_round_trip(built, corpus, minilm, tmp_path, kind) -> None:
    index = built[kind]
    index.save(tmp_path / "ix")
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    files = manifest["files"]
    assert {"dense.faiss", "dense.passage_article", "dense.passage_start", "dense.passage_end", "corpus"} <= set(files)
    assert ("dense.embeddings" in files) == (kind in ("sq8", "fp16"))
    assert manifest["components"]["dense"]["encoder"]["fingerprint"] == minilm.fingerprint
    loaded = DenseIndex.load(tmp_path / "ix", encoder=minilm)
    assert loaded.get_params() == index.get_params() and loaded.corpus_ == corpus
    for query in ("how do I reset my password", "camera light blinks"):
        a, b = index.search(query, k=5), loaded.search(query, k=5)
        assert a.rows.tolist() == b.rows.tolist()
        np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(loaded.vectors(), index.vectors())
    # a loaded index can still be edited
    loaded.remove(["printer"])
    assert loaded.n_docs == len(corpus) - 1


def test_load_recreates_the_default_encoder(built, tmp_path) -> None:
    built["flat"].save(tmp_path)
    loaded = DenseIndex.load(tmp_path)
    assert loaded.encoder is None and loaded.encoder_.fingerprint == built["flat"].encoder_fingerprint_


def test_tampered_or_mismatched_files_are_refused(built, tmp_path, minilm) -> None:
    built["hnsw"].save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    faiss_file = tmp_path / manifest["files"]["dense.faiss"]["path"]
    data = bytearray(faiss_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    faiss_file.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="checksum mismatch for 'dense.faiss'"):
        DenseIndex.load(tmp_path, encoder=minilm)
    built["flat"].save(tmp_path)
    offsets = tmp_path / json.loads((tmp_path / "manifest.json").read_text())["files"]["dense.passage_start"]["path"]
    offsets.write_bytes(offsets.read_bytes()[:-8])
    with pytest.raises(IndexFormatError, match="truncated"):
        DenseIndex.load(tmp_path, encoder=minilm)
    built["flat"].save(tmp_path)
    with pytest.raises(IndexFormatError, match="built with encoder .*fingerprint") as info:
        DenseIndex.load(tmp_path, encoder=HashEncoder(dim=384))
    assert "rebuild the index with this one" in str(info.value)


def test_errors_name_the_problem(built, corpus, minilm) -> None:
    with pytest.raises(NotFittedError, match="not built yet"):
        DenseIndex(minilm).search("x")
    with pytest.raises(ParameterError, match=r"index_type must be one of .*; got 'hnws'. Did you mean 'hnsw'\?"):
        DenseIndex(minilm, index_type="hnws").build(corpus)
    with pytest.raises(ParameterError, match="passage_stride must be an integer between 1 and passage_words"):
        DenseIndex(minilm, passage_words=10, passage_stride=20).build(corpus)
    # faiss keeps ef_search in a C int: a huge value (say from a crafted manifest) must be refused, not overflow.
    with pytest.raises(ParameterError, match=r"ef_search must be an integer from 1 to 1000000; got 4294967296"):
        DenseIndex(minilm, index_type="hnsw", ef_search=2**32).build(corpus)
    with pytest.raises(ParameterError, match="encoder must be an Encoder"):
        DenseIndex(object()).build(corpus)
    index = built["flat"]
    with pytest.raises(ParameterError, match=r"mask must be a boolean array of shape \(8,\)"):
        index.search("x", mask=np.ones(3, bool))
    with pytest.raises(ParameterError, match="k must be an integer >= 0"):
        index.search("x", k=-1)
    with pytest.raises(ParameterError, match=r"query must be a string or a finite vector of shape \(384,\)"):
        index.search(np.ones(5))
    assert len(index.search("x", k=0)) == 0 and len(index.search_passages("x", k=0)) == 0
    with pytest.raises(TypeError, match="never pickles"):
        import pickle

        pickle.dumps(index)


def test_an_encoder_that_breaks_the_contract_is_named(corpus) -> None:
    class Broken(HashEncoder):
        def encode_documents(self, texts):
            vectors = super().encode_documents(texts)
            vectors[0, 0] = np.nan
            return vectors

    class Short(HashEncoder):
        def encode_documents(self, texts):
            return super().encode_documents(texts)[:, :5]

    with pytest.raises(ParameterError, match="encoder must be an Encoder whose encode_documents returns finite"):
        DenseIndex(Broken()).build(corpus)
    with pytest.raises(ParameterError, match=r"returns shape \(12, 32\); got 'an array of shape \(12, 5\)'"):
        DenseIndex(Short()).build(corpus)


def test_progress_is_reported_per_chunk(minilm) -> None:
    calls: list[tuple[int, int]] = []
    corpus = Corpus(Article(id=str(i), title=f"Article {i}") for i in range(3))
    DenseIndex(minilm).build(corpus, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 3), (3, 3)]


@settings(max_examples=30, deadline=None)
@given(long=st.booleans(), n=st.integers(1, 40), twins=st.integers(0, 5), k=st.integers(1, 50),
       masked=st.booleans(), seed=st.integers(0, 2**16))
def test_article_search_equals_a_plain_check_of_every_passage(long, n, twins, k, masked, seed) -> None:
    """Each article scores as its best passage; ties by row; a mask applied before the top-k. Short articles
    are one passage each (the path that needs no collapsing), long ones several; twins share vectors."""
    rng = np.random.default_rng(seed)
    words = rng.integers(1, 40 if long else 7, n)  # word pairs; up to 6 pairs and a title fit one passage
    texts = [" ".join(f"c{rng.integers(5)} w{rng.integers(50)}" for _ in range(pairs)) for pairs in words]
    texts += texts[:twins]  # identical texts: one stored vector for several passages
    corpus = Corpus([Article(id=f"a{i}", title="t", body=text) for i, text in enumerate(texts)])
    encoder = HashEncoder()
    index = DenseIndex(encoder, passage_words=16, passage_stride=12).build(corpus)
    query = encoder.encode_queries(["c1 w3 w7"])[0]
    mask = rng.random(len(corpus)) < 0.6 if masked else None
    found = index.search(query, k, mask=mask)
    passages = index.passages_
    scores = index.vectors() @ query  # one per stored vector
    best: dict[int, float] = {}
    for passage, article in enumerate(passages.article_rows.tolist()):
        if mask is None or mask[article]:
            value = float(scores[index.state_.vector_rows[passage]])
            best[article] = max(best.get(article, -np.inf), value)
    expected = sorted(best, key=lambda row: (-best[row], row))[:k]
    assert found.rows.tolist() == expected
    np.testing.assert_allclose(found.scores, [best[r] for r in expected], rtol=0, atol=1e-6)
    assert index.state_.one_passage_each == (len(passages) == len(corpus))
    if not long:
        assert index.state_.one_passage_each
