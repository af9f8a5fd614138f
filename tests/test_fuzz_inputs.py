"""Fuzzing every door that takes outside input: corpus records (dicts, JSONL bytes), profile records and search
input. The only outcomes allowed are success or a `kbrank.errors` exception with a message; anything else (a
TypeError, a RecursionError, an OverflowError, a crash) is a failure. Budgets are fixed and derandomized, so
every run tries the same cases: 2,000 per door."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbrank import Article, Corpus, OwnedProduct, Personalizer, ProfileView, Searcher
from kbrank.errors import KBRankError
from kbrank.privacy import Pseudonymizer, profile_from_record

BUDGET = settings(max_examples=2000, derandomize=True, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                         HealthCheck.function_scoped_fixture])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["", " ", "2.3.1", ">=2.0,<2.4", "FW_2.3.1", "\ud800",
                                                            "9999-12-31T23:59:59-23:59", "2026-10-01", "[/]"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)
ARTICLE = {"id": "kb-1", "title": "Reset", "body": "Hold the button", "products": ["router-x200"],
           "versions": {"router-x200": ">=2.0,<2.4"}, "platforms": ["ios"], "regions": ["eu"], "locales": ["en-GB"],
           "audience": ["consumer"], "kind": "how-to", "status": "active", "updated_at": "2026-01-01",
           "valid_until": "2027-01-01", "tags": ["wifi"], "metadata": {"x": 1}, "url": "https://x"}
PROFILE = {"customer_id": "cust-1", "region": "eu", "locale": "en-GB", "segment": "consumer",
           "owned": [{"product": "router-x200", "line": "router", "version": "2.3.1", "platform": "ios",
                      "registered_at": "2025-03-01", "status": "active"}],
           "usage": [{"product": "router-x200", "feature": "wifi", "timestamp": "2026-10-01T12:00:00Z",
                      "region": "eu", "count": 3}],
           "preferred_channel": "email", "addresses": {"email": "a@example.com", "sms": "+447700900123"},
           "consents": {"personalization": True, "usage": {"granted": True, "recorded_at": "2026-01-01T00:00:00Z"},
                        "channels": {"email": True}}}


def _mutated(base: dict) -> st.SearchStrategy:
    """Valid records with some fields replaced, removed or added: deep enough to reach every validator."""
    keys = sorted(base) + ["_id", "text", "prodcuts", "extra"]
    return st.builds(lambda changes, drop: {**{k: v for k, v in base.items() if k not in drop}, **changes},
                     st.dictionaries(st.sampled_from(keys), json_values, max_size=3),
                     st.sets(st.sampled_from(sorted(base)), max_size=2))


def _only_kbrank_errors(call) -> None:
    try:
        call()
    except KBRankError as exc:
        assert str(exc), "a kbrank error without a message"


@BUDGET
@given(record=st.one_of(_mutated(ARTICLE), json_values))
def test_corpus_records(record) -> None:
    _only_kbrank_errors(lambda: Corpus.from_records([record, {"id": "kb-2", "title": "x"}]))


@BUDGET
@given(lines=st.lists(st.one_of(st.binary(max_size=40), _mutated(ARTICLE).map(lambda r: json.dumps(r).encode()),
                                st.sampled_from([b"\xef\xbb\xbf{\"id\": \"a\"}", b"[" * 5000, b"{\"id\": \"\\ud800\"}",
                                                 b"{\"id\": 1e999}", b"\r\n", b"{\"id\": \"a\"} trailing"])),
                      min_size=1, max_size=4))
def test_corpus_jsonl_bytes(lines, tmp_path_factory) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz", numbered=True)) / "kb.jsonl"
    path.write_bytes(b"\n".join(lines))
    _only_kbrank_errors(lambda: Corpus.from_jsonl(path))


PSEUDONYMIZE = Pseudonymizer("a fuzzing key of at least 16 bytes")


@BUDGET
@given(record=st.one_of(_mutated(PROFILE), json_values), strict=st.booleans())
def test_profile_records(record, strict) -> None:
    _only_kbrank_errors(lambda: profile_from_record(record, pseudonymize=PSEUDONYMIZE, strict_versions=strict))


@pytest.fixture(scope="module")
def searcher() -> Searcher:
    corpus = Corpus([Article(id=f"kb-{i}", title=f"router wifi {i}", body="reset the router", products=p)
                     for i, p in enumerate([("router-x200",), (), ("cam-c10",)] * 4)])
    return Searcher(mode="bm25", personalizer=Personalizer(today=dt.date(2026, 11, 1))).build(corpus)


@BUDGET
@given(query=st.one_of(st.text(max_size=60), st.sampled_from(["x200 x200", "", "\x00\ud800", "a" * 9000]), scalars),
       k=st.one_of(st.integers(-3, 30), scalars), mode=st.one_of(st.none(), st.sampled_from(["bm25", "dense", "x"])),
       owned=st.lists(st.builds(OwnedProduct, product=st.sampled_from(["router-x200", "cam-c10"]),
                                version=st.one_of(st.none(), st.sampled_from(["2.3.1", "FW_2", "9.9"]))), max_size=2),
       explain=st.booleans())
def test_search_input(searcher: Searcher, query, k, mode, owned, explain) -> None:
    view = ProfileView.of("personalization", owned=tuple(owned), region="eu")
    try:
        results = searcher.search(query, k, mode=mode, profile=view, explain_hidden=explain)
    except KBRankError as exc:
        assert str(exc)
        return
    assert len(results) <= k and all(math.isfinite(r.score) for r in results)
