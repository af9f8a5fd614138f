"""The personalization benchmark's speed section.

A synthetic corpus of 100,000 articles over about 2,000 attribute values (products with version ranges,
platforms, regions, locales, audiences, tags); ``Personalizer.plan`` for a new profile and for a cached one,
a new customer's first plan on a personalizer that has served others (`new_customer_plan_ms`: its
per-value columns are cached), and ``rerank`` of 1,000 candidates with a cached plan (policy and learned), medians over repeated calls; the
ratio of personalization time (cached plan + rerank) to a hybrid query over the same 100k articles, to that
query's retrieval without the encoding (the stricter ratio, and the one least moved by other load on the
machine), and to a hybrid query over the demo. Queries are encoded by the real model; the article vectors
come from a FAKE document encoder (`_synthetic.SyntheticDocumentVectors`: real demo vectors plus seeded noise), since encoding
100k articles takes over 20 minutes on 2 cores.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from _synthetic import SyntheticDocumentVectors

from kbrank import Article, Corpus
from kbrank.candidates import Candidates, SourceScores
from kbrank.datasets import load_helpcentre
from kbrank.personalize import LearnedPersonalizer, LearnedReranker, Personalizer
from kbrank.privacy import OwnedProduct, ProfileView, UsageEvent
from kbrank.retrieval.hybrid import HybridRetriever
from kbrank.searcher import Searcher


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


def title_of(text: str) -> str:
    """The anchor of a speed-corpus article: its title, which is its source demo article's title."""
    return text.split(" ¦ ", 1)[0]


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


def new_customer_plan_ms(personalizer: Personalizer, views: Sequence[Any], queries: Sequence[str],
                         rounds: int = 3) -> float:
    """Median ms of a customer's first plan on a personalizer that has served other customers: the plan cache
    is emptied before each view, the per-value column cache (`kbrank.personalize.columns`) is kept warm."""
    for i, view in enumerate(views):  # warm-up: every view's columns once
        personalizer.plan(view, queries[i % len(queries)])
    times = []
    for _ in range(rounds):
        for i, view in enumerate(views):
            personalizer.cache_.clear()
            started = time.perf_counter_ns()
            personalizer.plan(view, queries[i % len(queries)])
            times.append(time.perf_counter_ns() - started)
    return statistics.median(times) / 1e6


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
        dense = DenseIndex(SyntheticDocumentVectors(real, anchors, key=title_of), passage_words=10_000, passage_stride=10_000)
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

    def cold_plan(make: Callable[[], Personalizer]) -> float:
        """A plan for a profile the personalizer has not seen: a fresh one per view (so at most two plans of
        100k articles are held), warmed up on another view first (per-date state such as article ages)."""
        times = []
        for i, view in enumerate(views):
            personalizer = make()
            personalizer.plan(views[i - 1], queries[(i + 1) % len(queries)])
            started = time.perf_counter_ns()
            personalizer.plan(view, queries[i % len(queries)])
            times.append(time.perf_counter_ns() - started)
        return statistics.median(times) / 1e6

    out["plan_ms"] = {"policy": cold_plan(lambda: Personalizer(today=hc.as_of).fit(corpus, app)),
                      "learned": cold_plan(lambda: LearnedPersonalizer(reranker=model, today=hc.as_of).fit(corpus, app)),
                      "policy_new_customer": new_customer_plan_ms(Personalizer(today=hc.as_of).fit(corpus, app),
                                                                  views, queries)}
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
    out["rerank_1000_us"] = {"policy": _median_us(lambda: policy.rerank(pool, plans["policy"], 10, view), 400),
                             "learned": _median_us(lambda: learned.rerank(pool, plans["learned"], 10, view), 400)}
    # What a search does per query: rerank the pool (the searcher's rerank_depth, 100) and explain the top 10.
    pool_100 = Candidates(rows=pool.rows[:100], scores=pool.scores[:100],
                          sources={n: SourceScores(s.ranks[:100], s.scores[:100]) for n, s in pool.sources.items()})
    out["rerank_explain_100_us"] = {
        "policy": _median_us(lambda: policy.rerank_and_explain(pool_100, plans["policy"], 10, view), 500),
        "learned": _median_us(lambda: learned.rerank_and_explain(pool_100, plans["learned"], 10, view), 500)}
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
    retriever = searcher.bm25_ if not hybrid else HybridRetriever(
        searcher.bm25_, searcher.dense_, fusion=searcher.fusion, depth=searcher.depth,
        fusion_params=searcher.fusion_params)
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
