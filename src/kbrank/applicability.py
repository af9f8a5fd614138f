"""One applicability model: who an article or a known issue is for, and how versions are compared.

Search, chat and proactive service all ask the same question, "does this apply to this customer's
product?", and answer it here and nowhere else.

Scopes
------
A `Scope` says which products an item applies to (none listed: every product), a PEP 440 version range per
product, and the platforms, regions, locales and audience segments it is restricted to (none listed: not
restricted). `Scope.assess` judges one owned item against it, dimension by dimension, with four outcomes:
``"in"`` (a restriction that holds), ``"out"`` (one that fails), ``"unknown"`` (a restriction, but the
customer's value is unknown) and ``"open"`` (no restriction). An unknown value never confirms a restriction
and never fails one: a product with an unknown version gets no version match and no near miss.

Versions
--------
Ranges are always strict PEP 440 specifier sets (``">=2.0,<2.4"``, ``"==2.3.*"``, ``"~=1.4"``): a company
writes them, and a typo must be an error. Versions come from device inventories, which hold firmware-style
strings, so `parse_version` is lenient by default and normalizes in three documented steps:

1. a PEP 440 version is taken as it is (PEP 440 already accepts ``v2.3`` -> ``2.3`` and
   ``2.3.1-beta`` -> ``2.3.1b0``);
2. otherwise a leading label of letters, spaces, ``_`` or ``-`` is dropped and the rest tried again
   (``FW_2.3.1`` -> ``2.3.1``, ``firmware 4.2`` -> ``4.2``);
3. otherwise the first dotted run of numbers is used (``2.3.1-build7`` -> ``2.3.1``,
   ``4.2.1 (build 77)`` -> ``4.2.1``).

A string without any digit is *unknown* (``None``). ``strict=True`` accepts PEP 440 only and raises
`VersionSpecError` otherwise, naming the value and the fix. Range checks include pre-releases
(``2.4b1`` is in ``>=2.3``), and each distinct (range, version) pair is decided once and cached.

Compiled form
-------------
`compile_applicability` turns the scopes of a whole corpus into sparse article x attribute matrices plus a
table of version ranges, so matching a profile is a few sparse matrix-vector products and one check per
distinct (range, product) pair (`Applicability.version_verdicts`), never a Python loop over articles.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import VersionSpecError

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["KINDS_OF_ATTRIBUTE", "OUTCOMES", "Applicability", "Assessment", "Scope", "VersionRange",
           "compile_applicability", "normalize_version", "parse_range", "parse_version", "version_in",
           "version_number"]

#: The restricted attributes of a scope, in the order the compiled matrices use.
KINDS_OF_ATTRIBUTE = ("products", "platforms", "regions", "locales", "audience", "tags")
#: The outcomes of one dimension of `Scope.assess`.
OUTCOMES = ("in", "out", "unknown", "open")
_LABEL = re.compile(r"^[^\W\d]+[\s_-]*|^[\s_-]+")
_NUMBER_RUN = re.compile(r"\d+(?:\.\d+)*")
_VERSION_FIX = "write a version such as '2.3.1' (PEP 440), or leave it out when it is unknown"
_RANGE_FIX = "write ranges such as '>=2.0,<2.4', '==2.3.*' or '~=1.4' (comma means 'and')"


# -- versions ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=8192)
def _lenient(text: str) -> Any:
    from packaging.version import InvalidVersion, Version

    for candidate in (text, _LABEL.sub("", text, count=1)):
        try:
            return Version(candidate)
        except InvalidVersion:
            continue
    match = _NUMBER_RUN.search(text)
    return Version(match.group(0)) if match else None


def parse_version(text: Any, *, strict: bool = False, source: str | None = None, line: int | None = None,
                  field: str | None = None) -> Any:
    """The `packaging.version.Version` of ``text``, normalized as the module docstring describes.

    Returns ``None`` for ``None``, ``""`` or a string without digits (an unknown version). With
    ``strict=True`` only PEP 440 is accepted. ``source``, ``line`` and ``field`` say where the value came
    from, for the error message.

    >>> [str(parse_version(v)) for v in ("v2.3", "FW_2.3.1", "2.3.1-beta", "2.3.1-build7")]
    ['2.3', '2.3.1', '2.3.1b0', '2.3.1']
    >>> parse_version("latest") is None
    True
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if not isinstance(text, str):
        raise VersionSpecError("expected a version string", source=source, line=line, field=field, value=text,
                               fix="quote the version, e.g. \"2.3.1\"")
    text = text.strip()
    if strict:
        from packaging.version import InvalidVersion, Version

        try:
            return Version(text)
        except InvalidVersion:
            raise VersionSpecError("not a PEP 440 version", source=source, line=line, field=field, value=text,
                                   fix=_VERSION_FIX + ", or load leniently (strict_versions=False)") from None
    return _lenient(text)


def normalize_version(text: str | None) -> str | None:
    """The normal form of a version string (``"FW_2.3.1"`` -> ``"2.3.1"``), or ``None`` when unknown."""
    parsed = parse_version(text)
    return None if parsed is None else str(parsed)


def _release_number(release: tuple[int, ...]) -> float:
    parts = (*release, 0, 0, 0)
    return parts[0] * 100.0 + parts[1] + parts[2] / 100.0


def version_number(version: Any) -> float:
    """A version as major x 100 + minor + micro / 100, for measuring gaps (monotone while parts stay < 100)."""
    return _release_number(tuple(version.release))


def _prefix_upper(release: tuple[int, ...]) -> float:
    """The first version number past every release starting with ``release`` (``2.3`` -> ``2.4``)."""
    return _release_number((*release[:-1], release[-1] + 1) if release else (0,))


@dataclass(frozen=True)
class VersionRange:
    """A parsed PEP 440 specifier set; build it with `parse_range` (cached per text)."""

    text: str
    specifiers: Any = field(repr=False, compare=False)

    def contains(self, version: Any) -> bool | None:
        """Whether ``version`` (a string or a `Version`) is in the range; ``None`` if it is unknown."""
        parsed = version if version is None or not isinstance(version, str) else parse_version(version)
        if parsed is None:
            return None
        return bool(self.specifiers.contains(parsed, prereleases=True))

    @property
    def upper_bounded(self) -> bool:
        """Whether the range caps versions from above (``<``, ``<=``, ``==``, ``~=``): "fixed in 2.4"."""
        return any(item.operator in ("<", "<=", "==", "===", "~=") for item in self.specifiers)

    @property
    def bounds(self) -> tuple[float, float]:
        """(lower, upper) as `version_number` values; NaN where the range is open. ``==X.*`` and ``~=X`` span
        the release prefix they name; ``!=`` adds no bound."""
        lower, upper = -math.inf, math.inf
        for item in self.specifiers:
            wildcard = item.version.endswith(".*")
            version = parse_version(item.version[:-2] if wildcard else item.version)
            if version is None:
                continue
            number, release = version_number(version), tuple(version.release)
            if item.operator in (">=", ">"):
                lower = max(lower, number)
            elif item.operator in ("<", "<="):
                upper = min(upper, number)
            elif item.operator in ("==", "===") and wildcard:
                lower, upper = max(lower, number), min(upper, _prefix_upper(release))
            elif item.operator in ("==", "==="):
                lower, upper = max(lower, number), min(upper, number)
            elif item.operator == "~=":
                lower, upper = max(lower, number), min(upper, _prefix_upper(release[:-1] or release))
        return (lower if math.isfinite(lower) else math.nan, upper if math.isfinite(upper) else math.nan)


@lru_cache(maxsize=4096)
def _range(text: str) -> VersionRange | None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return VersionRange(text, SpecifierSet(text))
    except InvalidSpecifier:
        return None


def parse_range(text: Any, *, source: str | None = None, line: int | None = None,
                field: str | None = None) -> VersionRange:
    """Parse a PEP 440 specifier set, or raise `VersionSpecError` saying where it came from and the fix."""
    if not isinstance(text, str):
        raise VersionSpecError("expected a version specifier string", source=source, line=line, field=field,
                               value=text, fix="quote the range, e.g. \">=2.0,<2.4\"")
    parsed = _range(text)
    if parsed is None:
        raise VersionSpecError("not a PEP 440 version specifier", source=source, line=line, field=field, value=text,
                               fix=_RANGE_FIX)
    return parsed


@lru_cache(maxsize=65536)
def version_in(spec: str, version: str | None) -> bool | None:
    """Whether ``version`` satisfies the range ``spec`` (pre-releases included); ``None`` if unknown."""
    return parse_range(spec).contains(version)


# -- one item's scope -------------------------------------------------------------------------------------
def _outcome(allowed: tuple[str, ...], value: str | None) -> str:
    if not allowed:
        return "open"
    if value is None:
        return "unknown"
    return "in" if value in allowed else "out"


@dataclass(frozen=True)
class Assessment:
    """How one owned item (and its owner) fares against a `Scope`: one outcome of `OUTCOMES` per dimension."""

    product: str
    version: str
    platform: str
    region: str
    locale: str
    audience: str

    @property
    def applies(self) -> bool:
        """No dimension fails."""
        return "out" not in (self.product, self.version, self.platform, self.region, self.locale, self.audience)

    @property
    def confirmed(self) -> bool:
        """It applies, and at least one narrowing restriction (not the product alone) was confirmed."""
        return self.applies and "in" in (self.version, self.platform, self.region, self.locale, self.audience)


@dataclass(frozen=True)
class Scope:
    """Who an item applies to; see the module docstring. Ranges are validated on construction."""

    products: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)
    platforms: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    locales: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("products", "platforms", "regions", "locales", "audience"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))
        for product, spec in self.versions.items():
            parse_range(spec, field=f"versions.{product}")

    def range_for(self, product: str) -> VersionRange | None:
        """The version range for ``product``, or ``None`` when its versions are not restricted."""
        spec = self.versions.get(product)
        return None if spec is None else parse_range(spec)

    def version_outcome(self, product: str, version: str | None) -> str:
        """``"open"`` without a range for ``product``; else ``"in"``, ``"out"`` or ``"unknown"``."""
        spec = self.versions.get(product)
        if spec is None:
            return "open"
        verdict = version_in(spec, version)
        return "unknown" if verdict is None else ("in" if verdict else "out")

    def assess(self, product: str | None, version: str | None = None, *, platform: str | None = None,
               region: str | None = None, locale: str | None = None, segment: str | None = None) -> Assessment:
        """Judge one owned item (``product`` at ``version`` on ``platform``) of a customer in ``region``,
        ``locale`` and ``segment``. ``product=None`` judges the customer alone (a general item)."""
        if not self.products:
            product_outcome = "open"
        else:
            product_outcome = "unknown" if product is None else ("in" if product in self.products else "out")
        version_outcome = "open" if product is None or product_outcome == "out" else self.version_outcome(
            product, version)
        return Assessment(product_outcome, version_outcome, _outcome(self.platforms, platform),
                          _outcome(self.regions, region), _outcome(self.locales, locale),
                          _outcome(self.audience, segment))


# -- compiled over a corpus -------------------------------------------------------------------------------
def _membership(values: list[tuple[str, ...]]) -> tuple[tuple[str, ...], sp.csr_matrix]:
    import scipy.sparse as sp

    vocab: dict[str, int] = {}
    indptr, indices = [0], []
    for items in values:
        for item in dict.fromkeys(items):
            indices.append(vocab.setdefault(item, len(vocab)))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float64)
    matrix = sp.csr_matrix((data, np.asarray(indices, np.int32), np.asarray(indptr, np.int64)),
                           shape=(len(values), max(len(vocab), 1)))
    return tuple(vocab), matrix


def _codes(values: Iterable[str]) -> tuple[tuple[str, ...], np.ndarray]:
    names: dict[str, int] = {}
    codes = np.asarray([names.setdefault(v, len(names)) for v in values], np.int16)
    return tuple(names), codes


@dataclass(frozen=True)
class Applicability:
    """The compiled applicability of a corpus (rows align with the corpus); see `compile_applicability`."""

    n_articles: int
    vocab: Mapping[str, tuple[str, ...]]  # attribute kind -> vocabulary
    matrices: Mapping[str, "sp.csr_matrix"]  # attribute kind -> articles x vocabulary (1.0 = listed)
    spec_rows: np.ndarray  # int64, article row of each version-range entry
    spec_products: np.ndarray  # int64, product id (in vocab["products"]) of each entry
    spec_ids: np.ndarray  # int64, index into `specs`
    specs: tuple[str, ...]  # distinct range strings
    statuses: tuple[str, ...]
    status: np.ndarray  # int16, index into `statuses`
    kinds: tuple[str, ...]
    kind: np.ndarray  # int16, index into `kinds`
    valid_until: np.ndarray  # int64 day ordinal, 0 = no end
    updated_at: np.ndarray  # int64 day ordinal, 0 = unknown

    def take(self, rows: np.ndarray) -> Applicability:
        """The applicability of the given articles only, in that order (to explain a few results without
        touching the rest of the corpus)."""
        rows = np.asarray(rows, dtype=np.int64)
        position = np.full(self.n_articles, -1, np.int64)
        position[rows] = np.arange(rows.size)
        entries = np.flatnonzero(position[self.spec_rows] >= 0) if self.spec_rows.size else np.empty(0, np.int64)
        return Applicability(
            n_articles=int(rows.size), vocab=self.vocab, matrices={k: m[rows] for k, m in self.matrices.items()},
            spec_rows=position[self.spec_rows[entries]], spec_products=self.spec_products[entries],
            spec_ids=self.spec_ids[entries], specs=self.specs, statuses=self.statuses, status=self.status[rows],
            kinds=self.kinds, kind=self.kind[rows], valid_until=self.valid_until[rows],
            updated_at=self.updated_at[rows])

    def restricted(self, kind: str) -> np.ndarray:
        """Articles that list at least one value of this attribute kind."""
        out: np.ndarray = np.diff(self.matrices[kind].indptr) > 0
        return out

    def indicator(self, kind: str, values: Iterable[str]) -> np.ndarray:
        """A 0/1 vector over the vocabulary of ``kind`` for the given values (unknown values are ignored)."""
        index = {v: i for i, v in enumerate(self.vocab[kind])}
        out = np.zeros(self.matrices[kind].shape[1])
        hits = [index[v] for v in values if v in index]
        out[hits] = 1.0
        return out

    def lists_any(self, kind: str, values: Iterable[str]) -> np.ndarray:
        """Articles that list at least one of ``values`` (a sparse matrix-vector product)."""
        out: np.ndarray = (self.matrices[kind] @ self.indicator(kind, values)) > 0
        return out

    def has_status(self, status: str) -> np.ndarray:
        out: np.ndarray = self.status == (self.statuses.index(status) if status in self.statuses else -1)
        return out

    def has_kind(self, kind: str) -> np.ndarray:
        out: np.ndarray = self.kind == (self.kinds.index(kind) if kind in self.kinds else -1)
        return out

    def version_verdicts(self, versions: Mapping[str, Sequence[str | None]]) -> tuple[np.ndarray, np.ndarray]:
        """(match, near_miss) per article for the owned ``versions`` (product -> versions owned).

        An article matches when it has a range for an owned product and some owned version is in it; it is a
        near miss when it has such a range, every owned version is known and outside it, and nothing else
        matched. Each distinct (range, product) pair is checked once.
        """
        n, products = self.n_articles, self.vocab["products"]
        owned = np.array([i for i, p in enumerate(products) if versions.get(p)], dtype=np.int64)
        if self.spec_rows.size == 0 or owned.size == 0:
            return np.zeros(n, bool), np.zeros(n, bool)
        relevant = np.flatnonzero(np.isin(self.spec_products, owned))
        keys = self.spec_ids[relevant] * len(products) + self.spec_products[relevant]
        unique, inverse = np.unique(keys, return_inverse=True)
        verdict = np.zeros(unique.shape[0], np.int8)  # 1 match, -1 miss, 0 unknown
        for i, key in enumerate(unique.tolist()):
            spec, product = self.specs[key // len(products)], products[key % len(products)]
            answers = [version_in(spec, v) for v in versions[product]]
            verdict[i] = 1 if True in answers else (-1 if all(a is False for a in answers) else 0)
        entry_verdict = verdict[inverse]
        match = np.bincount(self.spec_rows[relevant[entry_verdict == 1]], minlength=n) > 0
        miss = np.bincount(self.spec_rows[relevant[entry_verdict == -1]], minlength=n) > 0
        return match, miss & ~match

    def upper_bounded(self, products: Iterable[str]) -> np.ndarray:
        """Articles with an upper-bounded range ("fixed in 2.4") for any of ``products``."""
        out = np.zeros(self.n_articles, bool)
        wanted = set(products)
        ids = [i for i, p in enumerate(self.vocab["products"]) if p in wanted]
        if not ids or self.spec_rows.size == 0:
            return out
        entries = np.flatnonzero(np.isin(self.spec_products, np.asarray(ids, np.int64)))
        bounded = np.fromiter((parse_range(self.specs[i]).upper_bounded for i in self.spec_ids[entries].tolist()),
                              bool, count=entries.size)
        out[self.spec_rows[entries[bounded]]] = True
        return out


def compile_applicability(articles: Sequence[Any]) -> Applicability:
    """Compile every article's scope and lifecycle (status, kind, validity) in one pass, at index time.

    ``articles`` is a `kbrank.Corpus` or any sequence of objects with the `Scope` attributes plus ``tags``,
    ``status``, ``kind``, ``valid_until`` and ``updated_at``.
    """
    vocab, matrices = {}, {}
    for kind in KINDS_OF_ATTRIBUTE:
        vocab[kind], matrices[kind] = _membership([tuple(getattr(a, kind)) for a in articles])
    product_id = {p: i for i, p in enumerate(vocab["products"])}
    spec_index: dict[str, int] = {}
    rows, products, ids = [], [], []
    for row, article in enumerate(articles):
        for product, spec in article.versions.items():
            if product in product_id:  # a range for a product the article does not list is refused on load
                rows.append(row)
                products.append(product_id[product])
                ids.append(spec_index.setdefault(spec, len(spec_index)))
    statuses, status_codes = _codes(a.status for a in articles)
    kinds, kind_codes = _codes(a.kind for a in articles)
    return Applicability(
        n_articles=len(articles), vocab=vocab, matrices=matrices, spec_rows=np.asarray(rows, np.int64),
        spec_products=np.asarray(products, np.int64), spec_ids=np.asarray(ids, np.int64),
        specs=tuple(spec_index), statuses=statuses, status=status_codes, kinds=kinds, kind=kind_codes,
        valid_until=np.asarray([a.valid_until.toordinal() if a.valid_until else 0 for a in articles], np.int64),
        updated_at=np.asarray([a.updated_at.toordinal() if a.updated_at else 0 for a in articles], np.int64),
    )
