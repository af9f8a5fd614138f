"""Planning: what to tell whom about a known issue, rendered per customer and channel, ready for the outbox.

`plan(issue, audience, templates)` makes the first notice (update 1 of the issue's thread): one message per
affected customer whom the impact policy says to contact, on their preferred consented channel (``route``
may map a channel to another, e.g. ``{"push": "in_app"}``), saying what the problem is, whom it affects
and why this customer ("you run cam-c10 4.2.1"), what to do now (the workaround article's link) and when it
will be fixed. The audience snapshot goes with it, including the affected customers who get no message.

`plan_update(issue, outbox=..., audience=...)` follows a status change. It targets everyone told before
plus the newly affected, and leaves out the erased (their rows are gone) and the unsubscribed:

* a customer told before gets an ``update`` message ("now fixed; it was: workaround available");
* a customer who never got a notice (newly affected, or whose notice was superseded or skipped) gets one
  ``notice`` with the whole context, never an orphan "fixed" message;
* ``quiet=True`` records the change in the thread and notifies nobody; so does ``closed``;
* ``fixed`` (and ``closed``) close the thread: messages not yet sent about earlier updates are superseded, and
  nobody is told anything more about the issue;
* planning the same status again is the same update: only what is new is added (idempotent).

Fewer affected customers than the audience guard's ``min_affected`` means the issue is recorded without
notifying anyone; above ``confirm_above`` messages, `Outbox.enqueue` wants ``confirm=True``.
Rendering happens once per distinct (channel, locale, product, version, clause, kind) and is shared by every
customer with the same values, so a large audience costs a few renders, not one per customer.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from ..errors import ParameterError, TemplateError, UnknownArticleError
from .audience import Audience
from .issues import KnownIssue
from .outbox import Outbox
from .records import MESSAGE_CHANNELS, NotificationPlan, PlannedMessage, PlannedUpdate, Recipient, message_key
from .templates import Rendered, Templates

__all__ = ["plan", "plan_update", "recipients_of", "describe_scope", "CLOSING_STATUSES"]

log = logging.getLogger("kbrank.proactive")
#: Statuses that end an issue's thread.
CLOSING_STATUSES = ("fixed", "closed")
_NO_CONSENT = "affected, no consent to contact: counted, not contacted"


def describe_scope(issue: KnownIssue) -> str:
    """Whom the issue affects, in words: ``cam-c10 >=4.2,<4.3.2 on ios in EU``."""
    scope = issue.scope
    text = " and ".join(f"{p} {scope.versions[p]}" if p in scope.versions else p for p in scope.products)
    if scope.platforms:
        text += " on " + " or ".join(scope.platforms)
    if scope.regions:
        text += " in " + ", ".join(r.upper() for r in scope.regions)
    if scope.locales:
        text += " (" + ", ".join(scope.locales) + ")"
    if scope.audience:
        text += " for " + ", ".join(scope.audience) + " customers"
    if issue.usage is not None:
        text += ", for customers who " + issue.usage.describe().replace("uses ", "use ", 1)
    return text


def recipients_of(audience: Audience) -> tuple[Recipient, ...]:
    """The audience as snapshot rows: one `Recipient` per affected, consented customer."""
    if not isinstance(audience, Audience):
        raise ParameterError("audience", "an Audience (from kbrank.proactive.select_affected)", type(audience).__name__)
    reasons = [rule.reason for rule in audience.policy.rules]
    return tuple(Recipient(audience.customers[i].decode("ascii"), str(audience.clauses[i]), bool(audience.contact[i]),
                           reasons[int(audience.rule[i])], str(audience.channel[i]), audience.locale[i],
                           audience.segment[i], audience.product[i], audience.version[i])
                 for i in range(len(audience)))


def _link(article_id: str | None, articles: Any, templates: Templates, role: str) -> dict[str, Any] | None:
    if article_id is None:
        return None
    title, url = article_id, None
    if articles is not None:
        try:
            article = articles.get(article_id)
        except (KeyError, UnknownArticleError):
            article = None
        if article is not None:
            title, url = getattr(article, "title", "") or article_id, getattr(article, "url", "") or None
    if url is None and templates.article_url is not None:
        url = templates.article_url.format(id=article_id)
    if url is None:
        raise TemplateError(f"the {role} article {article_id!r} has no link", field=f"{role}_article",
                            fix="pass articles=<the corpus> (articles carry their url), or "
                                "Templates(article_url='https://.../{id}')")
    return {"id": article_id, "title": title, "url": url}


class _Renderer:
    """Renders messages for one update, once per distinct set of values a message depends on."""

    def __init__(self, issue: KnownIssue, number: int, templates: Templates, articles: Any) -> None:
        self.issue, self.number, self.templates = issue, number, templates
        eta = issue.eta.isoformat() if issue.eta is not None else None
        self.issue_vars = {"id": issue.id, "title": issue.title, "summary": issue.summary, "impact": issue.impact,
                           "status": issue.status, "eta": eta, "affects": describe_scope(issue)}
        self.links = {"workaround": _link(issue.workaround_article, articles, templates, "workaround"),
                      "fix": _link(issue.fix_article, articles, templates, "fix")}
        self.cache: dict[tuple[Any, ...], Rendered] = {}

    def message(self, r: Recipient, channel: str, kind: str, previous: str | None) -> PlannedMessage:
        key = (channel, r.locale, r.product, r.version, r.clause, r.segment, kind, previous)
        rendered = self.cache.get(key)
        if rendered is None:
            customer = {"product": r.product, "version": r.version, "clause": r.clause, "segment": r.segment,
                        "locale": r.locale, "fixed_in": self.issue.fixed_in.get(r.product or "")}
            context = {"issue": self.issue_vars, "customer": customer, **self.links,
                       "update": {"number": self.number, "kind": kind, "previous_status": previous}}
            rendered = self.cache[key] = self.templates.render(channel, r.locale, context)
        return PlannedMessage(message_key(self.issue.id, self.number, r.customer), self.issue.id, self.number,
                              r.customer, channel, rendered.locale, kind, rendered.subject, rendered.body,
                              rendered.html)


def _route(channel: str, route: Mapping[str, str] | None) -> str:
    target = (route or {}).get(channel, channel)
    if target not in MESSAGE_CHANNELS:
        raise ParameterError("route", f"a mapping of channel -> one of {', '.join(MESSAGE_CHANNELS)}", route)
    return target


def _check(issue: Any, audience: Audience | None, templates: Any) -> Templates:
    if not isinstance(issue, KnownIssue):
        raise ParameterError("issue", "a KnownIssue", type(issue).__name__)
    if audience is not None:
        if not isinstance(audience, Audience):
            raise ParameterError("audience", "an Audience (from select_affected)", type(audience).__name__)
        if audience.issue.id != issue.id:
            raise ParameterError("audience", f"the audience of issue {issue.id!r}", audience.issue.id,
                                 hint="Select the audience of this issue with select_affected(issue, gateway).")
    if templates is not None and not isinstance(templates, Templates):
        raise ParameterError("templates", "a kbrank.proactive.Templates or None", type(templates).__name__)
    return templates or Templates()


def _update_of(issue: KnownIssue, number: int, *, quiet: bool) -> PlannedUpdate:
    return PlannedUpdate(issue.id, number, issue.status, issue.title,
                         issue.eta.isoformat() if issue.eta is not None else None,
                         quiet or issue.status == "closed", issue.status in CLOSING_STATUSES)


def plan(issue: KnownIssue, audience: Audience, templates: Templates | None = None, *, articles: Any = None,
         route: Mapping[str, str] | None = None, quiet: bool = False) -> NotificationPlan:
    """The first notice about ``issue`` to its ``audience`` (see the module docstring).

    ``articles`` (the corpus, or any mapping-like with ``get(id)``) gives the linked articles' titles and
    URLs; ``templates`` defaults to the shipped ones.
    """
    return _plan(issue, audience, _check(issue, audience, templates), number=1, told={}, previous=(),
                 articles=articles, route=route, quiet=quiet, closed=False, unsubscribed=frozenset())


def plan_update(issue: KnownIssue, *, outbox: Outbox, audience: Audience | None = None,
                templates: Templates | None = None, articles: Any = None, route: Mapping[str, str] | None = None,
                quiet: bool = False) -> NotificationPlan:
    """The next update of ``issue``'s thread in ``outbox``, after its status (or ETA) changed; the same
    update again when nothing changed. ``audience`` is a fresh selection (to reach the newly affected);
    without it only the customers in the thread's snapshot are considered."""
    templates = _check(issue, audience, templates)
    if not isinstance(outbox, Outbox):
        raise ParameterError("outbox", "a kbrank.proactive.Outbox", type(outbox).__name__)
    thread = outbox.thread(issue.id)
    if thread is None:
        return _plan(issue, audience, templates, number=1, told={}, previous=(), articles=articles, route=route,
                     quiet=quiet, closed=False, unsubscribed=frozenset())
    last = thread.last
    eta = issue.eta.isoformat() if issue.eta is not None else None
    same = last.status == issue.status and last.eta == eta
    number = last.number if same else last.number + 1
    sent = outbox.messages(issue.id, states=["sent"])
    told = {m.customer: m.update for m in sent}  # the last update each customer was sent
    status_of = {u.number: u.status for u in thread.updates}
    previous = outbox.recipients(issue.id)
    everyone = {r.customer for r in previous} | set(told)
    if audience is not None:
        everyone |= {c.decode("ascii") for c in audience.customers.tolist()}
    unsubscribed = outbox.unsubscribed(everyone, issue.id)
    return _plan(issue, audience, templates, number=number, told={c: status_of[u] for c, u in told.items()},
                 previous=previous, articles=articles, route=route, quiet=quiet or (thread.closed and not same),
                 closed=thread.closed and not same, unsubscribed=unsubscribed)


def _plan(issue: KnownIssue, audience: Audience | None, templates: Templates, *, number: int,
          told: dict[str, str], previous: tuple[Recipient, ...], articles: Any, route: Mapping[str, str] | None,
          quiet: bool, closed: bool, unsubscribed: frozenset[str]) -> NotificationPlan:
    update = _update_of(issue, number, quiet=quiet)
    fresh = recipients_of(audience) if audience is not None else ()
    current = {r.customer: r for r in previous}
    current.update((r.customer, r) for r in fresh)  # the newest selection describes them best
    held: dict[str, int] = {}

    def hold(reason: str, n: int = 1) -> None:
        if n:
            held[reason] = held.get(reason, 0) + n

    if audience is not None:
        hold(_NO_CONSENT, audience.n_unconsented)
    n_affected = len(current) + (audience.n_unconsented if audience is not None else 0)
    min_affected = audience.guard.min_affected if audience is not None else 0
    messages: list[PlannedMessage] = []
    renderer: _Renderer | None = None
    for who in sorted(current):
        r = current[who]
        if update.quiet:
            hold("closed thread: recorded only" if closed else "quiet update: recorded only")
        elif who in unsubscribed:
            hold("unsubscribed")
        elif not r.contact and who not in told:
            hold(f"impact policy: {r.decision}")
        elif r.channel == "none":
            hold("no consented channel")
        elif not told and n_affected < min_affected:
            hold(f"fewer than {min_affected} affected customers: recorded only")
        else:
            renderer = renderer or _Renderer(issue, number, templates, articles)
            kind = "update" if who in told else "notice"
            messages.append(renderer.message(r, _route(r.channel, route), kind, told.get(who)))
    confirm_above = audience.guard.confirm_above if audience is not None else None
    log.info("planned update %d of %s (%s): %d messages, held back %s", number, issue.id, issue.status,
             len(messages), held or "nobody")
    return NotificationPlan(update, tuple(fresh), tuple(messages), held, confirm_above=confirm_above)
