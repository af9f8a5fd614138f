"""Consistency while the index changes, and queries checked at the door.

`Searcher.add`, `update` and `remove` keep the corpus, both indexes and the applicability in step, equal a
rebuild (hypothesis), and are atomic for readers: threads searching during edits only ever see a whole old or
a whole new snapshot. Editing an index behind the searcher's back is refused, not silently wrong. Empty queries
find nothing in every mode; very long ones are refused; the analyzer's token cache stays bounded."""

from __future__ import annotations

import datetime as dt
import random
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbrank import (
    Article,
    Corpus,
    DenseIndex,
    InputError,
    OwnedProduct,
    ParameterError,
    Personalizer,
    ProfileView,
    Searcher,
)
from kbrank.analysis import Analyzer

sys.path[:0] = [str(Path(__file__).parent / "index")]
from _dense_helpers import HashEncoder  # noqa: E402 (a fast fake encoder, seeded by each text's hash)

TODAY = dt.date(2026, 11, 1)
WORDS = ("wifi", "router", "camera", "battery", "reset", "firmware", "pairing", "alerts")
VIEW = ProfileView.of("personalization", owned=(OwnedProduct("router-x200", "2.3.1"),), region="eu")


def _article(i: int, words: list[str], product: str | None = None) -> Article:
    return Article(id=f"a{i}", title=" ".join(words[:3]) or "empty", body=" ".join(words),
                   products=(product,) if product else ())


def _searcher(articles: list[Article], mode: str = "hybrid") -> Searcher:
    return Searcher(mode=mode, dense=DenseIndex(HashEncoder()), depth=20,
                    personalizer=Personalizer(today=TODAY)).build(Corpus(articles))


edits = st.lists(st.tuples(st.sampled_from(("add", "update", "remove")),
                           st.lists(st.sampled_from(WORDS), min_size=1, max_size=5),
                           st.sampled_from((None, "router-x200", "cam-c10"))), min_size=1, max_size=6)


@settings(max_examples=30, deadline=None)
@given(start=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5), min_size=2, max_size=8),
       steps=edits, mode=st.sampled_from(("bm25", "dense", "hybrid")))
def test_edits_through_the_searcher_equal_a_rebuild(start, steps, mode) -> None:
    articles = [_article(i, words) for i, words in enumerate(start)]
    searcher = _searcher(articles, mode)
    next_id = len(articles)
    for op, words, product in steps:
        if op == "add" or len(articles) < 2:
            new = _article(next_id, words, product)
            next_id += 1
            articles.append(new)
            searcher.add([new])
        elif op == "update":
            target = articles[len(words) % len(articles)]
            new = _article(int(target.id[1:]), words, product)
            articles[articles.index(target)] = new
            searcher.update([new])
        else:
            gone = articles.pop(len(words) % len(articles))
            searcher.remove([gone.id])
    rebuilt = _searcher(articles, mode)
    assert searcher.corpus_ == rebuilt.corpus_ == Corpus(articles)
    assert searcher.personalizer_.applicability_.vocab == rebuilt.personalizer_.applicability_.vocab
    for query in ("wifi router", "camera battery reset", "firmware"):
        a, b = searcher.search(query, 5, profile=VIEW), rebuilt.search(query, 5, profile=VIEW)
        assert a.ids == b.ids
        np.testing.assert_allclose([r.score for r in a], [r.score for r in b], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_readers_during_edits_see_one_whole_snapshot(mode: str) -> None:
    rng = random.Random(4)
    base = [_article(i, rng.sample(WORDS, 4), rng.choice((None, "router-x200"))) for i in range(60)]
    searcher = _searcher(base, mode)
    snapshots = {id(searcher.state_.corpus): searcher.state_.corpus}
    problems: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                results = searcher.search("wifi router reset", 10, profile=VIEW)
            except Exception as exc:  # noqa: BLE001 - any error at all is the failure being tested
                problems.append(repr(exc))
                return
            ids = results.ids
            valid = [c for c in list(snapshots.values()) if all(i in c for i in ids)]
            if not valid or len(set(ids)) != len(ids) or not all(np.isfinite(r.score) and abs(r.score) < 10
                                                                  for r in results):
                problems.append(f"results that match no snapshot: {ids}")
                return

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    next_id = 1000
    for step in range(40):
        if step % 3 == 0:
            new = _article(next_id, rng.sample(WORDS, 3), "router-x200")
            next_id += 1
            searcher.add([new])
        elif step % 3 == 1:
            victim = rng.choice(searcher.corpus_.ids)
            searcher.update([_article(int(victim[1:]), rng.sample(WORDS, 3))])
        else:
            searcher.remove([rng.choice(searcher.corpus_.ids)])
        snapshots[id(searcher.state_.corpus)] = searcher.state_.corpus
    stop.set()
    for thread in readers:
        thread.join()
    assert not problems, problems[:3]


def test_editing_an_index_behind_the_searchers_back_is_refused() -> None:
    searcher = _searcher([_article(i, ["wifi", "router"]) for i in range(3)], "bm25")
    searcher.bm25_.add([_article(9, ["camera"])])
    with pytest.raises(ParameterError, match="Edit through Searcher.add, update and remove"):
        searcher.search("wifi")


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_an_empty_query_finds_nothing_in_every_mode(mode: str, query: str) -> None:
    searcher = _searcher([_article(i, ["wifi", "router"]) for i in range(5)], mode)
    for profile in (None, VIEW):
        results = searcher.search(query, 10, profile=profile)
        assert len(results) == 0 and results.notice == "the query is empty"
    assert len(searcher.candidates(query, 10)) == 0


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_very_long_queries_are_refused_not_run(mode: str) -> None:
    searcher = _searcher([_article(i, ["wifi", "router"]) for i in range(5)], mode)
    words = " ".join(f"w{i}x" for i in range(10_000))
    with pytest.raises(InputError, match="longer than 8192 characters"):
        searcher.search(words)
    many = " ".join(f"t{i}" for i in range(600))  # 600 distinct terms in under 8192 characters
    with pytest.raises(InputError, match="more than 512 distinct terms"):
        searcher.search(many)
    raised = Searcher(mode=mode, dense=DenseIndex(HashEncoder()), max_query_terms=1000).build(searcher.corpus_)
    assert len(raised.search(many)) == (0 if mode == "bm25" else 5)  # with the limit raised, it runs


@pytest.mark.parametrize("k", [-1, "3", 2.5, True, None])
def test_k_is_validated_once_for_every_mode(k) -> None:
    searcher = _searcher([_article(i, ["wifi", "router"]) for i in range(5)], "hybrid")
    for mode in ("bm25", "dense", "hybrid"):
        with pytest.raises(ParameterError, match="k must be an integer >= 0"):
            searcher.search("wifi", k, mode=mode)


def test_the_token_cache_stays_bounded() -> None:
    analyzer = Analyzer()
    rng = random.Random(0)
    for _ in range(30):
        analyzer(" ".join("".join(rng.choice("abcdefghij") for _ in range(8)) for _ in range(10_000)))
    assert len(analyzer._cache) + len(analyzer._previous) <= 2 * 32_768
    analyzer("x" * 1_000_000)  # one huge token is analyzed, not cached
    assert "x" * 1_000_000 not in analyzer._cache
    assert analyzer.clear_cache() > 0 and not analyzer._cache
