"""`redact`: remove personal data from free text (queries, chat turns) before it is logged.

It replaces email addresses with ``[email]``; payment card numbers with ``[card]`` (13 to 19 digits, spaces or
dashes allowed, and only when the Luhn checksum holds, so that order numbers survive); phone numbers with
``[phone]`` (``+``/``00`` international forms, ``(0)``/parenthesized forms, dotted ``415.555.0123``, and any
other run of 9 to 15 digits); and street addresses with ``[address]`` ("221B Baker Street", "42 Wallaby Way",
"12 rue de la Paix", "Hauptstraße 5", with a following flat number, city and UK postcode or US ZIP). What
help-centre queries are made of is kept: versions (2.3.1), model numbers (X200), error codes (E-102,
0x80070005), IP addresses, dates, small counts. In doubt it errs on the side of removing: lowercase
"<number> <word> street" counts as an address, though "2 routers on my street" does not.

>>> redact("card 4111 1111 1111 1111, call +44 7700 900123 or mail jo@example.com, 10 Downing Street")
'card [card], call [phone] or mail [email], [address]'

`RedactingFilter` applies it to every record of a `logging` logger. Redaction is a safety net for logs, not
anonymization: it removes the common patterns, property-tested, but cannot recognize every secret a person
may type.

Reference: H. P. Luhn, "Computer for verifying numbers", US patent 2,950,048 (1960).
"""

from __future__ import annotations

import logging
import re

__all__ = ["redact", "luhn_valid", "RedactingFilter", "EMAIL", "CARD", "PHONE", "ADDRESS"]

EMAIL, CARD, PHONE, ADDRESS = "[email]", "[card]", "[phone]", "[address]"

_EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_EMAIL_SPELLED = re.compile(r"(?<![\w.])[\w.+-]+\s*[\[(]\s*at\s*[\])]\s*[\w-]+(?:\s*[\[(]\s*dot\s*[\])]\s*[\w-]+)+",
                            re.IGNORECASE)

# -- street addresses ------------------------------------------------------------------------------------------
_NUMBER = r"(?<![\w.,/:+-])\d{1,5}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?,?\s+"
_FUNCTION_WORDS = r"(?:on|in|my|the|at|of|for|to|and|or|a|an|is|are|our|your|near|from|with|by|i|it|was|has|have)"
_NAME_WORD = rf"(?!(?i:{_FUNCTION_WORDS})\s)(?=[\w'.-]*[^\W\d_])[\w'.-]+\s+"  # has a letter
_CAPITAL_WORD = r"[A-Z][\w'.-]*\s+"
# suffixes that rarely mean anything else (any case), and suffixes that do (only after Capitalized names)
_STRICT = (r"street|st\.?|road|rd\.?|avenue|ave\.?|boulevard|blvd\.?|lane|ln\.?|terrace|crescent|highway"
           r"|hwy\.?|parkway|pkwy\.?")
_LOOSE = r"Way|Drive|Dr\.?|Court|Ct\.?|Place|Pl\.?|Close|Square|Sq\.?|Row|Walk|Hill|Mews|Grove|Gardens|Park"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"
_US_ZIP = r"(?:[A-Z]{2}\s+)?\d{5}(?:-\d{4})?\b"
_AFTER = (r"(?:,?\s+(?i:apt|apartment|flat|unit|suite|ste)\.?\s*#?\s*\w{1,6})?"
          rf"(?:(?:,?\s+[A-Za-z][\w'-]+){{0,3}},?\s+(?:{_UK_POSTCODE}|{_US_ZIP}))?")
_STREET_PATTERNS = (
    # 12 rue de la Paix, 3 calle Mayor: the street word first, then the name
    re.compile(rf"{_NUMBER}(?i:rue|chemin|impasse|viale|piazza|calle|avenida|rua|largo)(?:\s+[\w'-]+){{1,4}}"),
    re.compile(rf"{_NUMBER}(?:Via|Avenue|Boulevard|Place|Plaza)(?:\s+(?:de|du|des|la|le|di|del|della|[A-Z][\w'-]*))"
               rf"{{1,4}}"),
    # Hauptstraße 5, Berliner Straße 12, Mozartweg 3a
    re.compile(r"\b(?:[\w'-]{2,}(?i:straße|strasse|str\.|gasse|weg|allee|platz|damm|ufer|graben)"
               r"|(?:[A-Z][\w'-]+\s+)?(?:Straße|Strasse|Str\.|Gasse|Allee|Platz))\s+\d{1,4}[a-z]?\b"
               r"(?:,?\s+\d{5}(?:\s+[A-Z][\w-]+)?)?"),
    # 221B Baker Street, 350 5th ave, 42 Wallaby Way, then flat, city, postcode
    re.compile(rf"{_NUMBER}(?:{_NAME_WORD}){{1,3}}?(?i:{_STRICT})(?![\w-]){_AFTER}"),
    re.compile(rf"{_NUMBER}(?:{_CAPITAL_WORD}){{1,3}}(?:{_LOOSE})(?![\w-]){_AFTER}"),
)

# -- numbers ---------------------------------------------------------------------------------------------------
# a run of digits joined by single spaces or dashes (or a parenthesized area code), optionally led by + or (
_DIGIT_RUN = re.compile(r"(?<![\w.+/#-])(?:\+|\()?\d(?:(?:[ \-]|\)\s?|\s?\()?\d)*(?!\w)(?!\.\d)")
_DOTTED_PHONE = re.compile(r"(?<![\w.])\(?\d{3}\)?\.\d{3}\.\d{4}(?![\w.])")
_CARD_SEPARATORS = {"", " ", "-"}
# dates with dashes are set aside first, so that a date typed next to a number never reads as a phone number
_DATE = re.compile(r"(?<![\w-])(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{4})(?![\w-])")
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: neither digits nor word characters


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) checksum.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _phone_like(text: str) -> bool:
    """A digit run that is a phone number: 7-15 digits, and either 9+ of them or a +, 00 or ( prefix."""
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15:
        return False
    return digits >= 9 or text.startswith(("+", "("))


def _card_spans(groups: list[str], seps: list[str]) -> list[tuple[int, int]]:
    """Spans of whole digit groups (first, last) that are card-shaped and pass Luhn, left to right, each the
    longest from its start. Card-shaped: one group of 13-19 digits, or groups of 3-6 digits (4-4-4-4, 4-6-5,
    ...) joined by single spaces or dashes, not led by ``+`` or ``(``."""
    spans = []
    start = 0
    while start < len(groups):
        best, length = None, 0
        if start == 0 and seps[0]:
            start = 1
            continue
        for end in range(start, len(groups)):
            if end > start and (seps[end] not in _CARD_SEPARATORS or not 3 <= len(groups[end]) <= 6
                                or not 3 <= len(groups[start]) <= 6):
                break
            length += len(groups[end])
            if length > 19:
                break
            if length >= 13 and luhn_valid("".join(groups[start:end + 1])):
                best = end
        if best is None:
            start += 1
        else:
            spans.append((start, best))
            start = best + 1
    return spans


def _render(seps: list[str], groups: list[str], first: int, stop: int, lead: bool) -> str:
    """The text of ``groups[first:stop]`` with the separators between them (and the run's prefix if ``lead``)."""
    text = seps[first] if lead else ""
    for k in range(first, stop):
        text += (seps[k] if k > first else "") + groups[k]
    return text


def _numbers(seps: list[str], groups: list[str], first: int, stop: int, lead: bool) -> str:
    """Redact the phone number among ``groups[first:stop]`` (no cards there). A run too long to be one phone
    number, but starting like one (``+``, ``(``, a leading 0, or a first group of 7+ digits), is a phone number
    typed right next to another number: its longest phone-like prefix is redacted and the rest examined."""
    text = _render(seps, groups, first, stop, lead)
    if _phone_like(text):
        return PHONE
    if stop - first == 1 or sum(len(g) for g in groups[first:stop]) <= 15:
        return text
    if (lead and seps[first] in ("+", "(")) or groups[first].startswith("0") or len(groups[first]) >= 7:
        for end in range(stop - 1, first, -1):
            if _phone_like(_render(seps, groups, first, end, lead)):
                return PHONE + seps[end] + _numbers(seps, groups, end, stop, False)
    return text


def _redact_run(match: re.Match[str]) -> str:
    parts = re.split(r"(\d+)", match.group(0))
    seps, groups = parts[0::2], parts[1::2]  # seps[k] precedes groups[k]; seps[-1] trails
    count = len(groups)
    out: list[str] = []
    cursor = 0
    for first, last in [*_card_spans(groups, seps), (count, count)]:
        if cursor < first:
            if cursor > 0:
                out.append(seps[cursor])
            out.append(_numbers(seps, groups, cursor, first, lead=cursor == 0))
            if first < count:
                out.append(seps[first])
        elif first < count:
            out.append(seps[first])
        if first < count:
            out.append(CARD)
            cursor = last + 1
    out.append(seps[count])
    return "".join(out)


def redact(text: str) -> str:
    """``text`` with emails, card numbers, phone numbers and street addresses replaced by placeholders."""
    if not isinstance(text, str):
        raise TypeError(f"redact() takes a str, not {type(text).__name__}")
    text = _EMAIL.sub(EMAIL, text)
    text = _EMAIL_SPELLED.sub(EMAIL, text)
    for pattern in _STREET_PATTERNS:
        text = pattern.sub(ADDRESS, text)
    text = _DOTTED_PHONE.sub(PHONE, text)
    dates = _DATE.findall(text)
    if not dates or _OPEN in text or _CLOSE in text or len(dates) > 0xE00:  # nothing, or no safe way, to set aside
        return _DIGIT_RUN.sub(_redact_run, text)
    numbers = iter(range(len(dates)))
    masked = _DATE.sub(lambda m: _OPEN + chr(0xE100 + next(numbers)) + _CLOSE, text)
    redacted = _DIGIT_RUN.sub(_redact_run, masked)
    return re.sub(f"{_OPEN}(.){_CLOSE}", lambda m: dates[ord(m.group(1)) - 0xE100], redacted)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (with its arguments filled in).

    >>> logging.getLogger("myapp.queries").addFilter(RedactingFilter())  # doctest: +SKIP
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True
