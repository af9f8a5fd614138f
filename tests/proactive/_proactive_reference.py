"""An independent, plain per-customer Python reference for audience selection, written from the rules in
`kbrank.proactive.audience`'s docstring: loop over customer records, judge each owned item with
`Scope.assess`, sum usage by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kbrank.proactive import DEFAULT_POLICY, ImpactPolicy, KnownIssue

CHANNELS = ("email", "sms", "push")


def _usage_outcome(issue: KnownIssue, record: dict, now: dt.datetime, retention: dt.timedelta | None) -> str:
    if issue.usage is None:
        return "open"
    if not record["consents"].get("usage"):
        return "unknown"
    since = [moment for moment in (issue.usage.since(now), None if retention is None else now - retention) if moment]
    total = 0
    for event in record["usage"]:
        at = dt.datetime.fromisoformat(event["timestamp"])
        if event["feature"] in issue.usage.feature and (not issue.usage.product or event["product"] in
                                                         issue.usage.product) and all(at >= s for s in since):
            total += event["count"]
    return "in" if total >= issue.usage.min_events else "out"


def reference_audience(issue: KnownIssue, records: list[dict], *, now: dt.datetime,
                       retention: dt.timedelta | None = dt.timedelta(days=365),
                       policy: ImpactPolicy = DEFAULT_POLICY) -> tuple[dict[str, dict[str, Any]], int, int]:
    """({customer_id: {product, version, contact, reason, channel, outcomes}}, affected, unconsented)."""
    members, affected, unconsented = {}, 0, 0
    for record in records:
        usage = _usage_outcome(issue, record, now, retention)
        match = None
        for item in record["owned"]:
            if item["status"] != "active" or item["product"] not in issue.scope.products:
                continue
            assessment = issue.scope.assess(item["product"], item["version"], platform=item["platform"],
                                            region=record["region"], locale=record["locale"],
                                            segment=record["segment"])
            if assessment.applies and usage != "out":
                match = (item, assessment)
                break
        if match is None:
            continue
        affected += 1
        consents = record["consents"]
        channels = [c for c in CHANNELS if consents["channels"].get(c)]
        if not consents.get("proactive-contact") or not channels:
            unconsented += 1
            continue
        item, assessment = match
        decision = policy.decide(issue.impact, record["segment"], usage)
        preferred = record["preferred_channel"]
        members[record["customer_id"]] = {
            "product": item["product"], "version": item["version"], "contact": decision.contact,
            "reason": decision.reason, "channel": preferred if preferred in channels else channels[0],
            "outcomes": {"version": assessment.version, "platform": assessment.platform, "region": assessment.region,
                         "locale": assessment.locale, "audience": assessment.audience, "usage": usage}}
    return members, affected, unconsented
