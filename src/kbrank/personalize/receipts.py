"""Human-readable reasons for each rule that fired, built from the matching clause of the article and the
profile view. Only fields the view holds are quoted, so a receipt never shows a value the purpose did not
allow (a view without usage consent has no ``usage``, and no reason can mention it)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..corpus import Article

__all__ = ["reason_for"]


def _owned(view: Any) -> tuple[Any, ...]:
    return tuple(getattr(view, "owned", ()))


def _names(items: Iterable[str]) -> str:
    return ", ".join(items) or "none"


def _version_clause(article: Article, view: Any, want: bool) -> str:
    scope = article.scope
    for item in _owned(view):
        spec = article.versions.get(item.product)
        if item.status == "active" and scope.version_outcome(item.product, item.version) == ("in" if want else "out"):
            if want:
                return f"you run {item.product} {item.version}; this article applies to {spec}"
            return f"this article applies to {item.product} {spec}; you run {item.version}"
    return "version range"


def _usage(article: Article, view: Any, named: tuple[str, ...]) -> str:
    features = sorted({e.feature for e in getattr(view, "usage", ()) if e.feature in article.tags})
    return f"you used {_names(features)} recently"


_REASONS: dict[str, Callable[[Article, Any, tuple[str, ...]], str]] = {
    "general": lambda a, v, n: "a general article, not specific to your products",
    "owned_product": lambda a, v, n: "you own " + _names(o.product for o in _owned(v)
                                                        if o.status == "active" and o.product in a.products),
    "owned_inactive": lambda a, v, n: "for " + _names(f"{o.product} (you {o.status} it)" for o in _owned(v)
                                                      if o.product in a.products),
    "not_owned": lambda a, v, n: f"for {_names(a.products)}, which you do not own",
    "named_product": lambda a, v, n: "you asked about " + _names(p for p in a.products if p in n),
    "other_product": lambda a, v, n: f"about {_names(a.products)}, not the {_names(n)} you asked about",
    "version_match": lambda a, v, n: _version_clause(a, v, True),
    "version_near_miss": lambda a, v, n: _version_clause(a, v, False),
    "older_releases": lambda a, v, n: "for " + _names(f"{p} {a.versions[p]}" for p in a.products
                                                      if p in n and p in a.versions) + ", not the current release",
    "platform_match": lambda a, v, n: "you use " + _names(sorted({o.platform for o in _owned(v)
                                                                 if o.platform in a.platforms})),
    "platform_mismatch": lambda a, v, n: f"for {_names(a.platforms)}; you use "
                                          + _names(sorted({o.platform for o in _owned(v) if o.platform})),
    "region_mismatch": lambda a, v, n: f"for {_names(a.regions)} only; you are in {getattr(v, 'region', '?')}",
    "locale_mismatch": lambda a, v, n: f"written for {_names(a.locales)}; your locale is {getattr(v, 'locale', '?')}",
    "audience_mismatch": lambda a, v, n: f"for {_names(a.audience)} customers; you are {getattr(v, 'segment', '?')}",
    "expired": lambda a, v, n: f"expired on {a.valid_until.isoformat() if a.valid_until else '?'}",
    "archived": lambda a, v, n: "archived",
    "deprecated": lambda a, v, n: "deprecated" + (f" (see {a.metadata['superseded_by']})"
                                                  if "superseded_by" in a.metadata else ""),
    "active_known_issue": lambda a, v, n: "known issue affecting your version: " + _version_clause(a, v, True),
    "recent_usage": _usage,
}


def reason_for(fact: str, article: Article, view: Any, named: tuple[str, ...]) -> str:
    """The reason text for a rule over ``fact`` that fired on ``article`` for this view."""
    return _REASONS[fact](article, view, named)
