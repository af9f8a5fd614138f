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
   (article vectors go through kbrank's embedding cache, ``default_embedding_cache_dir()``; each query is encoded once
   and its vector reused by every system), else BM25. The table names the mode.
3. Systems, all ranked by `kbrank.evaluation.run_queries` (``Searcher.search(text, 10, profile=view)``):
   *unpersonalized* (no profile), *policy* (`default_policy`), *learned (judgments)* and *learned (clicks,
   IPW)* (`LearnedPersonalizer` over the same indexes, `Searcher.with_personalizer`; hides from the policy,
   scores from a `LearnedReranker`). The learned models are cross-fitted over 5 folds of customers
   (stratified by segment, seeded): each query is ranked by a model that never saw its customer, so every
   figure, for every system, is over the same held-out queries. Click logs are simulated on the training
   customers from the policy's top 10 (the ranking production would have shown) with a position-based click
   model, 10 sessions per query (`kbrank.evaluation.simulate_clicks`: examination (1/rank)^1, click
   probability 0.05 / 0.5 / 0.9 by grade, "solved it" 0 / 0.3 / 0.7); the clicks model corrects with
   propensity max((1/rank)^1, 0.1). An uncorrected clicks model (eta = 0) is in the JSON as an ablation.
4. Metrics (``_personalization_eval.py``), per segment (consumer, pro, business) and overall: nDCG@10
   (trec_eval's) and its difference from unpersonalized with paired p-values (`compare`, t-test and
   randomization with 10,000 sign flips); *harm rate* (`harm_at_k`, k=10: a relevant article of the
   unpersonalized top 10 hidden or pushed out of the personalized top 10); *inapplicable in top 3*
   (`inapplicable_at_k`, k=3, pooled over queries: the article does not apply to the customer by the
   ground truth, `HelpCentre.relevance` asked about the article's own intent); *not relevant in top 3* (the
   same share for grade 0). The ground truth is read here, by the evaluation, never by kbrank.
5. Robustness: each consenting customer's attributes (each owned item, its version, its platform, the
   region) are put in a seeded random order; at level x the first round(x * n) are corrupted (item
   dropped, version set to an older release of that product, platform set to unknown, region dropped), so
   a higher level corrupts a superset. Relevance stays that of the true profile.
6. Generalization: the policy on a second generated help centre (``seed=1``: other articles, customers and
   queries), BM25, all queries: the default weights were chosen on seed 0.
7. Speed (skipped with ``--quick``; ``_personalization_speed.py``): plan and rerank costs over a synthetic
   corpus of 100,000 articles, and their share of a hybrid query over it, of its retrieval alone, and of a
   hybrid query over the demo.

Writes ``personalization.json`` and ``personalization.md`` to ``--out`` (default ``benchmarks/results``), and
the markdown into README.md between ``<!-- personalization:start -->`` and ``<!-- personalization:end -->``
when both markers exist.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules beside this script

from _personalization_eval import (  # noqa: E402,F401
    SEGMENTS,
    QueryVectorCache,
    customer_folds,
    inapplicable_oracle,
    rank,
    robustness,
    segment_table,
)
from _personalization_report import ABLATIONS, SYSTEMS, render_markdown, targets, update_readme  # noqa: E402,F401

from kbrank.datasets import generate_helpcentre, load_helpcentre  # noqa: E402
from kbrank.evaluation import simulate_clicks  # noqa: E402
from kbrank.index.embedding_cache import default_embedding_cache_dir  # noqa: E402
from kbrank.personalize import (  # noqa: E402
    LearnedPersonalizer,
    LearnedReranker,
    Personalizer,
    collect_examples,
    default_policy,  # noqa: E402
)
from kbrank.privacy import ProfileGateway  # noqa: E402
from kbrank.searcher import Searcher  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = default_embedding_cache_dir()
README = REPO / "README.md"
KEY = "benchmark-key-0123456789abcdef-0123"
LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
CLICKS = {"sessions_per_query": 10, "eta": 1.0, "click_probability": (0.05, 0.5, 0.9),
          "solve_probability": (0.0, 0.3, 0.7)}


# -- setup --------------------------------------------------------------------------------------------------
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
        from kbrank.index import DenseIndex, SentenceTransformerEncoder

        dense = DenseIndex(QueryVectorCache(SentenceTransformerEncoder()), cache_dir=CACHE_DIR)
    started = time.perf_counter()
    searcher = Searcher(mode=mode, dense=dense, personalizer=personalizer).build(hc.corpus)
    log(f"built the {mode} searcher in {time.perf_counter() - started:.1f} s")
    return searcher


def views_of(hc: Any, customers: Sequence[dict]) -> dict[str, Any]:
    """Each customer's personalization view, through the privacy gate (no consent: an unpersonalized view)."""
    with ProfileGateway.from_helpcentre(hc, key=KEY) as gateway:
        return {c["customer_id"]: gateway.read(c["customer_id"], "personalization", degrade=True) for c in customers}


# -- the systems --------------------------------------------------------------------------------------------
def effectiveness(hc: Any, searcher: Searcher, queries: Sequence[Any], views: Mapping[str, Any],
                  n_folds: int, seed: int, log: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rankings of every system for every query (learned ones cross-fitted by customer), and the models."""
    runs: dict[str, Any] = {"unpersonalized": rank(searcher, queries, None), "policy": rank(searcher, queries, views)}
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
        sessions = simulate_clicks({q.id: runs["policy"][q.id] for q in train}, hc.qrels, seed=seed * 100 + fold,
                                   **CLICKS)
        fitted = {"learned_judgments": LearnedReranker(seed=seed).fit(examples, hc.qrels),
                  "learned_clicks": LearnedReranker(seed=seed).fit_clicks(examples, sessions),
                  "learned_clicks_uncorrected": LearnedReranker(seed=seed, propensity_eta=0.0).fit_clicks(examples, sessions)}
        searchers[fold] = {}
        for name, model in fitted.items():
            models[name].append(model)
            searchers[fold][name] = searcher.with_personalizer(
                LearnedPersonalizer(reranker=model, today=hc.as_of, product_aliases=aliases(hc)))
            runs[name].update(rank(searchers[fold][name], test, views))
        log(f"fold {fold + 1}/{n_folds}: {len(train)} training queries, {len(examples)} personalized, "
            f"{len(sessions)} click sessions, {len(test)} held-out queries ({time.perf_counter() - started:.1f} s)")
    return runs, {"models": models, "searchers": searchers, "fold_of": fold_of}


def generalization(seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The default policy on another generated help centre (BM25, every query)."""
    hc = generate_helpcentre(seed=seed)
    searcher = build_searcher(hc, "bm25", log)
    views = views_of(hc, hc.customers)
    queries = list(hc.queries)
    runs = {"unpersonalized": rank(searcher, queries, None), "policy": rank(searcher, queries, views)}
    table = segment_table(hc, queries, runs, inapplicable_oracle(hc, queries), 2000)["overall"]
    return {"seed": seed, "mode": "bm25", **table}


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
    views = views_of(hc, chosen)
    searcher = build_searcher(hc, mode, log)
    oracle = inapplicable_oracle(hc, queries)
    started = time.perf_counter()
    runs, learned = effectiveness(hc, searcher, queries, views, folds, seed, log)
    log(f"effectiveness runs in {time.perf_counter() - started:.1f} s")
    segments = segment_table(hc, queries, runs, oracle, n_resamples)
    coefficients = {name: {n: float(np.mean([m.coefficients()[n] for m in models]))
                           for n in models[0].feature_names_} for name, models in learned["models"].items()}
    curve = robustness(hc, searcher, queries, views, runs["unpersonalized"], learned, oracle, levels, seed, log)
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
        from _personalization_speed import speed

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
