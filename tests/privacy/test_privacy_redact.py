"""Query-log hygiene: `redact` removes emails, Luhn-valid card numbers, phone numbers and street addresses, and
keeps what help-centre queries are made of. Property-based (hypothesis) plus a table of examples."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbrank.privacy import RedactingFilter, luhn_valid, redact

SAFE_WORDS = ("wifi", "keeps", "dropping", "router", "X200", "firmware", "2.3.1", "error", "E-102", "0x80070005",
              "since", "update", "2026-10-01", "reset", "3", "times", "camera", "C30", "night", "vision", "at",
              "192.168.0.1", "app", "v5.2", "on", "my", "the", "way", "drive", "10:30", "12/10/2026",
              "order", "#4521", "battery", "80%", "2", "pack", "hub", "ios", "17.4", "PIN", "#1234")
safe_text = st.lists(st.sampled_from(SAFE_WORDS), min_size=0, max_size=12).map(" ".join)
digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


def _with_check_digit(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")  # pragma: no cover


GROUPINGS = {16: (4, 4, 4, 4), 15: (4, 6, 5), 14: (4, 6, 4), 19: (4, 4, 4, 4, 3)}


@st.composite
def card_numbers(draw) -> tuple[str, str]:
    """(digits, as typed): Luhn-valid, 13-19 digits, contiguous or grouped as printed on cards (4-4-4-4,
    4-6-5, 4-6-4, 4-4-4-4-3) with spaces or dashes."""
    length = draw(st.integers(13, 19))
    body = draw(st.text(alphabet="0123456789", min_size=length - 2, max_size=length - 2))
    number = _with_check_digit(draw(st.sampled_from("3456")) + body)
    separator = draw(st.sampled_from(["", " ", "-"]))
    if not separator or length not in GROUPINGS:
        return number, number
    groups, start = [], 0
    for size in GROUPINGS[length]:
        groups.append(number[start:start + size])
        start += size
    return number, separator.join(groups)


@st.composite
def phone_numbers(draw) -> str:
    n = lambda k: draw(st.text(alphabet="0123456789", min_size=k, max_size=k))  # noqa: E731
    form = draw(st.sampled_from(["intl", "intl00", "uk", "us", "dotted", "plain"]))
    if form == "intl":
        return f"+{draw(st.integers(1, 99))} {n(3)} {n(3)} {n(4)}"
    if form == "intl00":
        return f"00{draw(st.integers(1, 99))} {n(2)} {n(7)}"
    if form == "uk":
        return f"07{n(3)} {n(6)}"
    if form == "us":
        return f"({n(3)}) {n(3)}-{n(4)}"
    if form == "dotted":
        return f"{n(3)}.{n(3)}.{n(4)}"
    return n(10)


@st.composite
def emails(draw) -> str:
    local = draw(st.from_regex(r"[a-z][a-z0-9._+-]{0,15}[a-z0-9]", fullmatch=True))
    domain = draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True))
    return f"{local}@{domain}.{draw(st.sampled_from(['com', 'co.uk', 'de', 'example']))}"


STREET_NAMES = ("Baker", "Downing", "Wallaby", "Elm", "High", "Station", "Church", "Mill", "Victoria", "Oak Tree")


@st.composite
def street_addresses(draw) -> tuple[str, str]:
    """(the identifying part, as typed)."""
    number = f"{draw(st.integers(1, 9999))}{draw(st.sampled_from(['', 'B', 'a']))}"
    name = draw(st.sampled_from(STREET_NAMES))
    suffix = draw(st.sampled_from(["Street", "St", "Road", "Rd.", "Avenue", "Lane", "Way", "Drive", "Close",
                                   "Court", "Place", "street", "road", "avenue"]))
    core = f"{number} {name} {suffix}"
    tail = draw(st.sampled_from(["", ", London SW1A 2AA", ", Springfield, IL 62704", ", Apt 4"]))
    return f"{number} {name}", core + tail


@given(before=safe_text, after=safe_text, card=card_numbers())
def test_card_numbers_are_removed(before: str, after: str, card: tuple[str, str]) -> None:
    number, typed = card
    out = redact(f"{before} {typed} {after}")
    assert "[card]" in out and typed not in out and number not in out.replace(" ", "").replace("-", "")


@given(before=safe_text, after=safe_text,
       number=st.text(alphabet="0123456789", min_size=15, max_size=15).map(lambda d: "4" + d))
def test_numbers_failing_luhn_are_not_cards(before: str, after: str, number: str) -> None:
    if luhn_valid(number):
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    typed = " ".join(number[i:i + 4] for i in range(0, 16, 4))
    out = redact(f"{before} order {typed} never arrived {after}")
    assert "[card]" not in out and typed in out


@given(before=safe_text, after=safe_text, phone=phone_numbers())
def test_phone_numbers_are_removed(before: str, after: str, phone: str) -> None:
    out = redact(f"{before} call {phone} {after}")
    assert phone not in out and ("[phone]" in out or "[card]" in out)
    assert not any(len(run) >= 7 for run in "".join(c if c.isdigit() else " " for c in out).split()
                   if run not in "".join(c if c.isdigit() else " " for c in f"{before} {after}").split())


@given(before=safe_text, after=safe_text, email=emails())
def test_email_addresses_are_removed(before: str, after: str, email: str) -> None:
    out = redact(f"{before} mail {email} {after}")
    assert email not in out and "@" not in out and "[email]" in out


@given(before=safe_text, after=safe_text, address=street_addresses())
def test_street_addresses_are_removed(before: str, after: str, address: tuple[str, str]) -> None:
    identifying, typed = address
    out = redact(f"{before} I live at {typed}. {after}")
    assert identifying not in out and "[address]" in out
    for postcode in ("SW1A 2AA", "62704"):
        if postcode in typed:
            assert postcode not in out


@given(text=safe_text)
def test_help_centre_queries_are_left_alone(text: str) -> None:
    assert redact(text) == text


@settings(max_examples=300)
@given(text=st.text(max_size=200))
def test_redaction_never_fails_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert isinstance(once, str)
    assert redact(once) == once


@pytest.mark.parametrize("text, expected", [
    ("my X200 firmware 2.3.1 shows E-102 since 2026-10-01", "my X200 firmware 2.3.1 shows E-102 since 2026-10-01"),
    ("cant reach 192.168.0.1 error 0x80070005", "cant reach 192.168.0.1 error 0x80070005"),
    ("I have 2 routers on my street", "I have 2 routers on my street"),
    ("I paired 3 via bluetooth on windows 10.0.19045.2965", "I paired 3 via bluetooth on windows 10.0.19045.2965"),
    ("card 4111 1111 1111 1111 exp 2027", "card [card] exp 2027"),
    ("card 4111-1111-1111-1111 then call 07700 900123", "card [card] then call [phone]"),
    ("numbers 4111111111111111 5555555555554444", "numbers [card] [card]"),
    ("order 4111 1111 1111 1112 never arrived", "order 4111 1111 1111 1112 never arrived"),
    ("call +44 7700 900123 or (415) 555-0123 or 415.555.0123", "call [phone] or [phone] or [phone]"),
    ("tel:+14155550123", "tel:[phone]"),
    ("mail jo.bloggs+kb@mail.example.co.uk or jo [at] example [dot] com", "mail [email] or [email]"),
    ("ship to 221B Baker Street, London NW1 6XE please", "ship to [address] please"),
    ("send it to 12 rue de la Paix", "send it to [address]"),
    ("wohne Hauptstraße 5, 10115 Berlin", "wohne [address]"),
    ("42 Wallaby Way Sydney", "[address] Sydney"),
])
def test_examples(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_luhn() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710") and not luhn_valid("12a4")


def test_redact_refuses_non_text() -> None:
    with pytest.raises(TypeError, match="takes a str"):
        redact(12345)  # type: ignore[arg-type]


def test_the_logging_filter_redacts_messages_and_their_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.privacy.queries")
    redacting = RedactingFilter()
    logger.addFilter(redacting)
    try:
        with caplog.at_level(logging.INFO, logger="tests.privacy.queries"):
            logger.info("query %r from %s", "reset X200, mail me at jo@example.com", "+44 7700 900123")
    finally:
        logger.removeFilter(redacting)
    assert caplog.records[0].getMessage() == "query 'reset X200, mail me at [email]' from [phone]"
