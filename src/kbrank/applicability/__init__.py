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

from ._compiled import KINDS_OF_ATTRIBUTE, Applicability, compile_applicability
from ._scope import OUTCOMES, Assessment, Scope
from ._versions import (
           VersionRange,
           clear_version_caches,
           normalize_version,
           parse_range,
           parse_version,
           version_in,
           version_number,
)

__all__ = ["KINDS_OF_ATTRIBUTE", "OUTCOMES", "Applicability", "Assessment", "Scope", "VersionRange",
           "clear_version_caches", "compile_applicability", "normalize_version", "parse_range", "parse_version", "version_in",
           "version_number"]
