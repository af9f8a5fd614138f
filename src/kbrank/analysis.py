"""`Analyzer`: text -> tokens, the second stage of the flow (articles -> analysis -> indexes).

The steps, in order, each documented and deterministic:

1. Unicode normalization (NFKC by default), so that full-width digits and ligatures match their plain forms.
2. Lowercasing (``str.lower``).
3. Tokenization. The default tokenizer keeps help-centre tokens whole:

   - hexadecimal error codes: ``0x80070005``
   - codes with a hyphen: ``E-102``, ``KB-4021`` -> ``e-102``, ``kb-4021``
   - versions: ``2.3.1``, ``v2.3`` -> ``2.3.1``, ``2.3``
   - model numbers and words: ``X200`` -> ``x200``; any other run of letters and digits (Unicode aware)

   A custom ``tokenizer`` callable (``str -> list[str]``, for example for CJK) replaces this step.
4. Stopword removal (scikit-learn's English list by default; any iterable, or ``None``).
5. Snowball stemming through PyStemmer (``"english"`` by default; any PyStemmer language, or ``None``).

Tokens containing a digit (codes, versions, model numbers) are never stopped or stemmed. Single letters
(the ``t`` of ``won't``) are dropped by the default tokenizer, as in scikit-learn's default pattern.

>>> Analyzer()("Router X200 won't connect: error 0x80070005 on firmware v2.3.1")
['router', 'x200', 'won', 'connect', 'error', '0x80070005', 'firmwar', '2.3.1']
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any, Callable, Iterable, Literal, Sequence

from .errors import ParameterError

__all__ = ["Analyzer", "DEFAULT_TOKEN_PATTERN"]

#: The default token pattern (applied to lowercased text). Alternatives are tried in order.
DEFAULT_TOKEN_PATTERN = (
    r"0x[0-9a-f]+\b"  # hex error codes
    r"|[^\W\d_]+-\d[\w]*"  # letter prefix, hyphen, digits: e-102, kb-4021
    r"|v?\d+(?:\.\d+)+"  # versions: 2.3.1, v2.3
    r"|[^\W_]+"  # words and model numbers (Unicode letters and digits)
)
_VERSION_WITH_V = re.compile(r"v\d+(?:\.\d+)+")
#: The token cache keeps two generations of at most this many tokens (about 5 MB in all) and never tokens
#: longer than `_CACHED_TOKEN_CHARS`: a query of random words cannot make it grow without bound.
_CACHE_GENERATION = 32_768
_CACHED_TOKEN_CHARS = 64
_HAS_DIGIT = re.compile(r"\d")
Normalization = Literal["NFC", "NFKC", "NFD", "NFKD"]
_NORMALIZATIONS: tuple[Normalization, ...] = ("NFC", "NFKC", "NFD", "NFKD")


@functools.cache
def _english_stopwords() -> frozenset[str]:
    """scikit-learn's English stopword list, read as a literal from its module's source
    (``sklearn/feature_extraction/_stop_words.py``) without importing scikit-learn, which takes seconds (it
    brings scipy and pandas) and would dominate a command-line search. The import is the fallback."""
    import ast
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
        origin = spec.origin if spec is not None else None
        if origin is not None:
            tree = ast.parse(Path(origin).with_name("feature_extraction").joinpath("_stop_words.py").read_text("utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.value.args) == 1 \
                        and [getattr(t, "id", None) for t in node.targets] == ["ENGLISH_STOP_WORDS"]:
                    words = ast.literal_eval(node.value.args[0])
                    if isinstance(words, (list, tuple, set)) and all(isinstance(w, str) for w in words):
                        return frozenset(words)
    except (OSError, SyntaxError, ValueError, TypeError, ImportError):
        pass
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


class Analyzer:
    """Turns text into index tokens. Call it on a string, or use `analyze_many` for a batch.

    Parameters (keyword-only, stored unchanged):
        normalization: ``"NFKC"`` (default), ``"NFC"``, ``"NFD"``, ``"NFKD"`` or ``None``.
        lowercase: lowercase before tokenizing (default ``True``).
        stopwords: ``"english"`` (scikit-learn's list, default), ``None``, or an iterable of words.
        stemmer: a PyStemmer language name (default ``"english"``) or ``None``.
        tokenizer: a callable ``str -> list[str]`` that replaces the default token pattern.
    """

    def __init__(
        self,
        *,
        normalization: Normalization | None = "NFKC",
        lowercase: bool = True,
        stopwords: str | Iterable[str] | None = "english",
        stemmer: str | None = "english",
        tokenizer: Callable[[str], Sequence[str]] | None = None,
    ) -> None:
        if normalization is not None and normalization not in _NORMALIZATIONS:
            raise ParameterError("normalization", f"one of {_NORMALIZATIONS} or None", normalization)
        if tokenizer is not None and not callable(tokenizer):
            raise ParameterError("tokenizer", "a callable str -> list[str] or None", tokenizer)
        if isinstance(stopwords, str) and stopwords != "english":
            raise ParameterError(
                "stopwords", "'english', None or an iterable of words", stopwords, hint="pass a list for others"
            )
        self.normalization = normalization
        self.lowercase = lowercase
        self.stopwords = stopwords if (stopwords is None or isinstance(stopwords, str)) else tuple(stopwords)
        self.stemmer = stemmer
        self.tokenizer = tokenizer
        self._stop: frozenset[str] | None = None
        self._stem_word: Callable[[str], str] | None = None
        self._cache: dict[str, str | None] = {}
        self._previous: dict[str, str | None] = {}
        self._pattern = re.compile(DEFAULT_TOKEN_PATTERN)
        if stemmer is not None:
            self._load_stemmer()  # fail early on an unknown language

    # -- configuration -----------------------------------------------------------------------------
    def _load_stemmer(self) -> None:
        import Stemmer

        try:
            self._stem_word = Stemmer.Stemmer(self.stemmer).stemWord
        except KeyError:
            available = ", ".join(sorted(Stemmer.algorithms()))
            raise ParameterError("stemmer", f"a PyStemmer language ({available}) or None", self.stemmer) from None

    def _stop_set(self) -> frozenset[str]:
        if self._stop is None:
            if self.stopwords is None:
                self._stop = frozenset()
            elif self.stopwords == "english":
                self._stop = _english_stopwords()
            else:
                self._stop = frozenset(str(w).lower() if self.lowercase else str(w) for w in self.stopwords)
        return self._stop

    def to_config(self) -> dict[str, Any]:
        """A JSON-ready description, stored in index manifests. A custom tokenizer is recorded by name only."""
        return {
            "normalization": self.normalization,
            "lowercase": self.lowercase,
            "stopwords": self.stopwords if not isinstance(self.stopwords, tuple) else sorted(self.stopwords),
            "stemmer": self.stemmer,
            "tokenizer": None if self.tokenizer is None else getattr(self.tokenizer, "__qualname__", "custom"),
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], *, tokenizer: Callable[[str], Sequence[str]] | None = None
    ) -> Analyzer:
        """Rebuild an analyzer from `to_config`; an index built with a custom tokenizer needs it passed again."""
        if config.get("tokenizer") and tokenizer is None:
            raise ParameterError(
                "tokenizer",
                f"the custom tokenizer the index was built with ({config['tokenizer']})",
                None,
                hint="pass tokenizer=... when loading",
            )
        return cls(
            normalization=config.get("normalization"),
            lowercase=config.get("lowercase", True),
            stopwords=config.get("stopwords"),
            stemmer=config.get("stemmer"),
            tokenizer=tokenizer,
        )

    def __repr__(self) -> str:
        return "Analyzer(" + ", ".join(f"{k}={v!r}" for k, v in self.to_config().items()) + ")"

    def __getstate__(self) -> None:
        raise TypeError("kbrank never pickles; save indexes with .save(path)")

    # -- analysis ----------------------------------------------------------------------------------
    def _term(self, token: str) -> str | None:
        """The index term of one raw token (None if it is a stopword); cached per analyzer."""
        if _HAS_DIGIT.search(token):
            if _VERSION_WITH_V.fullmatch(token):
                return token[1:]
            return token
        if len(token) < 2 and self.tokenizer is None:
            return None
        if token in self._stop_set():
            return None
        return self._stem_word(token) if self._stem_word is not None else token

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise ParameterError("text", "a string", text)
        if self.normalization is not None and not text.isascii():
            text = unicodedata.normalize(self.normalization, text)
        if self.lowercase:
            text = text.lower()
        raw = self.tokenizer(text) if self.tokenizer is not None else self._pattern.findall(text)
        cache = self._cache
        out = []
        for token in raw:
            try:
                term = cache[token]
            except KeyError:
                term = self._previous[token] if token in self._previous else self._term(token)
                if len(token) <= _CACHED_TOKEN_CHARS:
                    if len(cache) >= _CACHE_GENERATION:  # start a new generation; the older one is dropped
                        self._previous, cache = cache, {}
                        self._cache = cache
                    cache[token] = term
            if term:
                out.append(term)
        return out

    def clear_cache(self) -> int:
        """Forget every cached token (erasure calls this: query words may be personal); returns how many."""
        dropped = len(self._cache) + len(self._previous)
        self._cache, self._previous = {}, {}
        return dropped

    def analyze_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Analyze a batch of texts (same result as calling the analyzer on each)."""
        return [self(text) for text in texts]
