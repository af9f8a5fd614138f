"""Product tracking: exact and multi-word names, typos (checked against a brute-force plain-Python edit
distance), owned products first, most recent mention wins, follow-ups keep the product, answers to a question."""

from __future__ import annotations

import pytest
from _chat_helpers import CATALOGUE
from hypothesis import given, settings
from hypothesis import strategies as st

from kbrank import ParameterError
from kbrank.chat import ProductTracker, product_names
from kbrank.chat.names import normalize_tokens


@pytest.fixture(scope="module")
def tracker() -> ProductTracker:
    return ProductTracker(catalogue=CATALOGUE, vocabulary={"keeps", "dropping", "cameras", "wifi"}).fit(
        ["router-x200", "cam-c10", "bell-d1"]
    )


def test_exact_multi_word_name_wins_over_its_parts(tracker: ProductTracker) -> None:
    (mention,) = tracker.mentions("my Lumio Cam C30 Outdoor is dark at night")
    assert mention.alias == "lumio cam c30 outdoor" and mention.products == ("cam-c30",)
    assert mention.text == "Lumio Cam C30 Outdoor" and mention.how == "exact"


def test_follow_up_without_mention_keeps_the_last_product(tracker: ProductTracker) -> None:
    tracking = tracker.track(["my X200 keeps dropping the wifi", "it still blinks red", "any other ideas?"])
    assert tracking.product == "router-x200" and tracking.turn == 0 and tracking.how == "named"
    assert "X200" in tracking.describe(tracker.names_) and "turn 1" in tracking.describe(tracker.names_)


def test_most_recent_mention_wins_across_and_within_turns(tracker: ProductTracker) -> None:
    assert tracker.track(["my X200 drops", "and my C10 shows offline"]).product == "cam-c10"
    assert tracker.track(["not the X200, the C10"]).product == "cam-c10"
    # a line word beside a model of that line is absorbed by the model
    assert tracker.track(["the X200 router drops"]).product == "router-x200"


@pytest.mark.parametrize(
    "typed, product",
    [
        ("X20O", "router-x200"),  # letter O for zero
        ("X2000", "router-x200"),  # doubled character
        ("X02", "router-x200"),  # not a typo of anything within one edit
        ("x20", "router-x200"),  # dropped character
        ("2X00", "router-x200"),  # swapped neighbors
        ("C1O", "cam-c10"),
        ("x 200", "router-x200"),  # letter and number typed apart
    ],
)
def test_typos_in_model_numbers(tracker: ProductTracker, typed: str, product: str) -> None:
    found = tracker.track([f"my {typed} keeps dropping"]).products
    if typed == "X02":
        assert found == ()
    else:
        assert found == (product,)


def test_typo_as_close_to_two_models_prefers_the_same_start_then_the_owned_one(
    tracker: ProductTracker,
) -> None:
    # "c300" is one edit from c30 (extra 0) and x300 (c for x): Jaro-Winkler keeps the one starting alike
    assert tracker.track(["my c300 is dark"]).products == ("cam-c30",)
    # "c20" is one edit from c10 and c30, alike from the start: the customer's own one decides
    assert tracker.track(["my c20 is dark"], owned={"cam-c10"}).products == ("cam-c10",)
    assert set(tracker.track(["my c20 is dark"]).products) == {"cam-c10", "cam-c30"}


def test_words_of_the_corpus_are_never_read_as_typos(tracker: ProductTracker) -> None:
    assert tracker.mentions("all cameras keep dropping") == []  # "cameras" is a word of the corpus
    (mention,) = tracker.mentions("the routers light is red")  # "routers" is not: one edit from "router"
    assert mention.how == "fuzzy" and set(mention.products) == {"router-x200", "router-x300"}


def test_line_words_are_narrowed_to_the_customers_own_products(tracker: ProductTracker) -> None:
    tracking = tracker.track(["the camera is dark"], owned={"cam-c10", "router-x200"})
    assert tracking.products == ("cam-c10",) and tracking.how == "owned"
    tracking = tracker.track(["the camera is dark"], owned={"router-x200"})  # owns none: a pre-sales question
    assert set(tracking.products) == {"cam-c10", "cam-c30"} and tracking.how == "catalogue"
    assert tracker.track(["my thermostst is cold"], owned={"thermo-t1"}).products == ("thermo-t1",)


def test_answers_to_a_clarifying_question(tracker: ProductTracker) -> None:
    options = {1: ("router-x200", "cam-c10")}
    texts = ["it keeps dropping", "the second one"]
    tracking = tracker.track(texts, options=options)
    assert tracking.products == ("cam-c10",) and tracking.how == "option"
    assert tracker.track(["it keeps dropping", "the camera"], options=options).products == ("cam-c10",)
    # a long reply is a new message, not an ordinal answer
    assert (
        tracker.track(
            ["it keeps dropping", "it was the first time it did that after the update"], options=options
        ).products
        == ()
    )


def test_names_from_product_ids_alone() -> None:
    table = product_names(None, ["router-x200", "router-x300", "cam-c10", "app-home"])
    assert table.aliases["x200"] == ("router-x200",)
    assert table.aliases["router x200"] == ("router-x200",)
    assert table.aliases["router"] == ("router-x200", "router-x300")  # a line word shared by two ids
    assert "home" not in table.aliases and "app" not in table.aliases  # a word of one id names nothing alone
    assert table.name("cam-c10") == "cam-c10"


def test_the_brand_in_every_name_is_not_an_alias() -> None:
    table = product_names(CATALOGUE)
    assert "lumio" not in table.aliases and table.name("cam-c30") == "Lumio Cam C30 Outdoor"


@pytest.mark.parametrize(
    "catalogue, message",
    [
        (["router-x200"], "catalogue must be a mapping"),
        ({"router-x200": 3}, "a name or a list of names"),
        ({"router-x200": ["", "X200"]}, "each with a letter or digit"),
        ({"": ["X"]}, "non-empty product id"),
    ],
)
def test_a_bad_catalogue_is_refused_with_the_fix(catalogue, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        ProductTracker(catalogue=catalogue).fit()


def _osa(a: str, b: str) -> int:
    """Optimal string alignment distance, written out (the reference for rapidfuzz + the deletion index)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


_LETTERS = "abcdehkmrstxz0123456789"


@settings(max_examples=300, deadline=None)
@given(
    alias=st.sampled_from(["x200", "x300", "c10", "c30", "thermostat", "camera", "t1"]),
    op=st.sampled_from(["sub", "drop", "add", "swap"]),
    at=st.integers(0, 9),
    char=st.sampled_from(_LETTERS),
)
def test_fuzzy_matches_equal_a_brute_force_search_over_every_alias(
    tracker: ProductTracker, alias: str, op: str, at: int, char: str
) -> None:
    i = at % len(alias)
    typed = {
        "sub": alias[:i] + char + alias[i + 1 :],
        "drop": alias[:i] + alias[i + 1 :],
        "add": alias[:i] + char + alias[i:],
        "swap": alias[:i] + alias[i + 1 : i + 2] + alias[i] + alias[i + 2 :],
    }[op]
    token = normalize_tokens(typed)[0]
    if len(token) != 1:
        return
    token = token[0]
    single = {a: p for a, p in tracker.names_.aliases.items() if " " not in a}
    found = tracker.mentions(f"hi {typed} ok")
    if token in single:  # typed another name exactly
        assert found and found[0].how == "exact" and found[0].products == single[token]
        return
    eligible = (
        len(token) >= (3 if any(c.isdigit() for c in token) else 4)
        and not token.isdigit()
        and any(c.isalpha() for c in token)
    )
    close = {a for a in single if len(a) >= 3 and _osa(token, a) <= 1}
    if not eligible or not close:
        assert found == []
        return
    assert len(found) == 1 and found[0].how == "fuzzy"
    chosen = set(found[0].alias.split("|"))
    assert chosen and chosen <= close  # Jaro-Winkler picks among the brute-force candidates, never beyond
    assert set(found[0].products) == {p for a in chosen for p in single[a]}


def test_importing_kbrank_chat_loads_no_optional_dependency() -> None:
    import subprocess
    import sys

    code = ("import sys, kbrank.chat, kbrank.cli; "
            "print(sorted(m for m in ('ahocorasick', 'rapidfuzz', 'torch', 'faiss') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
