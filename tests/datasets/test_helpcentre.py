"""The demo help centre: determinism, size, schema, and relevance that really depends on the customer."""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
import re
import subprocess
import sys

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from kbrank import Corpus
from kbrank.datasets import (
    AS_OF,
    DemoQuery,
    HelpCentre,
    generate_helpcentre,
    load_helpcentre,
    write_helpcentre,
)
from kbrank.errors import ParameterError

SHARED = ("wifi-connect", "disconnects", "update-failed", "battery-drain", "notifications", "error-e102")
OWNED_KEYS = {"product", "line", "version", "platform", "registered_at", "status"}
USAGE_KEYS = {"product", "feature", "timestamp", "region", "count"}
CONSENT_KEYS = {
    "personalization", "usage", "chat", "proactive-contact", "evaluation", "analytics", "channels"
}
LOCALES = {"eu": {"de-DE", "fr-FR", "nl-NL", "en-GB"}, "uk": {"en-GB"}, "us": {"en-US", "es-US"},
           "apac": {"en-AU", "ja-JP"}}


@pytest.fixture(scope="module")
def hc() -> HelpCentre:
    return load_helpcentre()


def _targets(hc: HelpCentre, query: DemoQuery) -> set[str]:
    active = {o["product"] for o in hc.customer(query.customer_id)["owned"] if o["status"] == "active"}
    return {query.names_product} if query.names_product else active


# -- determinism and API -------------------------------------------------------------------------------------
def test_same_seed_same_output_and_other_seed_differs() -> None:
    first, second = generate_helpcentre(seed=3, n_customers=50), generate_helpcentre(seed=3, n_customers=50)
    assert first == second
    assert [a.id for a in first.corpus] == [a.id for a in second.corpus]
    other = generate_helpcentre(seed=4, n_customers=50)
    assert other.corpus != first.corpus and other.customers != first.customers


@pytest.mark.parametrize("seed", [1, 2, 7])
def test_other_seeds_keep_the_guarantees(seed: int) -> None:
    other = generate_helpcentre(seed=seed)
    assert len(other.corpus) >= 600 and len(other.queries) >= 600 and len(other.customers) == 240
    assert all(other.qrels[q.id] for q in other.queries)
    assert all(60 <= len(a.body.split()) <= 200 for a in other.corpus)


def test_customer_count_does_not_change_the_corpus() -> None:
    assert generate_helpcentre(n_customers=5).corpus == generate_helpcentre(n_customers=30).corpus


def test_load_is_cached_and_equals_generate(hc: HelpCentre) -> None:
    assert load_helpcentre() is hc
    assert hc == generate_helpcentre()
    assert hc.as_of == AS_OF == dt.date(2026, 11, 1)
    assert "articles" in repr(hc) and len(repr(hc)) < 200


def test_nothing_is_generated_at_import() -> None:
    code = ("import kbrank.datasets.helpcentre as h, sys; "
            "sys.exit(h.load_helpcentre.cache_info().currsize)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize(
    ("arguments", "name"),
    [({"n_customers": 0}, "n_customers"), ({"seed": -1}, "seed"), ({"seed": True}, "seed"),
     ({"n_customers": 2.5}, "n_customers")],
)
def test_bad_arguments_name_the_parameter(arguments: dict, name: str) -> None:
    with pytest.raises(ParameterError, match=f"^{name} must be an integer >="):
        generate_helpcentre(**arguments)


def test_customer_lookup_returns_a_copy_and_suggests_ids(hc: HelpCentre) -> None:
    profile = hc.customer("cust-0001")
    assert profile == hc.customers[0]
    profile["owned"].clear()
    assert hc.customers[0]["owned"]
    with pytest.raises(ParameterError, match="customer_id must be .*got 'CUST-1'.*Did you mean 'cust-0001'"):
        hc.customer("CUST-1")
    with pytest.raises(ParameterError, match="Did you mean 'cust-0201'"):
        hc.customer("cust-0O201")


# -- the catalog and the corpus ------------------------------------------------------------------------------
def test_catalog_has_lines_models_and_versions(hc: HelpCentre) -> None:
    by_line = collections.defaultdict(list)
    for pid, entry in hc.catalog.items():
        assert re.fullmatch(r"[a-z]+-[a-z0-9]+", pid)
        by_line[entry["line"]].append(pid)
        versions = [Version(v) for v in entry["versions"]]
        assert versions == sorted(versions) and entry["latest"] == entry["versions"][-1]
    assert len(by_line) >= 3
    assert sum(len(models) >= 2 for models in by_line.values()) >= 3
    assert {"ios", "android", "windows", "macos", "web"} <= set(hc.catalog["app-home"]["platforms"])


def test_corpus_size_and_mix(hc: HelpCentre) -> None:
    corpus = hc.corpus
    assert len(corpus) >= 600
    kinds = collections.Counter(a.kind for a in corpus)
    assert {"how-to", "troubleshooting", "known-issue", "faq", "reference"} <= set(kinds)
    status = collections.Counter(a.status for a in corpus)
    assert 0.06 <= status["deprecated"] / len(corpus) <= 0.15
    assert 0.03 <= status["archived"] / len(corpus) <= 0.10
    assert sum(a.valid_until is not None and a.valid_until < hc.as_of for a in corpus) >= 10
    assert {a.metadata["superseded_by"] for a in corpus if a.status == "deprecated"} <= set(corpus.ids)
    regions = {r for a in corpus for r in a.regions}
    assert {"eu", "us", "uk", "apac"} <= regions
    assert {"ios", "android"} <= {p for a in corpus if a.products == ("app-home",) for p in a.platforms}
    assert sum(not a.products for a in corpus) >= 5
    assert any(a.locales for a in corpus) and any(a.audience for a in corpus)


def test_articles_are_well_formed(hc: HelpCentre) -> None:
    urls = set()
    for a in hc.corpus:
        assert 60 <= len(a.body.split()) <= 200, a.id
        assert a.updated_at is not None and a.updated_at <= hc.as_of
        assert a.url.startswith(f"https://help.lumio.example/articles/{a.id}-")
        urls.add(a.url)
        assert set(a.products) <= set(hc.catalog)
        for product, spec in a.versions.items():
            assert product in a.products
            SpecifierSet(spec)  # raises if it is not PEP 440
    assert len(urls) == len(hc.corpus)


def test_known_issues_carry_the_affected_range(hc: HelpCentre) -> None:
    issues = [a for a in hc.corpus if a.kind == "known-issue"]
    assert len(issues) >= 20
    fixed = 0
    for a in issues:
        assert a.products and set(a.versions) == set(a.products)
        for product, spec in a.versions.items():
            assert spec.startswith(">=")
            fix = a.metadata["fixed_in"].get(product)
            if fix is not None:
                fixed += 1
                assert Version(fix) not in SpecifierSet(spec) and f"<{fix.removesuffix('.0')}" in spec
                assert fix in a.body
    assert fixed >= 10


def test_shared_symptoms_have_articles_for_several_products(hc: HelpCentre) -> None:
    for intent in SHARED:
        live = [a for a in hc.corpus if a.metadata["intent"] == intent and a.status == "active"]
        assert len({p for a in live for p in a.products}) >= 3, intent
        assert len({a.metadata["line"] for a in live}) >= 3, intent


# -- customers ------------------------------------------------------------------------------------------
def test_customer_schema(hc: HelpCentre) -> None:
    assert len(hc.customers) >= 200
    for c in hc.customers:
        assert json.loads(json.dumps(c)) == c
        assert set(c) == {"customer_id", "region", "locale", "segment", "owned", "usage", "preferred_channel",
                          "addresses", "consents"}
        assert re.fullmatch(r"cust-\d{4}", c["customer_id"])
        assert c["locale"] in LOCALES[c["region"]]
        assert c["segment"] in {"consumer", "pro", "business"}
        assert any(o["status"] == "active" for o in c["owned"])
        for o in c["owned"]:
            assert set(o) == OWNED_KEYS and o["line"] == hc.catalog[o["product"]]["line"]
            assert o["version"] in hc.catalog[o["product"]]["versions"]
            assert o["platform"] is None or o["platform"] in hc.catalog[o["product"]]["platforms"]
            assert dt.date.fromisoformat(o["registered_at"]) <= hc.as_of
            assert o["status"] in {"active", "returned", "retired"}
        for u in c["usage"]:
            assert set(u) == USAGE_KEYS and u["product"] in hc.catalog and u["count"] >= 1
            assert u["region"] in LOCALES
            moment = dt.datetime.strptime(u["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
            assert moment.date() < hc.as_of
        assert c["addresses"]["email"] == f"{c['customer_id']}@example.com"
        assert set(c["addresses"]) <= {"email", "sms"}
        consents = c["consents"]
        assert set(consents) == CONSENT_KEYS and set(consents["channels"]) == {"email", "sms", "push"}
        assert all(isinstance(consents[k], bool) for k in CONSENT_KEYS - {"channels"})
        assert c["preferred_channel"] in {"email", "sms", "push", "none"}
        if c["preferred_channel"] != "none":
            assert consents["channels"][c["preferred_channel"]]


def test_customers_are_varied(hc: HelpCentre) -> None:
    segments = collections.Counter(c["segment"] for c in hc.customers)
    assert len(set(segments.values())) == 3 and segments.most_common(1)[0][0] == "consumer"
    assert sum(len(c["owned"]) >= 3 for c in hc.customers) >= 30
    statuses = collections.Counter(o["status"] for c in hc.customers for o in c["owned"])
    assert statuses["returned"] >= 10 and statuses["retired"] >= 10
    assert 10 <= sum(not c["consents"]["usage"] for c in hc.customers) < len(hc.customers) / 2
    assert {c["region"] for c in hc.customers} == set(LOCALES)


# -- queries and relevance -----------------------------------------------------------------------------------
def test_queries_and_qrels_are_consistent(hc: HelpCentre) -> None:
    assert len(hc.queries) >= 600
    assert len({q.id for q in hc.queries}) == len(hc.queries) and set(hc.qrels) == {q.id for q in hc.queries}
    ids = set(hc.corpus.ids)
    for q in hc.queries:
        assert hc.customer(q.customer_id)["consents"]["evaluation"]
        grades = hc.qrels[q.id]
        assert grades and set(grades) <= ids and set(grades.values()) <= {1, 2}
    per_customer = collections.Counter(q.customer_id for q in hc.queries)
    assert 2.5 <= len(hc.queries) / len(per_customer) <= 3.5
    assert len({q.intent for q in hc.queries}) >= 15


def test_query_text_is_not_an_article_title(hc: HelpCentre) -> None:
    titles = {a.title.lower().rstrip("?") for a in hc.corpus}
    assert not [q.text for q in hc.queries if q.text.lower().rstrip("?") in titles]


def test_relevant_articles_apply_to_the_customer(hc: HelpCentre) -> None:
    for q in hc.queries:
        c = hc.customer(q.customer_id)
        targets = _targets(hc, q)
        for article_id in hc.qrels[q.id]:
            a = hc.corpus.get(article_id)
            assert a.metadata["intent"] == q.intent and a.status == "active"
            assert a.valid_until is None or a.valid_until >= hc.as_of
            assert not a.regions or c["region"] in a.regions
            assert not a.locales or c["locale"] in a.locales
            assert not a.audience or c["segment"] in a.audience
            assert not a.products or targets & set(a.products), (q.id, article_id)


def test_grade_two_means_the_version_range_matches(hc: HelpCentre) -> None:
    checked = 0
    for q in hc.queries:
        owned = {o["product"]: o for o in hc.customer(q.customer_id)["owned"] if o["status"] == "active"}
        for article_id, grade in hc.qrels[q.id].items():
            a = hc.corpus.get(article_id)
            if grade == 2 and len(a.products) == 1 and a.products[0] in owned and a.products[0] in a.versions:
                assert Version(owned[a.products[0]]["version"]) in SpecifierSet(a.versions[a.products[0]])
                checked += 1
    assert checked >= 300


def test_wrong_versions_and_inactive_products_are_not_relevant(hc: HelpCentre) -> None:
    wrong_version = returned = 0
    for q in hc.queries:
        if q.names_product is not None:
            continue
        c = hc.customer(q.customer_id)
        active = {o["product"]: o["version"] for o in c["owned"] if o["status"] == "active"}
        gone = {o["product"] for o in c["owned"] if o["status"] != "active"} - set(active)
        for a in hc.corpus:
            if a.metadata["intent"] != q.intent or len(a.products) != 1:
                continue
            (product,) = a.products
            if product in active and product in a.versions and Version(active[product]) not in SpecifierSet(
                    a.versions[product]):
                assert a.id not in hc.qrels[q.id]
                wrong_version += 1
            if product in gone:
                assert a.id not in hc.qrels[q.id]
                returned += 1
    assert wrong_version >= 100 and returned >= 20


def test_presales_queries_are_about_the_named_product(hc: HelpCentre) -> None:
    presales = [q for q in hc.queries if q.names_product is not None
                and q.names_product not in {o["product"] for o in hc.customer(q.customer_id)["owned"]}]
    assert len(presales) >= 50
    for q in presales:
        products = {p for article_id in hc.qrels[q.id] for p in hc.corpus.get(article_id).products}
        assert products and q.names_product in products
        assert all(q.names_product in hc.corpus.get(i).products or not hc.corpus.get(i).products
                   for i in hc.qrels[q.id])


def test_relevance_depends_on_the_customer(hc: HelpCentre) -> None:
    by_text = collections.defaultdict(list)
    for q in hc.queries:
        if q.names_product is None:
            by_text[(q.text.lower().rstrip("?"), q.intent)].append(frozenset(hc.qrels[q.id]))
    differing = [key for key, sets in by_text.items() if len(set(sets)) > 1]
    assert len(differing) >= 20  # the very same words, different right answers


# -- a naive lexical baseline does not already solve personalization -----------------------------------------
def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+(?:-[0-9]+)?", text.lower())) - {"the", "a", "my", "it", "i", "on", "to"}


def test_a_naive_lexical_ranking_is_ambiguous(hc: HelpCentre) -> None:
    docs = [_words(a.text) for a in hc.corpus]
    df = collections.Counter(w for d in docs for w in d)
    idf = {w: math.log(len(docs) / n) for w, n in df.items()}
    shared = mixed = foreign = 0
    precision = []
    for q in hc.queries:
        words = _words(q.text)
        scores = sorted((-sum(idf[w] for w in words & d), row) for row, d in enumerate(docs))
        top = [hc.corpus[row] for _, row in scores[:10]]
        precision.append(sum(a.id in hc.qrels[q.id] for a in top) / 10)
        if q.names_product is None and q.intent in SHARED:
            shared += 1
            mixed += len({p for a in top for p in a.products}) > 1
            foreign += any(a.metadata["intent"] == q.intent and a.id not in hc.qrels[q.id] for a in top)
    assert shared >= 200
    assert mixed / shared >= 0.8  # the top ten spans several products
    assert foreign / shared >= 0.5  # on-topic articles for the wrong product, version or region rank high
    assert sum(precision) / len(precision) < 0.35


# -- files ----------------------------------------------------------------------------------------------
def test_write_round_trip(hc: HelpCentre, tmp_path) -> None:
    write_helpcentre(hc, tmp_path / "hc")
    folder = tmp_path / "hc"
    assert Corpus.from_jsonl(str(folder / "corpus.jsonl")) == hc.corpus
    customers = [json.loads(line) for line in (folder / "customers.jsonl").read_text("utf-8").splitlines()]
    assert customers == list(hc.customers)
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text("utf-8").splitlines()]
    first = hc.queries[0]
    assert queries[0] == {"_id": first.id, "text": first.text, "metadata": {
        "customer_id": first.customer_id, "intent": first.intent, "names_product": first.names_product}}
    assert [DemoQuery(q["_id"], q["metadata"]["customer_id"], q["text"], q["metadata"]["intent"],
                      q["metadata"]["names_product"]) for q in queries] == list(hc.queries)
    lines = (folder / "qrels" / "test.tsv").read_text("utf-8").splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore"
    qrels = collections.defaultdict(dict)
    for line in lines[1:]:
        query_id, article_id, score = line.split("\t")
        qrels[query_id][article_id] = int(score)
    assert qrels == {k: dict(v) for k, v in hc.qrels.items()}
    catalog = json.loads((folder / "catalog.json").read_text("utf-8"))
    assert set(catalog) == set(hc.catalog)
    assert not [p.name for p in folder.rglob("*.tmp")]
