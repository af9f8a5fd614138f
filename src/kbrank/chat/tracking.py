"""Product tracking: which product a conversation is about, turn by turn.

A rule-based entity tracker, as in knowledge-grounded dialogue systems (match a catalogue of names and
aliases exactly or fuzzily, keep the most recently mentioned entity), with a stronger prior: the customer's
own products.

* **Exact names**, multi-word included, are found in one pass over the turn by an Aho-Corasick automaton
  (pyahocorasick) over the normalized aliases of `kbrank.chat.names`, keeping the longest match where
  matches overlap.
* **Typos and near misses**: a token left unmatched that is not an ordinary word of the corpus (the
  ``vocabulary``), at least 4 characters long (3 when it holds a letter and a digit), is compared with the
  single-word aliases within one edit (insertion, deletion, substitution or transposition of neighbors: the
  optimal string alignment distance, computed by rapidfuzz); among several that close, those most alike
  from the start (Jaro-Winkler, which weighs the first characters most) are kept. Candidates come from a
  symmetric-deletion index (every alias with one character deleted), so the cost does not grow with the
  catalogue. A letter and a number typed apart (``X 200``) are also tried together.
* **Owned first**: a mention that names several products (``the camera``, a line word; or a typo as close
  to two models) is narrowed to the customer's active products when it names any, and to the options of a
  clarifying question just asked; else it stays with every product it names (a pre-sales question).
* **Most recent mention wins**: within a turn the last mention counts (a line word is absorbed by a model
  named in the same turn: "my router, the X200"); a turn without a mention keeps the products of the last
  one. A short ordinal answer to a clarifying question ("the first one") picks that option.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import MissingDependencyError, NotFittedError, ParameterError
from .names import AliasTable, normalize_tokens, product_names

__all__ = ["Mention", "ProductTracker", "Tracking"]

_ORDINALS = {"first": 0, "1st": 0, "former": 0, "second": 1, "2nd": 1, "latter": -1, "third": 2, "3rd": 2,
             "fourth": 3, "4th": 3}
_SHORT_ANSWER = 6  # words: a longer reply is a new message, not "the second one"
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\b|^\W*([1-4])\W*$", re.IGNORECASE)
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Mention:
    """A product name found in a turn: ``turn`` (index among the texts tracked), the ``text`` matched and its
    character span, the normalized ``alias`` it matched, the ``products`` that alias names, and ``how``:
    ``"exact"`` or ``"fuzzy"`` (one edit away)."""

    turn: int
    start: int
    end: int
    text: str
    alias: str
    products: tuple[str, ...]
    how: str

    @property
    def generic(self) -> bool:
        return len(self.products) > 1


@dataclass(frozen=True)
class Tracking:
    """What the conversation is about after its last turn.

    ``products`` are the products in focus (one when a product is tracked; several when the last mention
    named a line or a model shared by several products; none when nothing was named). ``mention`` is the
    mention that set the focus (``None`` when nothing was named, or the focus was given), ``turn`` the turn it
    was in, and ``how``: ``"none"``, ``"named"`` (a name of one product), ``"owned"`` (a shared name narrowed
    to the customer's own products), ``"catalogue"`` (a shared name, none owned), ``"option"`` (an answer to
    a clarifying question), or ``"given"`` (set by the caller). ``mentions`` lists every mention found.
    """

    products: tuple[str, ...] = ()
    how: str = "none"
    mention: Mention | None = None
    turn: int | None = None
    mentions: tuple[Mention, ...] = field(default=(), repr=False)

    @property
    def product(self) -> str | None:
        """The tracked product when exactly one is in focus, else ``None``."""
        return self.products[0] if len(self.products) == 1 else None

    def describe(self, names: AliasTable | None = None) -> str:
        """One line for a receipt: what is in focus and why."""
        shown = ", ".join(names.name(p) if names else p for p in self.products)
        if not self.products:
            return "no product named in the conversation"
        if self.how == "given":
            return f"about {shown} (given)"
        said = f"'{self.mention.text}'" if self.mention else "an answer"
        where = f" in turn {self.turn + 1}" if self.turn is not None else ""
        how = {"named": "named", "owned": "your own product named", "catalogue": "named (not one of yours)",
               "option": "your answer to the question"}.get(self.how, self.how)
        typo = " (read as a typo)" if self.mention is not None and self.mention.how == "fuzzy" else ""
        return f"about {shown}: {how} as {said}{where}{typo}"


def _import_ahocorasick() -> Any:
    try:
        import ahocorasick
    except ImportError:  # pragma: no cover - a declared dependency
        raise MissingDependencyError("pyahocorasick", "chat") from None
    return ahocorasick


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class ProductTracker:
    """Track the product a conversation is about; see the module docstring.

    Parameters (keyword-only, stored unchanged): ``catalogue`` (product id -> a name or a list of names and
    aliases, or ``None``), ``vocabulary`` (ordinary words never read as typos, normalized; the chat retriever
    passes the corpus's words), ``min_fuzzy_length`` (4). `fit` takes the product ids known besides the
    catalogue's (the corpus's, from its applicability).

    >>> tracker = ProductTracker(catalogue={"router-x200": ["Lumio Router X200"], "cam-c10": "Lumio Cam C10"})
    >>> tracker = tracker.fit()
    >>> tracker.track(["my X200 drops wifi", "it still blinks red"]).product
    'router-x200'
    >>> tracker.track(["my X20O drops wifi"]).mention.how
    'fuzzy'
    """

    def __init__(self, *, catalogue: Mapping[str, Any] | None = None,
                 vocabulary: Collection[str] | None = None, min_fuzzy_length: int = 4) -> None:
        self.catalogue = catalogue
        self.vocabulary = vocabulary
        self.min_fuzzy_length = min_fuzzy_length

    def fit(self, products: Iterable[str] = ()) -> ProductTracker:
        if isinstance(self.min_fuzzy_length, bool) or not isinstance(self.min_fuzzy_length, int) \
                or self.min_fuzzy_length < 2:
            raise ParameterError("min_fuzzy_length", "an integer >= 2", self.min_fuzzy_length)
        table = product_names(self.catalogue, products)
        automaton = _import_ahocorasick().Automaton()
        for alias, owners in table.aliases.items():
            automaton.add_word(f" {alias} ", (alias, owners))
        if len(table.aliases):
            automaton.make_automaton()
        single = {alias: owners for alias, owners in table.aliases.items() if " " not in alias}
        neighbors: dict[str, set[str]] = {}
        for alias in single:
            if len(alias) >= 3:
                for variant in (alias, *_deletes(alias)):
                    neighbors.setdefault(variant, set()).add(alias)
        self.names_ = table
        self._automaton = automaton if len(table.aliases) else None
        self._single = single
        self._neighbors = {variant: tuple(sorted(found)) for variant, found in neighbors.items()}
        self._vocabulary = frozenset(self.vocabulary or ())
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "names_"):
            raise NotFittedError("this ProductTracker is not fitted; call fit()")

    # -- mentions in one turn ----------------------------------------------------------------------------
    def _exact(self, tokens: list[str]) -> list[tuple[int, int, str]]:
        """(first token, token count, alias) of the longest non-overlapping exact matches, left to right."""
        if self._automaton is None or not tokens:
            return []
        joined = " " + " ".join(tokens) + " "
        starts, position = [], 1
        for token in tokens:
            starts.append(position)
            position += len(token) + 1
        found = []
        for end, (alias, _) in self._automaton.iter(joined):
            first = bisect.bisect_left(starts, end - len(alias))
            found.append((first, alias.count(" ") + 1, alias))
        found.sort(key=lambda m: (m[0], -m[1]))
        chosen, covered_to = [], 0
        for first, width, alias in found:
            if first >= covered_to:
                chosen.append((first, width, alias))
                covered_to = first + width
        return chosen

    def _fuzzy(self, token: str) -> tuple[str, ...]:
        """The single-word aliases one edit from ``token`` (empty if it looks like an ordinary word)."""
        try:
            from rapidfuzz.distance import OSA, JaroWinkler
        except ImportError:  # pragma: no cover - the chat extra
            raise MissingDependencyError("rapidfuzz", "chat") from None

        has_digit = bool(_HAS_DIGIT.search(token))
        if has_digit and not _HAS_LETTER.search(token):
            return ()
        if len(token) < (3 if has_digit else self.min_fuzzy_length) or token in self._vocabulary:
            return ()
        seen: set[str] = set()
        for variant in (token, *_deletes(token)):
            seen.update(self._neighbors.get(variant, ()))
        close = [a for a in seen if OSA.distance(token, a, score_cutoff=1) <= 1]
        if len(close) < 2:
            return tuple(close)
        # slips at the start of a word are rarer: keep the candidates most alike from the start
        similarity = {a: round(JaroWinkler.similarity(token, a), 9) for a in close}
        best = max(similarity.values())
        return tuple(sorted(a for a in close if similarity[a] == best))

    def mentions(self, text: str, turn: int = 0) -> list[Mention]:
        """Every product mention in one turn's ``text``, in order of position."""
        self._check_fitted()
        if not isinstance(text, str):
            raise ParameterError("text", "a string", type(text).__name__)
        tokens, spans = normalize_tokens(text)
        shown = text if text.isascii() else unicodedata.normalize("NFKC", text)
        out: list[Mention] = []
        covered = [False] * len(tokens)

        def add(first: int, width: int, alias: str, owners: tuple[str, ...], how: str) -> None:
            start, end = spans[first][0], spans[first + width - 1][1]
            out.append(Mention(turn, start, end, shown[start:end], alias, owners, how))
            covered[first:first + width] = [True] * width

        for first, width, alias in self._exact(tokens):
            add(first, width, alias, self.names_.aliases[alias], "exact")
        for i, token in enumerate(tokens):
            if covered[i]:
                continue
            joined = token + tokens[i + 1] if i + 1 < len(tokens) else ""
            if joined in self._single and not covered[i + 1] and len(token) <= 2 and token.isalpha() \
                    and tokens[i + 1].isdigit():  # a letter and a number typed apart: "X 200"
                add(i, 2, joined, self._single[joined], "exact")
                continue
            close = self._fuzzy(token)
            if close:
                owners = tuple(sorted({p for alias in close for p in self._single[alias]}))
                add(i, 1, close[0] if len(close) == 1 else "|".join(close), owners, "fuzzy")
        out.sort(key=lambda m: m.start)
        return out

    # -- a conversation ------------------------------------------------------------------------------------
    def track(self, texts: Sequence[str], *, owned: Collection[str] = (),
              options: Mapping[int, Sequence[str]] | None = None) -> Tracking:
        """Track the products of a conversation's customer turns ``texts`` (oldest first).

        ``owned`` are the customer's active products (narrowing shared names); ``options`` maps the index of
        a turn to the options of a clarifying question asked just before it (answers pick among them).
        """
        self._check_fitted()
        owned_set = set(owned)
        state = Tracking()
        found: list[Mention] = []
        for turn, text in enumerate(texts):
            offered = tuple((options or {}).get(turn, ()))
            mentions = self.mentions(text, turn)
            found.extend(mentions)
            chosen = _last_mention(mentions)
            if chosen is not None:
                products, how = _narrow(chosen, owned_set, offered)
                state = Tracking(products, how, chosen, turn)
            elif offered:
                pick = _ordinal(text, offered)
                if pick is not None:
                    state = Tracking((pick,), "option", None, turn)
        return Tracking(state.products, state.how, state.mention, state.turn, tuple(found))


def _last_mention(mentions: list[Mention]) -> Mention | None:
    """The mention that counts in a turn: the last one; a shared name yields to a product named beside it."""
    specific = {m.products[0] for m in mentions if not m.generic}
    for mention in reversed(mentions):
        if mention.generic and specific & set(mention.products):
            continue
        return mention
    return None


def _narrow(mention: Mention, owned: set[str], offered: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    products = mention.products
    if len(products) == 1:
        return products, "option" if products[0] in offered else "named"
    among = tuple(p for p in products if p in offered)
    if among:
        products = among
        if len(among) == 1:
            return among, "option"
    mine = tuple(p for p in products if p in owned)
    if mine:
        return mine, "owned"
    return products, "catalogue"


def _ordinal(text: str, offered: tuple[str, ...]) -> str | None:
    match = _ORDINAL.search(text) if len(text.split()) <= _SHORT_ANSWER else None
    if match is None:
        return None
    index = _ORDINALS[match.group(1).lower()] if match.group(1) else int(match.group(2)) - 1
    return offered[index] if -len(offered) <= index < len(offered) else None
