"""The help centre's known issues: one `KnownIssue` per known-issue article, with an impact and a history.

The affected range is the article's own (``versions``, ``platforms``). The impact comes from the symptom the
article describes (`IMPACTS_BY_ISSUE`). Where a product feature leads to the symptom (night vision, the
chime, schedules, ...), the issue carries a usage condition: used that feature in the last 60 days. The
status follows the article: archived -> ``closed``, a fix released for every product -> ``fixed``, else
``investigating``, ``workaround`` or ``fix-scheduled`` (with an ETA after `AS_OF`), drawn from a stream
seeded by the article id, so the same corpus always gives the same issues. Dates lead up to the article's
``updated_at``.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Iterable

from ..corpus import Article
from ..proactive import KnownIssue, StatusChange, UsageCondition
from ._helpcentre_catalog import AS_OF, FEATURE_INTENTS, PRODUCTS

__all__ = ["IMPACTS_BY_ISSUE", "known_issues"]

#: Symptom text (as in the intents table) -> impact.
IMPACTS_BY_ISSUE = {
    "joining WPA3-only networks fails": "broken",
    "setup times out on mesh networks with band steering": "broken",
    "random disconnects every few hours": "degraded",
    "drop-outs when the 5 GHz band changes channel": "degraded",
    "the update stops at 90% and rolls back": "broken",
    "a download loop after the update": "outage",
    "battery drains overnight due to repeated wake-ups": "degraded",
    "battery percentage shown incorrectly": "cosmetic",
    "sessions expire after a few minutes": "degraded",
    "sign-in loops back to the start page": "broken",
    "notifications stop after the phone restarts": "broken",
    "alerts arrive several minutes late": "degraded",
    "a false E-102 after restarts": "cosmetic",
    "E-102 on every start": "broken",
    "shows offline after the router restarts": "outage",
    "offline status although it works": "cosmetic",
    "the reset button does not respond": "broken",
    "setup stops at the last step": "broken",
    "live view fails on mobile data": "degraded",
    "throughput limited to 300 Mbit/s": "degraded",
    "night vision flickers": "degraded",
    "schedule ignored after daylight saving": "data-loss",
    "chime rings twice": "cosmetic",
    "bedtime schedules not applied": "broken",
    "pairing fails on some phones": "broken",
}
_MOMENT = dt.time(9, 30, tzinfo=dt.timezone.utc)


def _symptom(article: Article) -> str:
    text = f"{article.title} {article.body}"
    return next((issue for issue in IMPACTS_BY_ISSUE if issue in text), "")


def _usage(article: Article) -> UsageCondition | None:
    intent = article.metadata.get("intent")
    features = tuple(dict.fromkeys(f for p in article.products for f in PRODUCTS[p]["features"]
                                   if FEATURE_INTENTS.get(f) == intent))
    return UsageCondition(feature=features, within_days=60) if features else None


def _history(rng: random.Random, status: str, updated: dt.date) -> tuple[StatusChange, ...]:
    path = {"investigating": ["investigating"], "workaround": ["investigating", "workaround"],
            "fix-scheduled": ["investigating", "workaround", "fix-scheduled"],
            "fixed": ["investigating", "workaround", "fixed"],
            "closed": ["investigating", "workaround", "fixed", "closed"]}[status]
    day = updated - dt.timedelta(days=rng.randint(3, 20) * (len(path) - 1))
    steps = []
    for name in path:
        eta = AS_OF + dt.timedelta(days=rng.randint(7, 60)) if name == "fix-scheduled" else None
        steps.append(StatusChange(name, dt.datetime.combine(day, _MOMENT), eta))
        day = min(updated, day + dt.timedelta(days=rng.randint(3, 20)))
    return tuple(steps)


def known_issues(articles: Iterable[Article]) -> tuple[KnownIssue, ...]:
    """The known issues described by the known-issue articles among ``articles``, in article order."""
    out = []
    for article in articles:
        if article.kind != "known-issue":
            continue
        rng = random.Random(f"kbrank-helpcentre/issues/{article.id}")
        base = KnownIssue.from_article(article, impact=IMPACTS_BY_ISSUE.get(_symptom(article), "degraded"))
        status = base.status
        if status == "workaround":
            status = rng.choices(("investigating", "workaround", "fix-scheduled"), (2, 4, 4))[0]
        history = _history(rng, status, article.updated_at or AS_OF)
        out.append(KnownIssue(id=f"ki-{article.id}", title=article.title, scope=base.scope, impact=base.impact,
                              status=status, usage=_usage(article), eta=history[-1].eta,
                              summary=_symptom(article), workaround_article=article.id,
                              fixed_in=base.fixed_in, history=history))
    return tuple(out)
