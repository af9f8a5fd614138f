"""The one applicability model: version normalization, ranges, scopes, and the compiled form against a plain
per-article Python check."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbrank.applicability import Scope, compile_applicability, normalize_version, parse_range, parse_version, version_in
from kbrank.errors import InputError, VersionSpecError


@pytest.mark.parametrize(("raw", "normal"), [
    ("2.3.1", "2.3.1"), ("v2.3", "2.3"), ("V2.3", "2.3"), ("2.3.1-beta", "2.3.1b0"), ("FW_2.3.1", "2.3.1"),
    ("fw-2.3.1", "2.3.1"), ("firmware 4.2", "4.2"), ("2.3.1-build7", "2.3.1"), ("4.2.1 (build 77)", "4.2.1"),
    (" 2.4 ", "2.4"), ("FW_2.3.1-build7", "2.3.1"),
])
def test_lenient_versions_normalize_as_documented(raw: str, normal: str) -> None:
    assert normalize_version(raw) == normal


@pytest.mark.parametrize("raw", [None, "", "   ", "latest", "beta"])
def test_versions_without_digits_are_unknown(raw) -> None:
    assert parse_version(raw) is None
    assert version_in(">=1.0", raw) is None


def test_strict_versions_name_the_value_and_the_fix() -> None:
    assert str(parse_version("2.3.1", strict=True)) == "2.3.1"
    with pytest.raises(VersionSpecError) as caught:
        parse_version("FW_2.3.1", strict=True, source="owned.jsonl", line=3, field="owned[0].version")
    message = str(caught.value)
    assert "owned.jsonl, line 3, field 'owned[0].version'" in message and "'FW_2.3.1'" in message
    assert "Fix:" in message and isinstance(caught.value, InputError)
    with pytest.raises(VersionSpecError, match="expected a version string"):
        parse_version(2.3)


def test_ranges_are_strict_and_cached() -> None:
    assert parse_range(">=2.0,<2.4") is parse_range(">=2.0,<2.4")
    for bad in (">=x", "2.0 - 2.4", "<<2"):
        with pytest.raises(VersionSpecError, match="not a PEP 440 version specifier") as caught:
            parse_range(bad, field="versions.router-x200")
        assert "field 'versions.router-x200'" in str(caught.value) and "Fix:" in str(caught.value)
    with pytest.raises(VersionSpecError, match="expected a version specifier string"):
        parse_range(None)


def test_range_checks_include_prereleases_and_firmware_strings() -> None:
    assert version_in(">=2.3", "2.4b1") is True
    assert version_in(">=2.0,<2.4", "FW_2.3.1") is True
    assert version_in(">=2.0,<2.4", "v2.4") is False
    assert parse_range(">=2.0.3,<2.4").bounds == (200.03, 204.0)
    assert parse_range("==2.3.*").bounds == (203.0, 204.0)
    assert parse_range("~=2.2").bounds == (202.0, 300.0)
    assert all(np.isnan(parse_range("!=2.0").bounds))
    assert parse_range("<2.4").upper_bounded and not parse_range(">=2.4").upper_bounded


def test_scope_assessment_outcomes() -> None:
    scope = Scope(products=("cam-c10",), versions={"cam-c10": ">=4.2,<4.3.2"}, platforms=("ios",), regions=("eu",))
    hit = scope.assess("cam-c10", "4.2.1", platform="ios", region="eu")
    assert (hit.product, hit.version, hit.platform, hit.region, hit.locale) == ("in", "in", "in", "in", "open")
    assert hit.applies and hit.confirmed
    unknown = scope.assess("cam-c10", None, region="eu")
    assert unknown.version == "unknown" and unknown.platform == "unknown" and unknown.applies
    assert not scope.assess("cam-c10", "4.4.0", platform="ios", region="eu").applies
    assert scope.assess("router-x200", "4.2.1").product == "out"
    assert Scope().assess(None).applies and not Scope().assess(None).confirmed
    with pytest.raises(VersionSpecError):
        Scope(products=("a",), versions={"a": ">=x"})


PRODUCTS = ("a", "b", "c")
SPECS = (">=1.0,<2.0", ">=2.0", "<1.5", "==1.2.*", "~=1.4")
VERSIONS = ("1.0", "1.2.3", "1.4.9", "2.0", "2.1b1", "FW_1.5", "unknown", None)


@st.composite
def _articles(draw):
    out = []
    for _ in range(draw(st.integers(1, 12))):
        products = tuple(draw(st.lists(st.sampled_from(PRODUCTS), max_size=2, unique=True)))
        versions = {p: draw(st.sampled_from(SPECS)) for p in products if draw(st.booleans())}
        out.append(SimpleNamespace(products=products, versions=versions, platforms=(), regions=(), locales=(),
                                   audience=(), tags=(), status="active", kind="how-to", valid_until=None,
                                   updated_at=dt.date(2026, 1, 1)))
    return out


@settings(max_examples=150, deadline=None)
@given(_articles(), st.dictionaries(st.sampled_from(PRODUCTS), st.lists(st.sampled_from(VERSIONS), min_size=1,
                                                                         max_size=2)))
def test_compiled_version_verdicts_equal_a_plain_check(articles, owned) -> None:
    match, miss = compile_applicability(articles).version_verdicts(owned)
    for row, article in enumerate(articles):
        answers = [Scope(article.products, article.versions).version_outcome(p, v)
                   for p in article.versions if p in owned for v in owned[p]]
        expected_match = "in" in answers
        per_product = [[Scope(article.products, article.versions).version_outcome(p, v) for v in owned[p]]
                       for p in article.versions if p in owned]
        expected_miss = not expected_match and any(o and all(x == "out" for x in o) for o in per_product)
        assert match[row] == expected_match, (article, owned)
        assert miss[row] == expected_miss, (article, owned)
