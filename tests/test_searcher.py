"""The Searcher facade end to end with the real MiniLM model and real faiss, on a small help centre."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kbrank import Article, Corpus, ParameterError
from kbrank.searcher import Searcher

TITLES = [
    ("pw", "Reset your account password", "Use the forgotten password link on the sign-in page."),
    ("wifi", "Router drops the wireless connection", "If the Wi-Fi keeps disconnecting, move the router."),
    ("cam", "Camera night vision is blurry", "Clean the lens and turn off infrared reflections."),
    ("bill", "Change your billing address", "Open account settings and edit the invoice address."),
    ("fw", "Firmware update failed with error E-102", "Restart the device and retry the update."),
    ("bat", "Doorbell battery drains quickly", "Lower the motion sensitivity to save battery."),
    ("app", "App notifications stopped", "Allow notifications for the app in phone settings."),
    ("thermo", "Thermostat schedule not followed", "Check the heating schedule and time zone."),
]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(Article(id=i, title=t, body=b) for i, t, b in TITLES)


@pytest.fixture(scope="module")
def searcher(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    from kbrank.index.dense import DenseIndex

    cache = tmp_path_factory.mktemp("cache")
    return Searcher(mode="hybrid", dense=DenseIndex(cache_dir=cache)).build(corpus)


def test_three_modes_answer_and_hybrid_keeps_both_sources(searcher: Searcher) -> None:
    assert searcher.available_modes() == ("bm25", "dense", "hybrid")
    # no word in common with the password article: only the dense model can find it
    assert searcher.search("I forgot my login credentials", k=1, mode="dense").ids == ["pw"]
    assert searcher.search("error E-102", k=1, mode="bm25").ids == ["fw"]
    hybrid = searcher.search("wifi keeps disconnecting", k=3)
    assert hybrid.ids[0] == "wifi"
    top = hybrid[0]
    assert top.sources["bm25"].rank == 1 and top.sources["dense"].rank == 1
    assert top.score == pytest.approx(2 / 31)  # RRF, constant 30: rank 1 in both lists


def test_mask_applies_before_top_k_in_hybrid(searcher: Searcher, corpus: Corpus) -> None:
    mask = np.ones(len(corpus), bool)
    mask[corpus.row("wifi")] = False
    found = searcher.search("wifi keeps disconnecting", k=5, mask=mask)
    assert "wifi" not in found.ids and len(found) == 5


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_a_mask_that_is_not_one_bool_per_article_is_refused_in_every_mode(searcher: Searcher, corpus: Corpus,
                                                                          mode: str) -> None:
    # 0/1 integers would index rows in a hybrid search (a silent wrong answer); a short mask ran off its end
    for bad in (np.ones(len(corpus), int), np.ones(3, bool), np.ones((len(corpus), 1), bool)):
        with pytest.raises(ParameterError, match=rf"mask must be a boolean array of shape \({len(corpus)},\)"):
            searcher.search("wifi keeps disconnecting", k=5, mode=mode, mask=bad)
        with pytest.raises(ParameterError, match="mask must be a boolean array"):
            searcher.candidates("wifi keeps disconnecting", k=5, mode=mode, mask=bad)


def test_save_load_round_trip(searcher: Searcher, tmp_path: Path) -> None:
    searcher.save(tmp_path / "idx")
    loaded = Searcher.load(tmp_path / "idx")
    for mode in ("bm25", "dense", "hybrid"):
        a = searcher.search("camera picture at night", k=4, mode=mode)
        b = loaded.search("camera picture at night", k=4, mode=mode)
        assert a.ids == b.ids
        np.testing.assert_allclose([r.score for r in a], [r.score for r in b], rtol=1e-6)


def test_mode_errors(corpus: Corpus) -> None:
    bm25_only = Searcher(mode="bm25").build(corpus)
    with pytest.raises(ParameterError, match=r"mode must be one this searcher was built for \('bm25',\)"):
        bm25_only.search("x", mode="hybrid")
    with pytest.raises(ParameterError, match="mode must be one of"):
        Searcher(mode="semantic").build(corpus)
