"""The personalization core: applicability, facts, the default policy's rules and their receipts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from kbrank import Article, Corpus, ParameterError
from kbrank.applicability import compile_applicability, parse_version, version_in
from kbrank.personalize import Personalizer, Rule
from kbrank.privacy import OwnedProduct, ProfileView, UsageEvent
from kbrank.searcher import Searcher

TODAY = dt.date(2026, 11, 1)
ARTICLES = [
    Article(id="x200-old", title="Router wifi drops", body="wifi drops on the router",
            products=("router-x200",), versions={"router-x200": ">=2.0,<2.4"}),
    Article(id="x200-new", title="Router wifi drops", body="wifi drops on the router",
            products=("router-x200",), versions={"router-x200": ">=2.4"}),
    Article(id="x200-issue", title="Known issue: router wifi drops", body="wifi drops after the update",
            products=("router-x200",), versions={"router-x200": ">=2.2,<2.4"}, kind="known-issue"),
    Article(id="cam", title="Camera wifi drops", body="wifi drops on the camera", products=("cam-c10",)),
    Article(id="general", title="Wifi drops: general checks", body="wifi drops general router checks"),
    Article(id="us-only", title="Router wifi drops in the US", body="wifi drops router", regions=("us",)),
    Article(id="expired", title="Router wifi drops old", body="wifi drops router", valid_until=dt.date(2025, 1, 1)),
    Article(id="archived", title="Router wifi drops archive", body="wifi drops router", status="archived"),
    Article(id="ios", title="App wifi drops on iPhone", body="wifi drops app", products=("app-home",),
            platforms=("ios",)),
    Article(id="parental", title="Router parental controls and wifi drops", body="wifi drops router",
            products=("router-x200",), tags=("parental-controls",)),
]


def _view(**fields) -> ProfileView:
    fields.setdefault("owned", (OwnedProduct(product="router-x200", version="2.3.1", platform="android"),
                                OwnedProduct(product="app-home", version="5.0", platform="android")))
    fields.setdefault("region", "eu")
    return ProfileView.of("personalization", **fields)


@pytest.fixture(scope="module")
def searcher() -> Searcher:
    return Searcher(mode="bm25", personalizer=Personalizer(today=TODAY)).build(Corpus(ARTICLES))


def test_version_parsing_with_fallback_for_firmware_strings() -> None:
    assert str(parse_version("2.3.1")) == "2.3.1"
    assert str(parse_version("FW_2.3.1-build7")) == "2.3.1"
    assert parse_version("beta") is None
    assert version_in(">=2.0,<2.4", "2.3") is True
    assert version_in("<2.4", "2.5") is False
    assert version_in(">=2.0", "unknown") is None


def test_applicability_is_compiled_to_sparse_matrices() -> None:
    app = compile_applicability(Corpus(ARTICLES))
    assert app.matrices["products"].shape == (len(ARTICLES), 3)
    assert set(app.specs) == {">=2.0,<2.4", ">=2.4", ">=2.2,<2.4"}
    assert app.restricted("regions").tolist() == [a.id == "us-only" for a in ARTICLES]


def test_promotes_demotes_hides_with_reasons(searcher: Searcher) -> None:
    results = searcher.search("wifi drops", k=10, profile=_view(), explain_hidden=True)
    ids = results.ids
    assert results.personalized
    assert ids[0] in {"x200-issue", "x200-old"}  # exact version match (and the active known issue) first
    assert ids.index("x200-old") < ids.index("x200-new")  # near-miss demoted below the match
    for hidden in ("cam", "us-only", "expired", "archived"):
        assert hidden not in ids
    reasons = {r.article_id: {c.rule: c.reason for c in r.contributions} for r in results}
    top = results[0]
    assert top.fused_score is not None and top.sources["bm25"].rank is not None
    assert top.score == pytest.approx(top.retrieval_score + sum(c.delta for c in top.contributions))
    assert reasons["x200-old"]["version-match"] == "you run router-x200 2.3.1; this article applies to >=2.0,<2.4"
    assert reasons["x200-new"]["version-near-miss"] == "this article applies to router-x200 >=2.4; you run 2.3.1"
    assert "known-issue" in reasons["x200-issue"]
    assert reasons["ios"]["platform-mismatch"] == "for ios; you use android"
    assert reasons["general"]["general"].startswith("a general article")
    hidden = {h.article_id: [c.rule for c in h.reasons] for h in results.hidden}
    assert hidden["cam"] == ["not-owned-product"] and hidden["us-only"] == ["other-region"]
    assert hidden["expired"] == ["expired"] and hidden["archived"] == ["archived"]


def test_query_naming_an_unowned_product_is_not_hidden(searcher: Searcher) -> None:
    results = searcher.search("c10 camera wifi drops", k=10, profile=_view())
    assert results.ids[0] == "cam"
    assert any(c.rule == "named-product" for c in results[0].contributions)


def test_usage_needs_consent_and_receipts_quote_only_allowed_fields(searcher: Searcher) -> None:
    event = UsageEvent(product="router-x200", feature="parental-controls",
                       timestamp=dt.datetime(2026, 10, 25, tzinfo=dt.timezone.utc))
    with_usage = searcher.search("router wifi drops", k=10, profile=_view(usage=(event,)))
    without = searcher.search("router wifi drops", k=10, profile=_view())
    used = {c.rule: c.reason for c in with_usage[with_usage.ids.index("parental")].contributions}
    assert used["recent-usage"] == "you used parental-controls recently"
    assert all("usage" not in c.rule for r in without for c in r.contributions)


def test_no_profile_or_no_consent_is_exactly_unpersonalized(searcher: Searcher) -> None:
    plain = searcher.search("wifi drops", k=10)
    refused = searcher.search("wifi drops", k=10,
                              profile=ProfileView.of("personalization", personalized=False, reason="no consent"))
    assert plain.ids == refused.ids and [r.score for r in plain] == [r.score for r in refused]
    assert refused.notice == "not personalized: no consent" and not refused.personalized


def test_when_everything_would_be_hidden_fall_back_and_say_so(searcher: Searcher) -> None:
    view = _view(owned=(OwnedProduct(product="thermo-t1", version="1.0"),))
    results = searcher.search("camera", k=5, profile=view)
    assert results.ids == ["cam"] and not results.personalized
    assert "would hide every match" in results.notice


def test_top_k_is_full_when_enough_applicable_articles_match(searcher: Searcher) -> None:
    results = searcher.search("wifi drops", k=5, profile=_view())
    assert len(results) == 5


def test_applicability_survives_save_and_load(searcher: Searcher, tmp_path: Path) -> None:
    searcher.save(tmp_path / "idx")
    loaded = Searcher.load(tmp_path / "idx", personalizer=Personalizer(today=TODAY))
    a = searcher.search("wifi drops", k=10, profile=_view())
    b = loaded.search("wifi drops", k=10, profile=_view())
    assert a.ids == b.ids
    np.testing.assert_array_equal([r.score for r in a], [r.score for r in b])


def test_rules_are_validated() -> None:
    with pytest.raises(ParameterError, match="Did you mean 'version_match'"):
        Rule("x", "promote", "version_matc", 0.2)
    with pytest.raises(ParameterError, match="action must be one of"):
        Rule("x", "boost", "general", 0.2)
    with pytest.raises(ParameterError, match="weight must be a number > 0"):
        Rule("x", "demote", "general")
