"""The bundled demo help centre: a deterministic, seeded generator of a consumer-electronics knowledge base.

The world
---------
*Lumio* sells five product lines: routers (``router-x200``, ``router-x300``, ``router-m10`` and the
discontinued ``router-x100``), cameras (``cam-c10``, ``cam-c20``, ``cam-c30``), thermostats
(``thermo-t1``, ``thermo-t2``), video doorbells (``bell-d1``, ``bell-d2``) and the companion ``app-home``
(iOS, Android, Windows, macOS, web). Each product has PEP 440 firmware or app releases ("2.3.1") and
"eras" where its settings screens changed; `HelpCentre.catalog` lists them. Customers live in four regions
(``eu``, ``us``, ``uk``, ``apac``) with locales such as ``en-GB``, ``de-DE`` or ``ja-JP``. The world's
"today" is fixed at `AS_OF` (2026-11-01), so nothing depends on the clock.

Articles (about 800) answer *intents*: shared symptoms ("won't connect to wifi", "keeps disconnecting",
"update failed", "battery drains", "error E-102", ...) that exist for several product lines, plus
line-specific ones (night vision, chime, heating schedule) and account topics (billing, privacy).
The same symptom has separate articles per line, per model, per version range (split at the eras),
sometimes per phone platform, region, locale or customer segment, plus known issues ("affects 2.0.3 to
2.3.1, fixed in 2.4" stored as ``versions={"router-x200": ">=2.0.3,<2.4"}``). About 10% of articles are
deprecated (superseded by a newer edition, ``metadata["superseded_by"]``), about 5% archived (old known
issues, the discontinued model), and some carry a ``valid_until`` already in the past. ``metadata`` holds
the generator's labels ``intent``, ``line`` and ``scope``: they are ground-truth hints, so a system being
evaluated must not read them.

Customer profiles
-----------------
Plain JSON-ready dicts (a later issue wraps them in a ``CustomerProfile`` class), exactly::

    {"customer_id": "cust-0001", "region": "eu", "locale": "en-GB",
     "segment": "consumer" | "pro" | "business",
     "owned": [{"product": "router-x200", "line": "router", "version": "2.3.1", "platform": "ios" | None,
                "registered_at": "2025-03-01", "status": "active" | "returned" | "retired"}],
     "usage": [{"product": "router-x200", "feature": "parental-controls",
                "timestamp": "2026-10-01T12:00:00Z", "region": "eu", "count": 3}],
     "preferred_channel": "email" | "sms" | "push" | "none",
     "addresses": {"email": "cust-0001@example.com", "sms": "+447700900123"},   # "sms" is optional
     "consents": {"personalization": bool, "usage": bool, "chat": bool, "proactive-contact": bool,
                  "evaluation": bool, "analytics": bool,
                  "channels": {"email": bool, "sms": bool, "push": bool}}}

A hardware item's ``platform`` is the phone (iOS/Android) its owner manages it from, ``None`` when unknown;
the app's is where it is installed. ``usage`` is recorded for everyone (device telemetry); ``consents.usage``
says whether it may be used, so the privacy gate must drop it when that is false. Only customers with
``consents.evaluation`` ask queries.

Queries
-------
About three per customer, in colloquial words (never an article title; the same words are often typed by
several customers). About two thirds name no product ("wifi keeps dropping"), a sixth name a product the
customer owns ("my X200 keeps dropping"), and a sixth name one they do not own: a pre-sales, gift or family
question ("before I buy the C30: battery life terrible"). Unnamed questions are about an intent that one of
the customer's active products has; features in ``usage`` make the matching intents three times as likely
(``parental-controls`` -> parental controls), so usage is a useful, but not decisive, signal.

How relevance is assigned
-------------------------
A query is (customer, intent, optional named product). Its *targets* are the named product when there is
one (at the customer's version if they own it actively, else at the latest release; platform from the
owned item, else the customer's phone), otherwise every product the customer owns with status
``active`` (returned and retired products do not count). An article is relevant only if it answers the
query's intent, is ``active``, has not expired (``valid_until`` >= `AS_OF`), and its ``regions``,
``locales`` and ``audience`` (segment) are empty or contain the customer's. A product article must also
list a target whose version satisfies the article's specifier for it, and whose platform is in the
article's ``platforms`` (an unknown platform is allowed but not counted as a confirmed match). Articles
that name no product (account topics) apply to everybody. The grade is 2 when a narrowing restriction was
confirmed (a version range, a known platform, a region, locale or audience) and 1 for a generic match
(a whole-line or whole-model page). Consents do not change the ground truth. The query text is written in
colloquial words that are never a title, so lexical matching alone cannot tell the products apart.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, TypedDict

from .._io import atomic_open
from ..applicability import Scope
from ..corpus import Article, Corpus
from ..errors import ParameterError, did_you_mean, suggestion
from ..proactive import KnownIssue
from ._helpcentre_articles import draft_articles, slugify
from ._helpcentre_catalog import AS_OF, MOBILE, PLATFORMS, PRODUCTS
from ._helpcentre_issues import known_issues as _known_issues
from ._helpcentre_people import Customer, draft_customers, draft_queries

__all__ = ["AS_OF", "DemoQuery", "HelpCentre", "generate_helpcentre", "load_helpcentre", "write_helpcentre"]

_URL = "https://help.lumio.example/articles/{id}-{slug}"


class CatalogEntry(TypedDict):
    """One product of `HelpCentre.catalog`."""

    line: str
    name: str
    short_name: str
    status: str
    versions: tuple[str, ...]
    latest: str
    eras: tuple[str, ...]
    platforms: tuple[str, ...]
    regions: tuple[str, ...]
    battery: bool
    features: tuple[str, ...]


@dataclass(frozen=True)
class DemoQuery:
    """One question typed by a customer: ``intent`` is the symptom key, ``names_product`` the product id the
    text names (owned or not), or ``None`` when the text names no product."""

    id: str
    customer_id: str
    text: str
    intent: str
    names_product: str | None = None


@dataclass(frozen=True)
class HelpCentre:
    """A generated help centre: articles, customers, their queries and graded relevance judgments.

    ``customers`` are plain dicts shared with the `load_helpcentre` cache: treat them as read-only, or use
    `customer`, which returns a copy. ``qrels`` maps query id -> article id -> grade (1 or 2; zeros are
    omitted) and ``catalog`` maps product id -> its description (line, name, versions, platforms, ...).
    ``known_issues`` holds one `kbrank.proactive.KnownIssue` per known-issue article (impact, status, history).
    """

    corpus: Corpus
    customers: tuple[Customer, ...]
    queries: tuple[DemoQuery, ...]
    qrels: Mapping[str, Mapping[str, int]]
    catalog: Mapping[str, CatalogEntry]
    as_of: dt.date = AS_OF
    known_issues: tuple[KnownIssue, ...] = ()
    _index: Mapping[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {c["customer_id"]: row for row, c in enumerate(self.customers)}
        object.__setattr__(self, "_index", MappingProxyType(index))

    def __repr__(self) -> str:
        return (f"HelpCentre({len(self.corpus)} articles, {len(self.customers)} customers, "
                f"{len(self.queries)} queries, as_of={self.as_of.isoformat()})")

    def customer(self, customer_id: str) -> Customer:
        """A deep copy of one customer's profile dict; `ParameterError` (with "did you mean") if unknown."""
        copy: Customer = json.loads(json.dumps(self.customers[self._row(customer_id)]))
        return copy

    def relevance(self, customer_id: str, intent: str, named: str | None = None) -> dict[str, int]:
        """The ground truth's grades for a question about ``intent`` asked by ``customer_id``, naming the product
        ``named`` (None: a question about the products they own), by the rules of "How relevance is assigned":
        article id -> grade (1 or 2; articles that are not relevant are left out).

        It is the judge that graded `qrels`, so ``hc.qrels[q.id] == hc.relevance(q.customer_id, q.intent,
        q.names_product)`` for every query. It answers any question, not only the ones asked: whether an article
        can apply to a customer at all, whatever the query, is whether it is relevant to its own intent,
        ``article.id in hc.relevance(customer_id, article.metadata["intent"], named)``. For evaluation only:
        a system being evaluated must not read it.
        """
        customer = self.customers[self._row(customer_id)]
        if intent not in self._intents:
            raise ParameterError("intent", "an intent of this help centre's articles (metadata['intent'])", intent,
                                 hint=suggestion(intent, sorted(self._intents), cutoff=0.0))
        if named is not None and named not in self.catalog:
            raise ParameterError("named", "None or a product id of the catalog", named,
                                 hint=suggestion(named, sorted(self.catalog), cutoff=0.0))
        return self._judge(customer, intent, named)

    @cached_property
    def _judge(self) -> _Judge:
        return _Judge(self.corpus, self.as_of)

    @cached_property
    def _intents(self) -> frozenset[str]:
        found = {q.intent for q in self.queries}
        found.update(intent for a in self.corpus if (intent := a.metadata.get("intent")) is not None)
        return frozenset(found)

    def _row(self, customer_id: str) -> int:
        row = self._index.get(customer_id)
        if row is None:
            hint = f"Did you mean {_suggest(str(customer_id), self._index)!r}?"
            raise ParameterError(
                "customer_id", "the id of a customer in this help centre", customer_id, hint=hint
            )
        return row


def _suggest(customer_id: str, known: Mapping[str, int]) -> str:
    """The likeliest intended id: the same number ("CUST-1" -> "cust-0001"), else the closest string."""
    digits = re.fullmatch(r"\s*cust[-_ ]?0*(\d+)\s*", customer_id, flags=re.IGNORECASE)
    if digits and f"cust-{int(digits.group(1)):04d}" in known:
        return f"cust-{int(digits.group(1)):04d}"
    return did_you_mean(customer_id, known, cutoff=0.0) or "cust-0001"


# -- relevance -----------------------------------------------------------------------------------------------
class _Judge:
    """Grades articles for (customer, intent, named product), following the rules in the module docstring.

    Every applicability question is answered by the one model, `kbrank.applicability.Scope.assess`: a
    dimension that fails ("out") excludes the article, one that is confirmed ("in") makes the match grade 2.
    """

    def __init__(self, corpus: Corpus, as_of: dt.date) -> None:
        self._by_intent: dict[str, list[tuple[str, Scope]]] = {}
        for article in corpus:
            expired = article.valid_until is not None and article.valid_until < as_of
            if article.status == "active" and not expired:
                self._by_intent.setdefault(article.metadata["intent"], []).append((article.id, article.scope))

    @staticmethod
    def targets(customer: Customer, named: str | None) -> list[tuple[str, str, str | None]]:
        """(product, version, platform or None) that the query is about."""
        active = {item["product"]: item for item in customer["owned"] if item["status"] == "active"}
        if named is None:
            return [(pid, item["version"], item["platform"]) for pid, item in active.items()]
        if named in active:
            return [(named, active[named]["version"], active[named]["platform"])]
        phones = [item["platform"] for item in customer["owned"] if item["platform"] in MOBILE]
        return [(named, PRODUCTS[named]["versions"][-1], phones[0] if phones else None)]

    def __call__(self, customer: Customer, intent: str, named: str | None) -> dict[str, int]:
        targets = self.targets(customer, named)
        where = {"region": customer["region"], "locale": customer["locale"], "segment": customer["segment"]}
        grades: dict[str, int] = {}
        for article_id, scope in self._by_intent.get(intent, ()):
            if not scope.products:
                verdict = scope.assess(None, **where)
                if verdict.applies:
                    grades[article_id] = 2 if verdict.confirmed else 1
                continue
            verdicts = [scope.assess(pid, version, platform=platform, **where) for pid, version, platform in targets]
            best = max((2 if v.confirmed else 1 for v in verdicts if v.applies and v.product == "in"), default=0)
            if best:
                grades[article_id] = best
        return grades


# -- generation ----------------------------------------------------------------------------------------------
def _corpus(rng: random.Random) -> Corpus:
    drafts = draft_articles(rng)
    order = list(range(len(drafts)))
    rng.shuffle(order)  # ids carry no hint of product or generation order
    ids = {position: f"kb-{number:04d}" for number, position in enumerate(order, start=1)}
    articles = []
    for position in order:
        draft = dict(drafts[position])
        metadata = dict(draft.pop("metadata"))
        if "superseded_by" in metadata:
            metadata["superseded_by"] = ids[metadata["superseded_by"]]
        article_id = ids[position]
        articles.append(Article(id=article_id, url=_URL.format(id=article_id, slug=slugify(draft["title"])),
                                metadata=metadata, **draft))
    return Corpus(articles, source="kbrank.datasets.helpcentre")


def _catalog() -> Mapping[str, CatalogEntry]:
    entries: dict[str, CatalogEntry] = {}
    for pid, p in PRODUCTS.items():
        entries[pid] = {
            "line": p["line"], "name": p["name"], "short_name": p["short"], "status": p["status"],
            "versions": tuple(p["versions"]), "latest": p["versions"][-1], "eras": tuple(p["eras"]),
            "platforms": PLATFORMS if p["line"] == "app" else MOBILE, "regions": tuple(p["regions"]),
            "battery": p["battery"], "features": tuple(p["features"]),
        }
    return MappingProxyType(entries)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(name, f"an integer >= {minimum}", value)
    return value


def generate_helpcentre(*, seed: int = 0, n_customers: int = 240) -> HelpCentre:
    """Generate the help centre for ``seed``: the same output on every run and every platform.

    Articles, customers and queries use separate random streams derived from ``seed``, so changing
    ``n_customers`` leaves the corpus unchanged.

    >>> hc = generate_helpcentre(seed=0, n_customers=20)
    >>> len(hc.customers), hc.as_of.isoformat()
    (20, '2026-11-01')
    """
    _check_int("seed", seed, 0)
    _check_int("n_customers", n_customers, 1)
    corpus = _corpus(random.Random(f"kbrank-helpcentre/{seed}/articles"))
    customers = draft_customers(random.Random(f"kbrank-helpcentre/{seed}/customers"), n_customers)
    judge = _Judge(corpus, AS_OF)
    drafted = draft_queries(random.Random(f"kbrank-helpcentre/{seed}/queries"), customers, judge)
    queries, qrels = [], {}
    for number, (customer_id, text, intent, named, grades) in enumerate(drafted, start=1):
        query = DemoQuery(id=f"q-{number:04d}", customer_id=customer_id, text=text, intent=intent,
                          names_product=named)
        queries.append(query)
        qrels[query.id] = MappingProxyType(dict(sorted(grades.items())))
    return HelpCentre(corpus=corpus, customers=tuple(customers), queries=tuple(queries),
                      qrels=MappingProxyType(qrels), catalog=_catalog(), as_of=AS_OF,
                      known_issues=_known_issues(corpus))


@lru_cache(maxsize=4)
def load_helpcentre(seed: int = 0) -> HelpCentre:
    """The embedded default help centre (generated on first use, then cached; nothing is downloaded)."""
    return generate_helpcentre(seed=seed)


def write_helpcentre(helpcentre: HelpCentre, folder: str | os.PathLike[str]) -> None:
    """Write a BEIR-style folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``, plus
    ``customers.jsonl``, ``known_issues.jsonl`` and ``catalog.json``. Each file is replaced atomically."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    helpcentre.corpus.to_jsonl(str(root / "corpus.jsonl"))
    with atomic_open(root / "customers.jsonl") as handle:
        for customer in helpcentre.customers:
            handle.write(json.dumps(customer, ensure_ascii=False) + "\n")
    with atomic_open(root / "queries.jsonl") as handle:
        for q in helpcentre.queries:
            metadata = {"customer_id": q.customer_id, "intent": q.intent, "names_product": q.names_product}
            record = {"_id": q.id, "text": q.text, "metadata": metadata}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with atomic_open(root / "qrels" / "test.tsv") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for query_id, grades in helpcentre.qrels.items():
            for article_id, grade in grades.items():
                handle.write(f"{query_id}\t{article_id}\t{grade}\n")
    with atomic_open(root / "known_issues.jsonl") as handle:
        for issue in helpcentre.known_issues:
            handle.write(json.dumps(issue.to_record(), ensure_ascii=False) + "\n")
    with atomic_open(root / "catalog.json") as handle:
        json.dump({pid: dict(entry) for pid, entry in helpcentre.catalog.items()}, handle, indent=2)
        handle.write("\n")
