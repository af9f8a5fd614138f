"""`HelpCentreSite`: what the page and its API serve, with every customer read going through the privacy gate.

It holds a built `kbrank.searcher.Searcher`, the `kbrank.privacy.ProfileGateway`, the customers that may be
picked (their ids only: the picker is the page's stand-in for a login), the products' display names, an
optional `kbrank.chat.ChatRetriever` and the known issues. Each request reads the customer again, for the
purpose of what it feeds:

* the customer card and search: ``personalization`` (owned products, region, locale, segment);
* the chat panel: ``chat``;
* the known-issue banner: ``proactive-contact``, through `kbrank.proactive.select_affected` and `plan` (one
  audited columnar scan per open issue, on first use), so only customers who agreed to be told see it.

A customer who did not consent gets the unpersonalized view (the gateway's ``degrade=True``), never an error.
Nothing here holds profile data beyond a request, except the planned known-issue notices (keyed by pseudonym,
bounded by the audience sizes, and dropped by the gateway's erasure hook with the customer). Query and chat
text is logged only through `kbrank.privacy.redact`, customers only by a short pseudonym.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, did_you_mean, short_pseudonym
from ..privacy import redact

__all__ = ["CustomerCard", "HelpCentreSite", "Notice", "OwnedItem", "Searched", "Chatted", "MAX_K", "MAX_TURNS",
           "REQUESTER"]

log = logging.getLogger("kbrank.web")

#: The requester named in the gateway's audit trail for every read the page makes.
REQUESTER = "kbrank.web"
#: The most results a page or API search returns.
MAX_K = 50
#: The most turns a chat request may carry (older turns are the client's to drop).
MAX_TURNS = 20
_CONTEXT_TOKENS = 384  # the chat answer's context budget (the answerer is extractive: a few passages suffice)


@dataclass(frozen=True)
class OwnedItem:
    """One product the customer owns, as the page shows it."""

    product: str
    name: str
    version: str | None
    status: str


@dataclass(frozen=True)
class CustomerCard:
    """What the page may show about the picked customer: read for ``personalization``, minimized."""

    customer_id: str
    personalized: bool
    reason: str | None
    owned: tuple[OwnedItem, ...]
    region: str | None
    segment: str | None


@dataclass(frozen=True)
class Notice:
    """A known issue the customer is affected by, as its in-app notice from the proactive plan."""

    issue: str
    title: str
    status: str
    impact: str
    eta: str | None
    subject: str
    body: str
    why: str


@dataclass(frozen=True)
class Searched:
    """One search for the page: the personalized results (``None`` without a customer) beside the plain ones."""

    query: str
    k: int
    card: CustomerCard | None
    personal: Any  # kbrank.results.Results
    plain: Any


@dataclass(frozen=True)
class Chatted:
    """One chat reply: the retrieval (passages or a clarifying question), the answer text, and the turns to
    send back with the next message."""

    retrieval: Any  # kbrank.chat.ChatRetrieval
    answer: str | None
    turns: tuple[dict[str, Any], ...]
    personalized: bool


class HelpCentreSite:
    """The help centre the web app serves; see the module docstring.

    Parameters (keyword-only, stored unchanged): ``searcher`` (built), ``gateway``, ``customers`` (the ids that
    may be picked), ``product_names`` (product id -> display name), ``chat`` (a `ChatRetriever` or ``None``),
    ``known_issues`` (`KnownIssue` objects), ``articles`` (the corpus, for the notices' article links) and
    ``title`` (the page's heading).
    """

    def __init__(self, *, searcher: Any, gateway: Any, customers: Sequence[str] = (),
                 product_names: Mapping[str, str] | None = None, chat: Any = None, known_issues: Sequence[Any] = (),
                 articles: Any = None, title: str = "Help centre") -> None:
        self.searcher = searcher
        self.gateway = gateway
        self.customers = customers
        self.product_names = product_names
        self.chat = chat
        self.known_issues = known_issues
        self.articles = articles
        self.title = title
        self._ids = list(dict.fromkeys(str(c) for c in customers))
        self._notices: dict[str, tuple[Notice, ...]] | None = None
        self._lock = threading.Lock()
        self._gate = threading.Lock()  # one gateway call at a time (its storage is shared by the server's threads)
        if gateway is not None:
            gateway.register_erasure_hook(f"{REQUESTER}.{id(self):x}", self._erase)

    # -- customers -----------------------------------------------------------------------------------------
    @property
    def customer_ids(self) -> tuple[str, ...]:
        return tuple(self._ids)

    def check_customer(self, customer: str) -> str:
        """``customer`` if it may be picked, else `InputError` naming the field with a "did you mean"."""
        if customer in self._ids:
            return customer
        close = did_you_mean(customer, self._ids)
        fix = f"did you mean {close!r}?" if close else "use an id listed by GET /api/customers"
        raise InputError("no such customer", field="customer", value=customer[:40], fix=fix)

    def name(self, product: str) -> str:
        return (self.product_names or {}).get(product, product)

    def card(self, customer: str) -> CustomerCard:
        """The customer's card, read through the gateway for ``personalization`` (unpersonalized without consent)."""
        return self._card_of(customer, self._read(customer, "personalization"))

    def _read(self, customer: str, purpose: str) -> Any:
        self.check_customer(customer)
        with self._gate:
            return self.gateway.read(customer, purpose, requester=REQUESTER, degrade=True)

    def prepare(self) -> HelpCentreSite:
        """Do the first-use work before serving: plan the known-issue notices, fit the chat retriever and run
        one search (compiles the BM25 kernels, loads the dense model)."""
        self._planned()
        if self.chat is not None:
            self.chat.fit()
        self.searcher.search("help", k=1)
        return self

    # -- search ------------------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, customer: str | None = None) -> Searched:
        """The plain results and, for a customer, the personalized ones with what the profile hid and why."""
        card = view = None
        if customer:
            view = self._read(customer, "personalization")
            card = self._card_of(customer, view)
        try:
            plain = self.searcher.search(query, k=k)
        except InputError as exc:  # the searcher's own limits (distinct terms), named as the page's field
            if exc.field != "query":
                raise
            raise InputError(exc.problem, field="q", value=exc.value,
                             fix="send a shorter query: a question or a few keywords") from None
        personal = None
        if view is not None:
            personal = self.searcher.search(query, k=k, profile=view, explain_hidden=True)
        log.info("search %r k=%d customer=%s personalized=%s", redact(query), k, self._who(customer),
                 bool(personal is not None and personal.personalized))
        return Searched(query, k, card, personal, plain)

    def _card_of(self, customer: str, view: Any) -> CustomerCard:
        if not view.personalized:
            return CustomerCard(customer, False, view.reason, (), None, None)
        owned = tuple(OwnedItem(o.product, self.name(o.product), o.version, o.status) for o in view.owned)
        return CustomerCard(customer, True, None, owned, view.region, view.segment)

    def _who(self, customer: str | None) -> str:
        if not customer:
            return "-"
        with self._gate:
            return short_pseudonym(self.gateway.pseudonymize(customer))

    # -- chat --------------------------------------------------------------------------------------------
    def reply(self, turns: Sequence[Mapping[str, Any]], customer: str | None = None, k: int = 3) -> Chatted:
        """The chat retriever's passages (or clarifying question) for the last turn, read for ``chat``."""
        if self.chat is None:
            raise InputError("this help centre has no chat", field="turns",
                             fix="start `kbrank serve` without an index for the demo help centre's chat")
        from ..chat import ExtractiveAnswerer, build_context

        view = self._read(customer, "chat") if customer else None
        given = tuple(dict(t) for t in turns)
        found = self.chat.retrieve(list(given), view, k)
        log.info("chat %r turns=%d customer=%s", redact(str(turns[-1].get("text", ""))) if turns else "",
                 len(turns), self._who(customer))
        if found.clarification is not None:
            turn = found.clarification.as_turn()
            return Chatted(found, None, (*given, turn), bool(found.personalized))
        context = build_context(found.passages, _CONTEXT_TOKENS, profile=view)
        answer = ExtractiveAnswerer().answer(found.query.text, context)
        return Chatted(found, answer.text, (*given, {"speaker": "assistant", "text": answer.text}),
                       bool(found.personalized))

    # -- known issues ------------------------------------------------------------------------------------
    def notices(self, customer: str) -> tuple[Notice, ...]:
        """The open known issues that affect the customer, if they agreed to proactive contact."""
        self.check_customer(customer)
        with self._gate:
            pseudonym = self.gateway.pseudonymize(customer)
        return self._planned().get(pseudonym, ())

    def _planned(self) -> dict[str, tuple[Notice, ...]]:
        with self._lock:
            if self._notices is None:
                self._notices = self._plan_all()
            return self._notices

    def _plan_all(self) -> dict[str, tuple[Notice, ...]]:
        """One audited scan per open issue (`select_affected`), planned as in-app notices (`plan`)."""
        from ..proactive import MESSAGE_CHANNELS, plan, recipients_of, select_affected

        in_app = {channel: "in_app" for channel in MESSAGE_CHANNELS if channel != "in_app"}
        out: dict[str, list[Notice]] = {}
        for issue in self.known_issues:
            if not issue.open:
                continue
            with self._gate:
                audience = select_affected(issue, self.gateway, requester=REQUESTER)
            made = plan(issue, audience, articles=self.articles, route=in_app)
            why = {r.customer: r.clause for r in recipients_of(audience)}
            for message in made.messages:
                out.setdefault(message.customer, []).append(Notice(
                    issue.id, issue.title, issue.status, issue.impact, issue.eta.isoformat() if issue.eta else None,
                    message.subject, message.body, why.get(message.customer, "")))
        log.info("planned known-issue notices for %d customers from %d open issues", len(out),
                 sum(1 for i in self.known_issues if i.open))
        return {customer: tuple(notices) for customer, notices in out.items()}

    def _erase(self, pseudonym: str) -> int:
        """The erasure hook: forget the customer's notices and drop them from the picker."""
        removed = 0
        with self._lock:
            if self._notices is not None and pseudonym in self._notices:
                removed += len(self._notices.pop(pseudonym))
        keep = [c for c in self._ids if self.gateway.pseudonymize(c) != pseudonym]
        removed += len(self._ids) - len(keep)
        self._ids[:] = keep
        return removed
