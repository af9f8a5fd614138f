"""Versions and version ranges: lenient parsing of firmware-style strings, strict PEP 440 on request, and
cached range checks (see `kbrank.applicability` for the normalization rules)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from ..errors import VersionSpecError

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

__all__ = ["VersionRange", "clear_version_caches", "normalize_version", "parse_range", "parse_version", "version_in",
           "version_number"]

_LABEL = re.compile(r"^[^\W\d]+[\s_-]*|^[\s_-]+")
_NUMBER_RUN = re.compile(r"\d+(?:\.\d+)*")
_VERSION_FIX = "write a version such as '2.3.1' (PEP 440), or leave it out when it is unknown"
_RANGE_FIX = "write ranges such as '>=2.0,<2.4', '==2.3.*' or '~=1.4' (comma means 'and')"


@lru_cache(maxsize=8192)
def _lenient(text: str) -> Version | None:
    from packaging.version import InvalidVersion, Version

    for candidate in (text, _LABEL.sub("", text, count=1)):
        try:
            return Version(candidate)
        except InvalidVersion:
            continue
    match = _NUMBER_RUN.search(text)
    return Version(match.group(0)) if match else None


def parse_version(text: object, *, strict: bool = False, source: str | None = None, line: int | None = None,
                  field: str | None = None) -> Version | None:
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


def version_number(version: Version) -> float:
    """A version as major x 100 + minor + micro / 100, for measuring gaps (monotone while parts stay < 100)."""
    return _release_number(tuple(version.release))


def _prefix_upper(release: tuple[int, ...]) -> float:
    """The first version number past every release starting with ``release`` (``2.3`` -> ``2.4``)."""
    return _release_number((*release[:-1], release[-1] + 1) if release else (0,))


@dataclass(frozen=True)
class VersionRange:
    """A parsed PEP 440 specifier set; build it with `parse_range` (cached per text)."""

    text: str
    specifiers: SpecifierSet = field(repr=False, compare=False)

    def contains(self, version: str | Version | None) -> bool | None:
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


def parse_range(text: object, *, source: str | None = None, line: int | None = None,
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


def clear_version_caches() -> int:
    """Empty the bounded memos of version parsing and range checks; returns the entries dropped.

    The memos hold version strings that customers' profiles carried (``version_in``'s arguments), so erasure
    empties them (`ProfileGateway.erase` calls this), as it empties every other cache.
    """
    dropped = 0
    for memo in (_lenient, _range, version_in):
        dropped += memo.cache_info().currsize
        memo.cache_clear()
    return dropped
