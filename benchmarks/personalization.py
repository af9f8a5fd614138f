"""Personalization on the demo help centre: unpersonalized vs the default policy vs the learned reranker.

    python benchmarks/personalization.py                  # hybrid if the dense extra works, else bm25
    python benchmarks/personalization.py --mode bm25      # lexical retrieval only
    python benchmarks/personalization.py --quick          # the smoke test's run: bm25, 80 customers, no speed

Method (one process, one run):

1. Data: `kbrank.datasets.load_helpcentre()` (795 articles, 240 customers, 698 queries, graded qrels). Every
   profile is read through the privacy gate (``ProfileGateway.from_helpcentre``, purpose "personalization",
   ``degrade=True``): customers without personalization consent get the unpersonalized ranking, as in
   production, and count in every figure.
2. Retrieval: ``Searcher(mode=...)``; hybrid when faiss, sentence-transformers and the bundled model load
   (article vectors go through the embedding cache in ``<repo>/.kbrank-cache``; each query is encoded once
   and its vector reused by every system), else BM25. The table names the mode.
3. Systems, all through ``Searcher.search(text, 10, profile=view)``: *unpersonalized* (no profile), *policy*
   (`default_policy`), *learned (judgments)* and *learned (clicks, IPW)* (`LearnedPersonalizer`; hides from
   the policy, scores from a `LearnedReranker`). The learned models are cross-fitted over 5 folds of
   customers (stratified by segment, seeded): each query is ranked by a model that never saw its customer,
   so every figure, for every system, is over the same held-out queries. Click logs are simulated on the
   training customers from the policy's top 10 (the ranking production would have shown) with a
   position-based click model, 10 sessions per query (`simulate_clicks`: examination (1/rank)^1, click
   probability 0.05 / 0.5 / 0.9 by grade, "solved it" 0 / 0.3 / 0.7); the clicks model corrects with
   propensity max((1/rank)^1, 0.1). An uncorrected clicks model (eta = 0) is in the JSON as an ablation.
4. Metrics, per segment (consumer, pro, business) and overall: nDCG@10 (trec_eval's, `kbrank.evaluation`),
   its difference from unpersonalized with paired p-values (`compare`, t-test and randomization with
   10,000 sign flips); *harm rate*: share of queries where a relevant article (grade >= 1) in the
   unpersonalized top 10 is hidden or pushed out of the personalized top 10; *inapplicable in top 3*:
   share of top-3 slots (pooled over queries) holding an article that does not apply to the customer under
   the ground truth's rules (product and version target, platform, region, locale, segment, active and not
   expired: the generator's judge asked about the article's own intent, so a relevant article for another
   question still counts as applicable); *not relevant in top 3*: the same share for articles of grade 0
   (not in the qrels), which also counts on-topic misses. The ground-truth labels (``metadata``) are read
   here, by the evaluation, never by kbrank.
5. Robustness: each consenting customer's attributes (each owned item, its version, its platform, the
   region) are put in a seeded random order; at level x the first round(x * n) are corrupted (item
   dropped, version set to an older release of that product, platform set to unknown, region dropped), so
   a higher level corrupts a superset. Relevance stays that of the true profile.
6. Generalization: the policy on a second generated help centre (``seed=1``: other articles, customers and
   queries), BM25, all queries: the default weights were chosen on seed 0.
7. Speed (skipped with ``--quick``): a synthetic corpus of 100,000 articles over about 2,000 attribute values
   (products with version ranges, platforms, regions, locales, audiences, tags); ``Personalizer.plan`` with
   and without its cache, and ``rerank`` of 1,000 candidates with a cached plan (policy and learned), median
   over repeated calls; the ratio of personalization time (cached plan + rerank) to a hybrid query over the
   same 100k articles (query encoding by the real model; article vectors synthetic: demo vectors plus
   noise, since encoding 100k articles takes over 20 minutes), to that query's retrieval without the
   encoding (the stricter ratio, and the one least moved by other load on the machine), and to a hybrid
   query over the demo.

Writes ``personalization.json`` and ``personalization.md`` to ``--out`` (default ``benchmarks/results``), and
the markdown into README.md between ``<!-- personalization:start -->`` and ``<!-- personalization:end -->``
when both markers exist.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from kbrank import Article, Corpus
from kbrank.candidates import Candidates, SourceScores
from kbrank.datasets import generate_helpcentre, load_helpcentre
from kbrank.datasets.helpcentre import _Judge  # the ground truth's applicability rules (evaluation side only)
from kbrank.evaluation import compare
from kbrank.personalize import Personalizer, default_policy
from kbrank.personalize.learned import LearnedPersonalizer, LearnedReranker, collect_examples, simulate_clicks
from kbrank.privacy import OwnedProduct, ProfileGateway, ProfileView, UsageEvent
from kbrank.searcher import Searcher

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO / ".kbrank-cache"
README = REPO / "README.md"
START, END = "<!-- personalization:start -->", "<!-- personalization:end -->"
KEY = "benchmark-key-0123456789abcdef-0123"
SEGMENTS = ("consumer", "pro", "business")
SYSTEMS = ("unpersonalized", "policy", "learned_judgments", "learned_clicks")
ABLATIONS = ("learned_clicks_uncorrected",)
LABELS = {"unpersonalized": "unpersonalized", "policy": "default policy", "learned_judgments": "learned (judgments)",
          "learned_clicks": "learned (clicks, IPW)", "learned_clicks_uncorrected": "learned (clicks, no correction)"}
LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
CLICKS = {"sessions_per_query": 10, "eta": 1.0, "click_probability": (0.05, 0.5, 0.9),
          "solve_probability": (0.0, 0.3, 0.7)}
TARGETS = {"ndcg_gain": 0.15, "p_value": 0.01, "harm_rate": 0.01, "inapplicable_top3": 0.02,
           "rerank_us": 100.0, "personalization_share": 0.02}


# -- setup --------------------------------------------------------------------------------------------------
class QueryVectorCache:
    """An `Encoder` that remembers query vectors, so each query is encoded once for every system and level.

    Documents go to the wrapped encoder unchanged (same fingerprint, so the embedding cache is shared)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.vectors: dict[str, np.ndarray] = {}

    name = property(lambda self: self.inner.name)
    dim = property(lambda self: self.inner.dim)
    fingerprint = property(lambda self: self.inner.fingerprint)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            for text, vector in zip(missing, self.inner.encode_queries(missing)):
                self.vectors[text] = vector
        return np.stack([self.vectors[t] for t in texts])

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_documents(texts)


def aliases(hc: Any) -> dict[str, list[str]]:
    return {p: [c["short_name"], c["name"]] for p, c in hc.catalog.items()}


def dense_available() -> str | None:
    """None if hybrid search can run here, else why not."""
    try:
        import faiss  # noqa: F401
        import sentence_transformers  # noqa: F401

        from kbrank.index.encoders import default_model_path

        default_model_path()
    except Exception as error:  # any import or model problem means: fall back to bm25, and say why
        return f"{type(error).__name__}: {error}"
    return None


def build_searcher(hc: Any, mode: str, log: Callable[[str], None]) -> Searcher:
    personalizer = Personalizer(today=hc.as_of, product_aliases=aliases(hc))
    dense = None
    if mode == "hybrid":
        from kbrank.index.dense import DenseIndex
        from kbrank.index.encoders import SentenceTransformerEncoder

        dense = DenseIndex(QueryVectorCache(SentenceTransformerEncoder()), cache_dir=CACHE_DIR)
    started = time.perf_counter()
    searcher = Searcher(mode=mode, dense=dense, personalizer=personalizer).build(hc.corpus)
    log(f"built the {mode} searcher in {time.perf_counter() - started:.1f} s")
    return searcher


def with_personalizer(searcher: Searcher, personalizer: Personalizer) -> Searcher:
    """A shallow copy of ``searcher`` (same indexes) that personalizes with ``personalizer`` (fitted here)."""
    other = copy.copy(searcher)
    analyzer = searcher.bm25_.analyzer_ if searcher.bm25_ is not None else None
    personalizer.analyzer = personalizer.analyzer or analyzer
    other.personalizer_ = personalizer.fit(searcher.corpus_, searcher.personalizer_.applicability_)
    return other


def learned_personalizer(hc: Any, model: LearnedReranker) -> LearnedPersonalizer:
    return LearnedPersonalizer(reranker=model, today=hc.as_of, product_aliases=aliases(hc))


def customer_folds(customers: Sequence[dict], n_folds: int, seed: int) -> dict[str, int]:
    """Customer id -> fold, stratified by segment, seeded."""
    rng = random.Random(f"personalization-folds/{seed}")
    fold: dict[str, int] = {}
    for segment in SEGMENTS:
        ids = sorted(c["customer_id"] for c in customers if c["segment"] == segment)
        rng.shuffle(ids)
        start = rng.randrange(n_folds)
        for i, customer_id in enumerate(ids):
            fold[customer_id] = (start + i) % n_folds
    return fold


class GroundTruth:
    """Whether an article applies to a customer (and the query's named product), by the generator's own judge
    asked about the article's intent: applicability without topicality."""

    def __init__(self, hc: Any) -> None:
        self.judge = _Judge(hc.corpus, hc.as_of)
        self.intent = {a.id: a.metadata["intent"] for a in hc.corpus}
        self.customers = {c["customer_id"]: c for c in hc.customers}
        self.memo: dict[tuple[str, str, str | None], Mapping[str, int]] = {}

    def consents(self, customer_id: str) -> bool:
        return bool(self.customers[customer_id]["consents"]["personalization"])

    def applies(self, customer_id: str, named: str | None, article_id: str) -> bool:
        key = (customer_id, self.intent[article_id], named)
        if key not in self.memo:
            self.memo[key] = self.judge(self.customers[customer_id], key[1], named)
        return article_id in self.memo[key]


Rankings = dict[str, list[str]]


def rank_all(searcher: Searcher, queries: Sequence[Any], views: Mapping[str, Any] | None) -> Rankings:
    return {q.id: searcher.search(q.text, 10, profile=None if views is None else views[q.customer_id]).ids
            for q in queries}


# -- effectiveness ------------------------------------------------------------------------------------------
def as_run(rankings: Rankings) -> dict[str, dict[str, float]]:
    """Scores from ranks (k + 1 - rank), so the evaluation sees kbrank's own order, ties included."""
    return {q: {a: float(len(ids) + 1 - i) for i, a in enumerate(ids)} for q, ids in rankings.items()}


def p_values(qrels: Mapping[str, Mapping[str, int]], runs: Mapping[str, Rankings], baseline: str,
             n_resamples: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    converted = {name: as_run(r) for name, r in runs.items()}
    for test in ("t-test", "randomization"):
        result = compare(qrels, converted, ["ndcg@10"], baseline=baseline, test=test, missing="zero",
                         n_resamples=n_resamples)
        for name, evaluation in result.evaluations.items():
            row = out.setdefault(name, {"ndcg@10": evaluation.means["ndcg_cut_10"]})
            if name != baseline:
                row["delta"] = result.deltas[name]["ndcg_cut_10"]
                row[f"p_{test}"] = result.p_values[name]["ndcg_cut_10"]
    return out


def harm_and_top3(queries: Sequence[Any], qrels: Mapping[str, Mapping[str, int]], plain: Rankings,
                  system: Rankings, truth: GroundTruth) -> dict[str, float]:
    """Harm rate, and the top-3 shares over every query and over the consenting customers' queries only."""
    harmed = 0
    counts = {"all": [0, 0, 0], "consenting": [0, 0, 0]}  # slots, inapplicable, not relevant
    for q in queries:
        grades = qrels.get(q.id, {})
        shown = set(system[q.id])
        harmed += any(grades.get(a, 0) >= 1 and a not in shown for a in plain[q.id])
        groups = ("all", "consenting") if truth.consents(q.customer_id) else ("all",)
        for article in system[q.id][:3]:
            flags = (1, not truth.applies(q.customer_id, q.names_product, article), grades.get(article, 0) == 0)
            for group in groups:
                counts[group] = [c + f for c, f in zip(counts[group], flags)]
    share = {g: (c[1] / max(c[0], 1), c[2] / max(c[0], 1)) for g, c in counts.items()}
    return {"harm_rate": harmed / max(len(queries), 1), "inapplicable_top3": share["all"][0],
            "not_relevant_top3": share["all"][1], "inapplicable_top3_consenting": share["consenting"][0],
            "not_relevant_top3_consenting": share["consenting"][1], "top3_slots": counts["all"][0]}


def segment_table(hc: Any, queries: Sequence[Any], runs: Mapping[str, Rankings], truth: GroundTruth,
                  n_resamples: int) -> dict[str, Any]:
    segment_of = {c["customer_id"]: c["segment"] for c in hc.customers}
    table: dict[str, Any] = {}
    for segment in (*SEGMENTS, "overall"):
        chosen = [q for q in queries if segment == "overall" or segment_of[q.customer_id] == segment]
        if not chosen:
            continue
        qrels = {q.id: dict(hc.qrels[q.id]) for q in chosen}
        subset = {name: {q.id: r[q.id] for q in chosen} for name, r in runs.items()}
        rows = p_values(qrels, subset, "unpersonalized", n_resamples)
        for name in runs:
            rows[name].update(harm_and_top3(chosen, qrels, subset["unpersonalized"], subset[name], truth))
        table[segment] = {"queries": len(chosen), "systems": rows}
    return table


def effectiveness(hc: Any, searcher: Searcher, queries: Sequence[Any], views: Mapping[str, Any],
                  n_folds: int, seed: int, log: Callable[[str], None]) -> tuple[dict[str, Rankings], dict[str, Any]]:
    """Rankings of every system for every query (learned ones cross-fitted by customer), and the models."""
    runs: dict[str, Rankings] = {"unpersonalized": rank_all(searcher, queries, None),
                                 "policy": rank_all(searcher, queries, views)}
    for name in ("learned_judgments", "learned_clicks", *ABLATIONS):
        runs[name] = {}
    fold_of = customer_folds([c for c in hc.customers if c["customer_id"] in views], n_folds, seed)
    models: dict[str, list[LearnedReranker]] = {"learned_judgments": [], "learned_clicks": [],
                                                 "learned_clicks_uncorrected": []}
    searchers: dict[int, dict[str, Searcher]] = {}
    for fold in range(n_folds):
        started = time.perf_counter()
        train = [q for q in queries if fold_of[q.customer_id] != fold]
        test = [q for q in queries if fold_of[q.customer_id] == fold]
        examples = collect_examples(searcher, [(q.id, q.text, views[q.customer_id]) for q in train])
        logged = {q.id: runs["policy"][q.id] for q in train}
        sessions = simulate_clicks(logged, hc.qrels, seed=seed * 100 + fold, **CLICKS)
        fitted = {"learned_judgments": LearnedReranker(seed=seed).fit(examples, hc.qrels),
                  "learned_clicks": LearnedReranker(seed=seed).fit_clicks(examples, sessions),
                  "learned_clicks_uncorrected": LearnedReranker(seed=seed, propensity_eta=0.0).fit_clicks(examples, sessions)}
        searchers[fold] = {}
        for name, model in fitted.items():
            models[name].append(model)
            searchers[fold][name] = with_personalizer(searcher, learned_personalizer(hc, model))
            runs[name].update(rank_all(searchers[fold][name], test, views))
        log(f"fold {fold + 1}/{n_folds}: {len(train)} training queries, {len(examples)} personalized, "
            f"{len(sessions)} click sessions, {len(test)} held-out queries ({time.perf_counter() - started:.1f} s)")
    return runs, {"models": models, "searchers": searchers, "fold_of": fold_of}


# -- robustness ---------------------------------------------------------------------------------------------
def corruption_order(view: Any, catalog: Mapping[str, dict], rng: random.Random) -> list[tuple[str, int]]:
    """Every attribute of the view that can be dropped or made stale, in a seeded random order."""
    units: list[tuple[str, int]] = []
    for i, item in enumerate(getattr(view, "owned", ())):
        units.append(("drop", i))
        versions = list(catalog.get(item.product, {}).get("versions", ()))
        if item.version in versions and versions.index(item.version) > 0:
            units.append(("version", i))
        if item.platform:
            units.append(("platform", i))
    if getattr(view, "region", None):
        units.append(("region", -1))
    rng.shuffle(units)
    return units


def corrupt(view: Any, units: Sequence[tuple[str, int]], catalog: Mapping[str, dict], rng: random.Random) -> Any:
    """The view with ``units`` dropped or made stale (a new `ProfileView`; the original is untouched)."""
    fields = view.to_dict()
    owned = list(fields.get("owned", ()))
    dropped = set()
    for kind, i in units:
        if kind == "drop":
            dropped.add(i)
        elif kind == "version":
            versions = list(catalog[owned[i].product]["versions"])
            older = versions[:versions.index(owned[i].version)]
            owned[i] = dataclasses.replace(owned[i], version=rng.choice(older))
        elif kind == "platform":
            owned[i] = dataclasses.replace(owned[i], platform=None)
        elif kind == "region":
            fields["region"] = None
    if "owned" in fields:
        fields["owned"] = tuple(item for i, item in enumerate(owned) if i not in dropped)
    return ProfileView.of(view.purpose, **fields)


def robustness(hc: Any, searcher: Searcher, queries: Sequence[Any], views: Mapping[str, Any],
               plain: Rankings, learned: Mapping[str, Any], truth: GroundTruth, levels: Sequence[float],
               seed: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    orders = {}
    for customer_id, view in sorted(views.items()):
        if getattr(view, "personalized", False):
            rng = random.Random(f"personalization-robustness/{seed}/{customer_id}")
            orders[customer_id] = (corruption_order(view, hc.catalog, rng), rng.random())
    curve = []
    for level in levels:
        corrupted = {}
        for customer_id, view in views.items():
            if customer_id not in orders:
                corrupted[customer_id] = view
                continue
            units, salt = orders[customer_id]
            chosen = units[:round(level * len(units))]
            corrupted[customer_id] = corrupt(view, chosen, hc.catalog, random.Random(f"{salt}/{level}"))
        runs = {"unpersonalized": plain, "policy": rank_all(searcher, queries, corrupted)}
        for name in ("learned_judgments", "learned_clicks"):
            runs[name] = {}
            for fold, per in learned["searchers"].items():
                held_out = [q for q in queries if learned["fold_of"][q.customer_id] == fold]
                runs[name].update(rank_all(per[name], held_out, corrupted))
        qrels = {q.id: dict(hc.qrels[q.id]) for q in queries}
        rows = p_values(qrels, runs, "unpersonalized", 2000)
        point = {"level": level, "systems": {}}
        for name, row in rows.items():
            harm = harm_and_top3(queries, qrels, plain, runs[name], truth)
            point["systems"][name] = {"ndcg@10": row["ndcg@10"], "delta": row.get("delta", 0.0),
                                      "p_t-test": row.get("p_t-test"), "harm_rate": harm["harm_rate"],
                                      "inapplicable_top3": harm["inapplicable_top3"]}
        curve.append(point)
        log(f"robustness {level:.0%}: " + ", ".join(f"{n} {r['ndcg@10']:.3f}" for n, r in rows.items()))
    return curve


def generalization(seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The default policy on another generated help centre (BM25, every query)."""
    hc = generate_helpcentre(seed=seed)
    searcher = build_searcher(hc, "bm25", log)
    with ProfileGateway.from_helpcentre(hc, key=KEY) as gateway:
        views = {c["customer_id"]: gateway.read(c["customer_id"], "personalization", degrade=True)
                 for c in hc.customers}
    queries = list(hc.queries)
    runs = {"unpersonalized": rank_all(searcher, queries, None), "policy": rank_all(searcher, queries, views)}
    table = segment_table(hc, queries, runs, GroundTruth(hc), 2000)["overall"]
    return {"seed": seed, "mode": "bm25", **table}


# -- speed --------------------------------------------------------------------------------------------------
def synthetic_corpus(n: int, seed: int = 0) -> tuple[Corpus, dict[str, Any]]:
    """``n`` articles over about 2,000 attribute values, with help-centre text recombined from the demo."""
    rng = random.Random(f"personalization-speed/{seed}")
    demo = list(load_helpcentre().corpus)
    products = [f"prod-{i:03d}" for i in range(300)]
    platforms = ("ios", "android", "windows", "macos", "web", "linux")
    regions = tuple(f"r{i:02d}" for i in range(12))
    locales = tuple(f"l{i:02d}-XX" for i in range(40))
    audience = ("consumer", "pro", "business")
    tags = tuple(f"tag-{i:04d}" for i in range(1640))
    articles = []
    for i in range(n):
        base = demo[rng.randrange(len(demo))]
        listed = tuple(rng.sample(products, rng.choice((1, 1, 2)))) if rng.random() < 0.8 else ()
        versions = {}
        for product in listed:
            if rng.random() < 0.5:
                low = f"{rng.randrange(1, 5)}.{rng.randrange(0, 9)}"
                versions[product] = rng.choice((f">={low}", f"<{low}", f">={low},<{int(low[0]) + 1}.0"))
        articles.append(Article(
            id=f"syn-{i:06d}", title=f"{base.title} ¦ {listed[0] if listed else 'all products'}",
            body=f"{base.body} Applies to {' '.join(listed) or 'every product'}.", products=listed, versions=versions,
            platforms=tuple(rng.sample(platforms, 2)) if rng.random() < 0.2 else (),
            regions=(rng.choice(regions),) if rng.random() < 0.1 else (),
            locales=(rng.choice(locales),) if rng.random() < 0.1 else (),
            audience=(rng.choice(audience),) if rng.random() < 0.05 else (),
            kind=rng.choice(("how-to", "troubleshooting", "known-issue", "faq")),
            status=rng.choices(("active", "deprecated", "archived"), (90, 7, 3))[0],
            updated_at=dt.date(2026, 11, 1) - dt.timedelta(days=rng.randrange(1, 1500)),
            tags=tuple(rng.sample(tags, rng.randrange(2, 5)))))
    meta = {"products": products, "platforms": platforms, "regions": regions, "locales": locales,
            "audience": audience, "tags": tags, "anchors": [a.title for a in demo]}
    return Corpus(articles), meta


def synthetic_views(meta: Mapping[str, Any], n: int, seed: int = 0) -> list[ProfileView]:
    rng = random.Random(f"personalization-speed-views/{seed}")
    views = []
    for _ in range(n):
        owned = tuple(OwnedProduct(product=p, version=f"{rng.randrange(1, 5)}.{rng.randrange(0, 9)}.0",
                                   platform=rng.choice(meta["platforms"]))
                      for p in rng.sample(meta["products"], rng.randrange(1, 6)))
        usage = tuple(UsageEvent(product=owned[0].product, feature=rng.choice(meta["tags"]),
                                 timestamp=dt.datetime(2026, 10, rng.randrange(1, 28), tzinfo=dt.timezone.utc))
                      for _ in range(3))
        views.append(ProfileView.of("personalization", owned=owned, usage=usage, region=rng.choice(meta["regions"]),
                                    locale=rng.choice(meta["locales"]), segment=rng.choice(meta["audience"])))
    return views


class SyntheticDocuments:
    """A FAKE document encoder for the 100k speed corpus: each article's vector is the real vector of the demo
    article its title comes from, plus seeded noise. Queries are encoded by the real model."""

    def __init__(self, real: Any, anchors: Mapping[str, np.ndarray], noise: float = 0.35) -> None:
        self.real, self.anchors, self.noise = real, anchors, noise

    name = property(lambda self: "synthetic-documents+" + self.real.name)
    dim = property(lambda self: self.real.dim)
    fingerprint = property(lambda self: "synthetic-" + self.real.fingerprint)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.real.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            title = text.split(" ¦ ", 1)[0]
            digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            noise = np.random.default_rng(digest).standard_normal(self.dim).astype(np.float32)
            vector = self.anchors.get(title, np.zeros(self.dim, np.float32)) + self.noise * noise / np.sqrt(self.dim)
            out[i] = vector / np.linalg.norm(vector)
        return out


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _median_us(fn: Callable[[], Any], repeats: int, rounds: int = 5) -> float:
    per_round = []
    for _ in range(rounds):
        times = []
        for _ in range(repeats):
            started = time.perf_counter_ns()
            fn()
            times.append(time.perf_counter_ns() - started)
        per_round.append(statistics.median(times) / 1e3)
    return statistics.median(per_round)


def speed(hc: Any, demo_searcher: Searcher, model: LearnedReranker, n_articles: int, hybrid: bool,
          log: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    corpus, meta = synthetic_corpus(n_articles)
    log(f"speed: generated {n_articles:,} articles in {time.perf_counter() - started:.1f} s")
    queries = [q.text for q in hc.queries[:100]]
    out: dict[str, Any] = {"articles": n_articles, "load_average_1m": {"start": _load()}}
    if hybrid:
        from kbrank.index.dense import DenseIndex

        real = demo_searcher.dense_.encoder_.inner
        first = {}
        for passage, row in enumerate(demo_searcher.dense_.passages_.article_rows.tolist()):
            first.setdefault(row, passage)
        vectors = demo_searcher.dense_.faiss_index_.reconstruct_n(0, demo_searcher.dense_.n_passages)
        anchors = {hc.corpus[row].title: vectors[p] for row, p in first.items()}
        dense = DenseIndex(SyntheticDocuments(real, anchors), passage_words=10_000, passage_stride=10_000)
    else:
        dense = None
    started = time.perf_counter()
    searcher = Searcher(mode="hybrid" if hybrid else "bm25", dense=dense,
                        personalizer=Personalizer(today=hc.as_of)).build(corpus)
    app = searcher.personalizer_.applicability_
    out["build_s"] = time.perf_counter() - started
    out["attribute_values"] = int(sum(len(v) for v in app.vocab.values()))
    log(f"speed: built the {searcher.mode} searcher over {n_articles:,} articles with {out['attribute_values']:,} "
        f"attribute values in {out['build_s']:.1f} s")
    policy = searcher.personalizer_
    learned = LearnedPersonalizer(reranker=model, today=hc.as_of).fit(corpus, app)
    views = synthetic_views(meta, 40)
    rng = np.random.default_rng(0)

    def cold_plan(personalizer: Personalizer) -> float:
        times = []
        for i, view in enumerate(views):
            personalizer._cache.clear()
            started = time.perf_counter_ns()
            personalizer.plan(view, queries[i % len(queries)])
            times.append(time.perf_counter_ns() - started)
        return statistics.median(times) / 1e6

    out["plan_ms"] = {"policy": cold_plan(policy), "learned": cold_plan(learned)}
    view, query = views[0], queries[0]
    plans = {"policy": policy.plan(view, query), "learned": learned.plan(view, query)}
    out["plan_cached_us"] = {"policy": _median_us(lambda: policy.plan(view, query), 2000),
                             "learned": _median_us(lambda: learned.plan(view, query), 2000)}
    allowed = np.flatnonzero(~plans["policy"].hide)
    rows = rng.choice(allowed, 1000, replace=False)
    bm25_ranks = np.where(rng.random(1000) < 0.8, rng.permutation(1000) + 1, 0)
    dense_ranks = np.where(rng.random(1000) < 0.8, rng.permutation(1000) + 1, 0)
    pool = Candidates(rows=rows, scores=np.sort(rng.random(1000))[::-1], sources={
        "bm25": SourceScores(bm25_ranks, np.where(bm25_ranks > 0, rng.random(1000) * 20, np.nan)),
        "dense": SourceScores(dense_ranks, np.where(dense_ranks > 0, rng.random(1000), np.nan))})
    out["rerank_1000_us"] = {"policy": _median_us(lambda: policy.rerank(pool, plans["policy"], 10), 2000),
                             "learned": _median_us(lambda: learned.rerank(pool, plans["learned"], 10), 2000)}
    log(f"speed: rerank 1,000 candidates: policy {out['rerank_1000_us']['policy']:.0f} µs, "
        f"learned {out['rerank_1000_us']['learned']:.0f} µs")
    for query in queries[:3]:  # warm-up
        searcher.search(query, 10)
        searcher.search(query, 10, profile=view)
    plain_ms, personal_ms = [], []
    for query in queries:
        started = time.perf_counter_ns()
        searcher.search(query, 10)
        middle = time.perf_counter_ns()
        searcher.search(query, 10, profile=view)
        personal_ms.append((time.perf_counter_ns() - middle) / 1e6)
        plain_ms.append((middle - started) / 1e6)
    out["query_ms"] = {"mode": searcher.mode, "unpersonalized": statistics.median(plain_ms),
                       "personalized_cached_plan": statistics.median(personal_ms)}
    # The same query without its encoding (vector computed beforehand): the stricter denominator, and the
    # one least moved by other work on the machine (the encoder suffers most from it).
    retriever = searcher._retriever(searcher.mode)
    encode_ms, retrieval_ms = [], []
    for query in queries:
        started = time.perf_counter_ns()
        vector = searcher.dense_.encode_query(query) if hybrid else None
        middle = time.perf_counter_ns()
        if hybrid:
            retriever.search(query, 10, query_vector=vector)
        else:
            retriever.search(query, 10)
        retrieval_ms.append((time.perf_counter_ns() - middle) / 1e6)
        encode_ms.append((middle - started) / 1e6)
    out["query_ms"]["encode"] = statistics.median(encode_ms)
    out["query_ms"]["retrieval_without_encoding"] = statistics.median(retrieval_ms)
    demo_plain = []
    for query in queries:
        started = time.perf_counter_ns()
        demo_searcher.search(query + " ", 10)  # a new text: the demo searcher's query vectors are cached
        demo_plain.append((time.perf_counter_ns() - started) / 1e6)
    out["demo_query_ms"] = {"mode": demo_searcher.mode, "unpersonalized": statistics.median(demo_plain)}
    personal_us = {n: out["plan_cached_us"][n] + out["rerank_1000_us"][n] for n in ("policy", "learned")}
    out["personalization_us"] = personal_us
    out["load_average_1m"]["end"] = _load()
    for key, ms in (("share_of_query", out["query_ms"]["unpersonalized"]),
                    ("share_of_retrieval", out["query_ms"]["retrieval_without_encoding"]),
                    ("share_of_demo_query", out["demo_query_ms"]["unpersonalized"])):
        out[key] = {n: v / 1e3 / ms for n, v in personal_us.items()}
    return out


# -- report -------------------------------------------------------------------------------------------------
def _p(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return "< 1e-4" if value < 1e-4 else f"{value:.4f}"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def render_markdown(result: dict[str, Any]) -> str:
    cfg = result["config"]
    lines = [
        f"### Personalization benchmark (demo help centre, {cfg['mode']} retrieval)",
        "",
        f"Command: `{cfg['command']}`. Machine: {result['machine']['cpu_count']} CPUs, Python "
        f"{result['machine']['python']}. {cfg['queries']} queries from {cfg['customers']} customers "
        f"({cfg['not_consenting_queries']} queries from customers without personalization consent get the "
        f"unpersonalized ranking in every system). Learned models: {cfg['folds']}-fold cross-fitting by "
        "customer, so every figure is on customers the model never saw. p-values: paired t-test / randomization "
        f"({cfg['n_resamples']:,} sign flips) against unpersonalized.{' ' + cfg['mode_note'] if cfg['mode_note'] else ''}",
        "",
        "| segment | queries | system | nDCG@10 | Δ vs unpersonalized | p (t-test) | p (randomization) | harm rate "
        "| inapplicable in top 3 | not relevant in top 3 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for segment, block in result["segments"].items():
        for name in SYSTEMS:
            row = block["systems"][name]
            delta = "—" if name == "unpersonalized" else f"{row['delta']:+.3f}"
            lines.append(f"| {segment} | {block['queries']} | {LABELS[name]} | {row['ndcg@10']:.3f} | {delta} | "
                         f"{_p(row.get('p_t-test'))} | {_p(row.get('p_randomization'))} | {_pct(row['harm_rate'])} | "
                         f"{_pct(row['inapplicable_top3'])} | {_pct(row['not_relevant_top3'])} |")
    overall = result["segments"]["overall"]["systems"]
    ablation = overall["learned_clicks_uncorrected"]
    lines += [
        "",
        f"Ablation: clicks without position-bias correction (eta = 0): nDCG@10 {ablation['ndcg@10']:.3f}, harm "
        f"{_pct(ablation['harm_rate'])}, inapplicable in top 3 {_pct(ablation['inapplicable_top3'])}.",
        "*Inapplicable*: fails the ground truth's applicability rules for this customer (whatever the "
        "question). *Not relevant*: grade 0 for this query (includes applicable articles on another topic). "
        "Over the consenting customers' queries only (the ones personalization can change), the default "
        f"policy's shares are {_pct(overall['policy']['inapplicable_top3_consenting'])} inapplicable and "
        f"{_pct(overall['policy']['not_relevant_top3_consenting'])} not relevant; unpersonalized "
        f"{_pct(overall['unpersonalized']['inapplicable_top3_consenting'])} and "
        f"{_pct(overall['unpersonalized']['not_relevant_top3_consenting'])}.",
        "",
        "Targets (overall, default policy): " + "; ".join(
            f"{t['name']}: {t['measured']} ({'met' if t['met'] else 'missed'})" for t in result["targets"]) + ".",
        "",
        "#### Robustness: profile attributes dropped or stale (nDCG@10, harm rate)",
        "",
        "| corrupted | unpersonalized | default policy | learned (judgments) | learned (clicks, IPW) |",
        "|---|---|---|---|---|",
    ]
    for point in result["robustness"]:
        cells = [f"{point['systems'][n]['ndcg@10']:.3f}" + ("" if n == "unpersonalized" else
                 f" ({_pct(point['systems'][n]['harm_rate'])})") for n in SYSTEMS]
        lines.append(f"| {point['level']:.0%} | " + " | ".join(cells) + " |")
    gen = result.get("generalization")
    if gen:
        rows = gen["systems"]
        lines += ["", f"Generalization: on a second generated help centre (seed {gen['seed']}, bm25, {gen['queries']} "
                  f"queries) the default policy scores nDCG@10 {rows['policy']['ndcg@10']:.3f} against "
                  f"{rows['unpersonalized']['ndcg@10']:.3f} unpersonalized (p {_p(rows['policy']['p_t-test'])}), harm "
                  f"{_pct(rows['policy']['harm_rate'])}, inapplicable in top 3 {_pct(rows['policy']['inapplicable_top3'])}."]
    sp = result.get("speed") or {}
    if "rerank_1000_us" in sp:
        lines += [
            "", f"#### Speed ({sp['articles']:,} synthetic articles, {sp['attribute_values']:,} attribute values)", "",
            "| | default policy | learned |", "|---|---|---|",
            f"| plan, new profile (ms, median) | {sp['plan_ms']['policy']:.2f} | {sp['plan_ms']['learned']:.2f} |",
            f"| plan, cached (µs) | {sp['plan_cached_us']['policy']:.0f} | {sp['plan_cached_us']['learned']:.0f} |",
            f"| rerank 1,000 candidates, cached plan (µs) | {sp['rerank_1000_us']['policy']:.0f} | "
            f"{sp['rerank_1000_us']['learned']:.0f} |",
            f"| personalization per query: cached plan + rerank (µs) | {sp['personalization_us']['policy']:.0f} | "
            f"{sp['personalization_us']['learned']:.0f} |",
            f"| share of a {sp['query_ms']['mode']} query at {sp['articles']:,} articles "
            f"({sp['query_ms']['unpersonalized']:.1f} ms, of which encoding {sp['query_ms']['encode']:.1f} ms) | "
            f"{_pct(sp['share_of_query']['policy'])} | {_pct(sp['share_of_query']['learned'])} |",
            f"| share of the same query's retrieval without encoding "
            f"({sp['query_ms']['retrieval_without_encoding']:.1f} ms) | {_pct(sp['share_of_retrieval']['policy'])} | "
            f"{_pct(sp['share_of_retrieval']['learned'])} |",
            f"| share of a {sp['demo_query_ms']['mode']} query over the demo ({sp['demo_query_ms']['unpersonalized']:.1f} "
            f"ms) | {_pct(sp['share_of_demo_query']['policy'])} | {_pct(sp['share_of_demo_query']['learned'])} |",
            "",
            f"End to end at {sp['articles']:,} articles, a personalized search with a cached plan took "
            f"{sp['query_ms']['personalized_cached_plan']:.1f} ms against {sp['query_ms']['unpersonalized']:.1f} ms "
            "(medians over 100 demo queries, query encoding included; the personalized one also retrieves 100 "
            f"candidates instead of 10). Load average (1 min) at start / end: {sp['load_average_1m']['start']} / "
            f"{sp['load_average_1m']['end']} on {result['machine']['cpu_count']} CPUs: other work on the machine "
            "slows the query encoder most, which is why the share of the retrieval alone is reported too.",
        ]
    elif sp:
        lines += ["", f"Speed: {sp.get('skipped', 'not measured')}."]
    coefs = result["learned"]["coefficients"]
    top = sorted(coefs["learned_judgments"], key=lambda n: -abs(coefs["learned_judgments"][n]))[:10]
    lines += ["", "Largest learned coefficients (standardized units, mean over folds; judgments / clicks): "
              + ", ".join(f"{n} {coefs['learned_judgments'][n]:+.2f} / {coefs['learned_clicks'].get(n, 0.0):+.2f}"
                          for n in top) + ".", ""]
    return "\n".join(lines)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    row = result["segments"]["overall"]["systems"]["policy"]
    n = result["segments"]["overall"]["queries"]
    out = [
        {"name": "nDCG@10 gain ≥ 0.15", "measured": f"{row['delta']:+.3f}", "met": row["delta"] >= TARGETS["ndcg_gain"]},
        {"name": "p < 0.01", "measured": f"t-test {_p(row['p_t-test'])}, randomization {_p(row['p_randomization'])}",
         "met": max(row["p_t-test"], row["p_randomization"]) < TARGETS["p_value"]},
        {"name": "harm rate ≤ 1%", "measured": f"{100 * row['harm_rate']:.2f}% ({round(row['harm_rate'] * n)} of {n} "
                                                 "queries)", "met": row["harm_rate"] <= TARGETS["harm_rate"]},
        {"name": "inapplicable in top 3 ≤ 2%", "measured": f"{_pct(row['inapplicable_top3'])} over all queries, "
                                                        f"{_pct(row['inapplicable_top3_consenting'])} over consenting "
                                                        "customers' queries",
         "met": row["inapplicable_top3"] <= TARGETS["inapplicable_top3"]},
        {"name": "not relevant (grade 0) in top 3 ≤ 2%", "measured": _pct(row["not_relevant_top3"]),
         "met": row["not_relevant_top3"] <= TARGETS["inapplicable_top3"]},
    ]
    worst = min(p["systems"]["policy"]["delta"] for p in result["robustness"])
    out.append({"name": "corrupted profiles no worse than unpersonalized", "measured": f"worst Δ {worst:+.3f}",
                "met": worst >= 0})
    sp = result.get("speed") or {}
    if "rerank_1000_us" in sp:
        out.append({"name": "rerank ≤ 100 µs", "measured": f"{sp['rerank_1000_us']['policy']:.0f} µs",
                    "met": sp["rerank_1000_us"]["policy"] <= TARGETS["rerank_us"]})
        worst = max(sp["share_of_query"]["policy"], sp["share_of_retrieval"]["policy"])
        out.append({"name": "personalization < 2% of a hybrid query",
                    "measured": f"{_pct(sp['share_of_query']['policy'])} of the query, "
                                f"{_pct(sp['share_of_retrieval']['policy'])} of its retrieval without encoding",
                    "met": worst < TARGETS["personalization_share"]})
    return out


def update_readme(path: Path, markdown: str) -> bool:
    """Replace the personalization section of README.md (see `_readme.update_readme`)."""
    from _readme import update_readme as splice

    return splice("personalization", markdown, path)


# -- driver -------------------------------------------------------------------------------------------------
def run(*, mode: str = "auto", quick: bool = False, customers: int | None = None, folds: int = 5, seed: int = 0,
        n_resamples: int = 10_000, levels: Sequence[float] = LEVELS, speed_articles: int | None = 100_000,
        generalization_seed: int | None = 1, command: str = "", log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure everything and return the result (what ``personalization.json`` holds)."""
    note = ""
    if mode == "auto":
        why = dense_available()
        mode = "hybrid" if why is None else "bm25"
        note = "" if why is None else f"Dense retrieval unavailable ({why}), so BM25 only."
    hc = load_helpcentre()
    chosen = hc.customers if customers is None else hc.customers[:customers]
    ids = {c["customer_id"] for c in chosen}
    queries = [q for q in hc.queries if q.customer_id in ids]
    with ProfileGateway.from_helpcentre(hc, key=KEY) as gateway:
        views = {c["customer_id"]: gateway.read(c["customer_id"], "personalization", degrade=True) for c in chosen}
    searcher = build_searcher(hc, mode, log)
    truth = GroundTruth(hc)
    started = time.perf_counter()
    runs, learned = effectiveness(hc, searcher, queries, views, folds, seed, log)
    log(f"effectiveness runs in {time.perf_counter() - started:.1f} s")
    segments = segment_table(hc, queries, runs, truth, n_resamples)
    coefficients = {name: {n: float(np.mean([m.coefficients()[n] for m in models]))
                           for n in models[0].feature_names_} for name, models in learned["models"].items()}
    curve = robustness(hc, searcher, queries, views, runs["unpersonalized"], learned, truth, levels, seed, log)
    result: dict[str, Any] = {
        "config": {"command": command, "mode": mode, "mode_note": note, "quick": quick, "queries": len(queries),
                   "customers": len(chosen), "folds": folds, "seed": seed, "n_resamples": n_resamples,
                   "not_consenting_queries": sum(not views[q.customer_id].personalized for q in queries),
                   "clicks": {k: list(v) if isinstance(v, tuple) else v for k, v in CLICKS.items()},
                   "policy": [dataclasses.asdict(r) for r in default_policy().rules]},
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "numpy": np.__version__, "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
        "segments": segments,
        "learned": {"coefficients": coefficients, "training": {n: [m.training_ for m in ms]
                                                                for n, ms in learned["models"].items()}},
        "robustness": curve,
    }
    result["generalization"] = generalization(generalization_seed, log) if generalization_seed is not None else None
    if speed_articles and not quick:
        result["speed"] = speed(hc, searcher, learned["models"]["learned_judgments"][0], speed_articles,
                                mode == "hybrid", log)
    else:
        result["speed"] = {"skipped": "quick mode" if quick else "not requested"}
    result["targets"] = targets(result)
    return result


def write(result: dict[str, Any], out: Path, readme: Path | None = README) -> str:
    out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(result)
    (out / "personalization.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    (out / "personalization.md").write_text(markdown)
    if readme is not None:
        update_readme(readme, markdown)
    return markdown


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("auto", "bm25", "hybrid"), default="auto")
    parser.add_argument("--quick", action="store_true", help="bm25, 80 customers, 2 folds, no speed or seed-1 check")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--speed-articles", type=int, default=100_000)
    args = parser.parse_args(argv)
    command = "python benchmarks/personalization.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    if args.quick:
        result = run(mode="bm25" if args.mode == "auto" else args.mode, quick=True, customers=80, folds=2,
                     n_resamples=2000, levels=(0.0, 0.3, 0.5), generalization_seed=None, command=command)
    else:
        result = run(mode=args.mode, folds=args.folds, speed_articles=args.speed_articles, command=command)
    print(write(result, args.out, README if not args.quick else None))


if __name__ == "__main__":
    main()
