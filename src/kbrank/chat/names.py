"""The names a conversation may use for each product, and how text is normalized to match them.

`product_names` turns a deployer's catalogue (product id -> a display name or a list of names and aliases)
plus the product ids the corpus knows into an alias table: normalized alias -> the products it names.

Aliases come from four places, in this order of precedence for display:

1. the catalogue's names, verbatim (``"Lumio Router X200"``, ``"X200"``);
2. the product id, as it is and with ``-`` and ``_`` read as spaces (``router-x200``, ``router x200``);
3. model numbers: tokens of those names holding both a letter and a digit (``x200``, ``c30``);
4. line words: tokens without a digit, at least 3 characters long, shared by the names of at least two and
   at most half of the products (``router``, ``cam``; the brand, in every name, is not one).

An alias that names several products (a line word, or a model number two products share) is *generic*: the
tracker narrows it with the customer's own products. Normalization: NFKC, lowercase, every run of
characters other than letters and digits becomes one space, and in tokens holding a digit the letter
``o`` is read as the digit ``0`` (``X2OO`` is ``x200``), on both sides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ParameterError

__all__ = ["AliasTable", "normalize_tokens", "product_names"]

_TOKEN = re.compile(r"[^\W_]+")
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[^\W\d_]")


def _fold(token: str) -> str:
    """Read ``o`` as ``0`` inside tokens that hold a digit (model numbers are typed with either)."""
    return token.replace("o", "0") if _HAS_DIGIT.search(token) else token


def normalize_tokens(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The normalized tokens of ``text`` and their character spans (in the NFKC form of ``text``).

    >>> normalize_tokens("My X2OO, it's dead")[0]
    ['my', 'x200', 'it', 's', 'dead']
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    tokens, spans = [], []
    for match in _TOKEN.finditer(text.lower()):
        tokens.append(_fold(match.group(0)))
        spans.append(match.span())
    return tokens, spans


def normalize(text: str) -> str:
    """The normalized form of a name: its tokens joined by single spaces."""
    return " ".join(normalize_tokens(text)[0])


@dataclass(frozen=True)
class AliasTable:
    """``aliases``: normalized alias -> products it names (sorted); ``display``: product -> display name."""

    aliases: Mapping[str, tuple[str, ...]]
    display: Mapping[str, str]

    @property
    def products(self) -> tuple[str, ...]:
        return tuple(self.display)

    def name(self, product: str) -> str:
        """The display name of ``product`` (its first catalogue name, else its id)."""
        return self.display.get(product, product)


def _catalogue_names(catalogue: Mapping[str, Any] | None) -> dict[str, list[str]]:
    if catalogue is None:
        return {}
    if not isinstance(catalogue, Mapping):
        raise ParameterError("catalogue", "a mapping of product id -> name or list of names",
                             type(catalogue).__name__,
                             hint='e.g. {"router-x200": ["Lumio Router X200", "X200"]}')
    out: dict[str, list[str]] = {}
    for product, names in catalogue.items():
        if not isinstance(product, str) or not product.strip():
            raise ParameterError("catalogue", "keys that are non-empty product id strings", product)
        listed = [names] if isinstance(names, str) else names
        if not isinstance(listed, (list, tuple)) or not all(isinstance(n, str) and normalize(n)
                                                             for n in listed):
            raise ParameterError(f"catalogue[{product!r}]",
                                 "a name or a list of names, each with a letter or digit", names,
                                 hint='e.g. ["Lumio Router X200", "X200"]')
        out[product] = list(listed)
    return out


def product_names(catalogue: Mapping[str, Any] | None, products: Iterable[str] = ()) -> AliasTable:
    """The alias table for the catalogue's products and ``products`` (ids from the corpus); see the module."""
    names = _catalogue_names(catalogue)
    for product in products:
        names.setdefault(product, [])
    display = {p: (listed[0] if listed else p) for p, listed in names.items()}
    aliases: dict[str, set[str]] = {}
    token_owners: dict[str, set[str]] = {}
    for product, listed in names.items():
        written = [*listed, product, re.sub(r"[-_]+", " ", product)]
        for name in written:
            alias = normalize(name)
            if alias:
                aliases.setdefault(alias, set()).add(product)
            for token in alias.split():
                token_owners.setdefault(token, set()).add(product)
    limit = max(2, len(names) // 2)
    for token, owners in token_owners.items():
        if token in aliases:  # a name written out (in the catalogue or as an id) keeps its own products
            continue
        is_model = bool(_HAS_DIGIT.search(token)) and bool(_HAS_LETTER.search(token))
        is_line_word = not _HAS_DIGIT.search(token) and len(token) >= 3 and 2 <= len(owners) <= limit
        if is_model or is_line_word:
            aliases.setdefault(token, set()).update(owners)
    return AliasTable(aliases={a: tuple(sorted(p)) for a, p in sorted(aliases.items())}, display=display)
