"""Facts about every article for one customer: the bridge between a profile view and the policy rules.

`profile_facts` turns a `ProfileView` (purpose personalization, from the privacy gate) into named vectors
over all articles, using the compiled `Applicability`. `fact_columns` computes the same facts from
`ArticleColumns` (per-value columns computed once per corpus, so a profile costs a few boolean operations
over arrays) and leaves out the facts that are zero for every article; the `Personalizer` builds its plans
from it and caches them; a query then only gathers the candidates' entries.

Facts (1.0 = true, except ``recent_usage``, a recency weight in [0, 1]):

==========================  ===========================================================================
``general``                 the article lists no product (account, billing, privacy pages)
``owned_product``           it lists a product the customer owns with status active
``owned_inactive``          it lists only products the customer returned or retired
``not_owned``               it lists products, none of which the customer owns
``named_product``           it lists a product the query names (a pre-sales or gift question)
``other_product``           the query names a product, and the article is about different ones
``version_match``           it has a version range for an owned product, and the owned version is in it
``version_near_miss``       it has a range for an owned product, and no owned version is in it
``older_releases``          the query names a product the customer has no active version of (a pre-sales
                            question), and the article's range for it has an upper bound ("<2.4"): it is
                            for older releases, perhaps not the current one a buyer would get
``platform_match``          it is restricted to platforms, and the customer uses one of them for a product
                            it lists (for a general article: for any product)
``platform_mismatch``       it is restricted to platforms, and every owned item it lists is known to be
                            used on another platform (an item whose platform is unknown never misses)
``region_mismatch``         it is restricted to regions, not the customer's (unknown region: no)
``locale_mismatch``         likewise for locales; ``audience_mismatch`` for the customer's segment
``expired``                 its ``valid_until`` is before today
``archived``, ``deprecated`` its status
``active_known_issue``      an active known issue whose range contains the customer's version
``recent_usage``            its tags name a feature the customer used, weighted by recency
==========================  ===========================================================================

A fact that needs a field the view does not hold (no consent for usage, say) is all zeros.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Collection, Iterable, Mapping

import numpy as np

from ..applicability import Applicability
from .columns import ArticleColumns, RowColumns

__all__ = ["FACTS", "KeptFacts", "profile_facts", "fact_columns", "dense_facts", "no_facts", "focus_versions"]

FACTS = ("general", "owned_product", "owned_inactive", "not_owned", "named_product", "other_product",
         "version_match", "version_near_miss", "older_releases", "platform_match", "platform_mismatch",
         "region_mismatch", "locale_mismatch", "audience_mismatch", "expired", "archived", "deprecated",
         "active_known_issue", "recent_usage")


def _field(view: Any, name: str, default: Any) -> Any:
    return getattr(view, name, default) if view is not None else default


def focus_versions(view: Any, named: Iterable[str]) -> dict[str, list[str | None]]:
    """The versions of the active products a query is about: every active product, or only the named ones
    when the query names a product. A product of unknown version maps to ``[None]`` (owned, version unknown)."""
    named = set(named)
    versions: dict[str, list[str | None]] = {}
    for item in _field(view, "owned", ()):
        if item.status == "active" and (not named or item.product in named):
            versions.setdefault(item.product, []).append(item.version)
    return versions


Columns = ArticleColumns | RowColumns


def _platforms(cols: Columns, active: list[Any], named: set[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(platform_match, platform_mismatch) per article, pairing each owned product with its own platform.

    An article about products the customer owns is judged by the platforms of those items (of the named
    ones when the query names an owned product): it matches if one of them is among its platforms, and
    misses only if all of them are known and none is. An item whose platform is unknown never makes a
    miss. Other articles (general ones, or about a product the query names but the customer does not
    own) are judged by every platform the customer is known to use.
    """
    if not active:
        return None, None
    n = cols.n
    restricted = cols.restricted("platforms")
    focus = [o for o in active if o.product in named] or active
    match, known, unknown = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    for item in focus:
        lists = cols.listing("products", item.product)
        if item.platform:
            known |= lists
            match |= lists & cols.listing("platforms", item.platform)
        else:
            unknown |= lists
    platforms = {o.platform for o in active if o.platform}
    if platforms:
        others = ~(known | unknown)
        match |= others & cols.lists_any("platforms", platforms)
        known |= others
    match &= restricted
    return match, restricted & known & ~unknown & ~match


def _mismatch(cols: Columns, kind: str, value: str | None) -> np.ndarray | None:
    if not value:
        return None
    mismatch: np.ndarray = cols.restricted(kind) & ~cols.listing(kind, value)
    return mismatch


def _recency(cols: Columns, usage: Iterable[Any], today: dt.date, half_life_days: float) -> np.ndarray | None:
    weights: dict[str, float] = {}
    now = dt.datetime.combine(today, dt.time(), tzinfo=dt.timezone.utc)
    for event in usage:
        stamp = event.timestamp if event.timestamp.tzinfo else event.timestamp.replace(tzinfo=dt.timezone.utc)
        age = max((now - stamp).total_seconds() / 86400.0, 0.0)
        weights[event.feature] = max(weights.get(event.feature, 0.0), math.exp(-age * math.log(2) / half_life_days))
    if not weights:
        return None
    vector = np.zeros(cols.app.matrices["tags"].shape[1])
    column = cols.app.vocab_index["tags"]
    for feature, weight in weights.items():
        if feature in column:
            vector[column[feature]] = weight
    recency: np.ndarray = np.minimum(cols.tag_weights(vector), 1.0)
    return recency


def no_facts(app: Applicability) -> dict[str, np.ndarray]:
    return {name: np.zeros(app.n_articles) for name in FACTS}


def fact_columns(cols: Columns, view: Any, *, today: dt.date, named: Iterable[str] = (),
                 usage_half_life_days: float = 30.0,
                 wanted: Collection[str] | None = None) -> dict[str, np.ndarray | None]:
    """Every fact of `FACTS` over the articles of ``cols``: a bool array (a float one for ``recent_usage``),
    or ``None`` where the fact is false for every article because the view or the query rules it out (no
    product named, no region known, no usage consent...). `dense_facts` turns this into `profile_facts`.

    With ``wanted``, only those facts are returned, and the costly ones that are not wanted (version
    verdicts, platforms, usage recency) are not computed: a plan's hide mask needs only its hide rules' facts."""
    def want(*names: str) -> bool:
        return wanted is None or any(name in wanted for name in names)

    owned = tuple(_field(view, "owned", ()))
    active = [o for o in owned if o.status == "active"]
    active_products = {o.product for o in active}
    inactive_products = {o.product for o in owned if o.status != "active"} - active_products
    named = set(named)

    has_products = cols.restricted("products")
    lists_active = cols.lists_any("products", active_products)
    lists_inactive = cols.lists_any("products", inactive_products) & ~lists_active if inactive_products else None
    in_focus = cols.lists_any("products", named) if named else None
    facts: dict[str, np.ndarray | None] = {}
    facts["general"] = ~has_products
    facts["owned_product"] = lists_active & in_focus if in_focus is not None else lists_active
    facts["owned_inactive"] = lists_inactive
    not_owned = has_products & ~lists_active
    facts["not_owned"] = not_owned & ~lists_inactive if lists_inactive is not None else not_owned
    facts["named_product"] = in_focus
    facts["other_product"] = has_products & ~in_focus if in_focus is not None else None

    versions = focus_versions(view, named)
    if versions and want("version_match", "version_near_miss", "active_known_issue"):
        facts["version_match"], facts["version_near_miss"] = cols.version_verdicts(versions)
    else:
        facts["version_match"] = facts["version_near_miss"] = None
    unowned_named = [p for p in named if p not in versions]
    facts["older_releases"] = cols.upper_bounded(unowned_named) if unowned_named and want("older_releases") else None

    facts["platform_match"], facts["platform_mismatch"] = (_platforms(cols, active, named)
                                                           if want("platform_match", "platform_mismatch")
                                                           else (None, None))
    facts["region_mismatch"] = _mismatch(cols, "regions", _field(view, "region", None))
    facts["locale_mismatch"] = _mismatch(cols, "locales", _field(view, "locale", None))
    facts["audience_mismatch"] = _mismatch(cols, "audience", _field(view, "segment", None))

    facts["expired"] = cols.expired(today)
    facts["archived"] = cols.has_status("archived")
    facts["deprecated"] = cols.has_status("deprecated")
    match = facts["version_match"]
    facts["active_known_issue"] = (None if match is None
                                   else cols.has_kind("known-issue") & cols.has_status("active") & match)
    facts["recent_usage"] = (_recency(cols, _field(view, "usage", ()), today, usage_half_life_days)
                             if want("recent_usage") else None)
    return {name: facts[name] for name in FACTS if want(name)}


def dense_facts(facts: dict[str, np.ndarray | None], n: int) -> dict[str, np.ndarray]:
    """`fact_columns` output as float vectors, zeros where a fact was left out."""
    return {name: np.zeros(n) if value is None else np.asarray(value, dtype=np.float64)
            for name, value in facts.items()}


def profile_facts(app: Applicability, view: Any, *, today: dt.date, named: Iterable[str] = (),
                  usage_half_life_days: float = 30.0) -> dict[str, np.ndarray]:
    """Every fact of `FACTS` as a float vector over the articles, for this view and query mention."""
    facts = fact_columns(ArticleColumns(app, cache_bytes=0), view, today=today, named=named,
                         usage_half_life_days=usage_half_life_days)
    return dense_facts(facts, app.n_articles)


#: The facts that are true or false (all but ``recent_usage``), in the bit order of `KeptFacts.flags`.
_FLAGS = tuple(name for name in FACTS if name != "recent_usage")


@dataclass(frozen=True, eq=False)
class KeptFacts:
    """Every fact of one view over all articles, kept compactly with a plan to explain its results without
    computing the facts again: one bit per true-or-false fact (``flags``, uint32 per article) and the usage
    recency of the articles that have one (``usage_rows``, ascending, and ``usage_values``). Read-only."""

    flags: np.ndarray
    usage_rows: np.ndarray
    usage_values: np.ndarray

    def __post_init__(self) -> None:
        for array in (self.flags, self.usage_rows, self.usage_values):
            array.setflags(write=False)

    @classmethod
    def pack(cls, facts: Mapping[str, np.ndarray | None], n: int) -> KeptFacts | None:
        """`fact_columns` output over ``n`` articles, packed; None when a fact is not what the packing holds
        exactly (a true-or-false fact that is not boolean), so the caller computes the facts instead."""
        flags = np.zeros(n, np.uint32)
        for bit, name in enumerate(_FLAGS):
            value = facts.get(name)
            if value is None:
                continue
            if value.dtype != np.bool_ or value.shape != (n,):
                return None
            flags |= value.astype(np.uint32) << np.uint32(bit)
        usage = facts.get("recent_usage")
        if usage is None:
            rows, values = np.empty(0, np.int64), np.empty(0)
        else:
            rows = np.flatnonzero(usage)
            values = np.asarray(usage, np.float64)[rows]
        return cls(flags, rows, values)

    @property
    def nbytes(self) -> int:
        return int(self.flags.nbytes + self.usage_rows.nbytes + self.usage_values.nbytes)

    def at(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Every fact at ``rows`` as a float vector: what `dense_facts` gives for those rows."""
        bits = (self.flags[rows][:, None] >> np.arange(len(_FLAGS), dtype=np.uint32)) & np.uint32(1)
        out = {name: bits[:, i].astype(np.float64) for i, name in enumerate(_FLAGS)}
        usage = np.zeros(rows.shape[0])
        if self.usage_rows.size:
            at = np.minimum(np.searchsorted(self.usage_rows, rows), self.usage_rows.size - 1)
            found = self.usage_rows[at] == rows
            usage[found] = self.usage_values[at[found]]
        out["recent_usage"] = usage
        return {name: out[name] for name in FACTS}
