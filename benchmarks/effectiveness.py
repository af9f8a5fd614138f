"""Retrieval effectiveness of kbrank's three modes (bm25, dense, hybrid) on BEIR SciFact and NFCorpus.

    python benchmarks/effectiveness.py                  # tune fusion on the dev splits, then report the test splits
    python benchmarks/effectiveness.py --skip-tuning    # only the test-split table with the pinned settings

Method:

1. Data: ``../shared/data/beir/<name>`` (see ``shared/data/SOURCES.md``), read by `kbrank.datasets.load_beir`;
   the queries of a split are those in its qrels file. Dev splits (used for tuning, never the test split):
   SciFact ``train`` (809 queries), NFCorpus ``dev`` (324). Final figures: the ``test`` splits (300 and 323).
2. Indexes (settings in ``BM25_PARAMS`` and ``DENSE_PARAMS`` of ``_effectiveness_settings.py``, pinned so the
   published table does not move when a library default changes; the report notes any difference from the
   library defaults): `BM25Index` (kbrank's Analyzer: English stopwords + Snowball stemming; rank_bm25's
   k1=1.5, b=0.75 over ``title + " " + text``) and `DenseIndex` (all-MiniLM-L6-v2, exact faiss search over
   passages of 128 words starting every 96, the library default; an article scores as its best passage). Passage vectors go
   through kbrank's embedding cache (``default_embedding_cache_dir()``: ``$KBRANK_CACHE_DIR`` or ``~/.cache/kbrank``), so a re-run encodes nothing.
3. Retrieval: every query once per source, `kbrank.evaluation.SourceRuns.retrieve` (1000 deep when tuning);
   each mode and each hybrid setting is then scored from those stored candidates: `SourceRuns.top` is what
   the index's ``search(query, k)`` returns, `SourceRuns.fused` what `HybridRetriever.search` returns (each
   source cut to ``max(depth, k)``, fused, best ``k`` kept), so tuning re-runs neither retrieval nor encoding.
4. Metrics (trec_eval definitions, `kbrank.evaluation.evaluate`): nDCG@10 of a k=10 search; recall@100 and
   MAP@100 of a k=100 search (a ``Searcher.search(query, k)`` call gives exactly these rankings). Runs are
   built with `Run.from_rankings`, which stores ranks, not raw scores (score = k + 1 - rank), so the
   evaluation sees kbrank's own order, ties included (trec_eval would otherwise re-break score ties by doc id;
   NFCorpus has duplicate documents). Every query of the qrels counts (a query with no candidates scores 0).
5. Tuning (``--skip-tuning`` leaves it out; ``_effectiveness_tuning.py``): a grid over the fusion method (RRF
   constant; weighted sum's dense weight and normalization) and the depth per source, scored by dev nDCG@10,
   with a rule fixed before looking at any test figure (maximize the smaller of the two dev gains over the
   better single mode, ties by the mean gain). The chosen setting is ``HYBRID``; the report says whether the
   grid still agrees with it. Every passage setting in ``PASSAGE_SETTINGS`` is scored on the dev splits too
   ("whole document", one truncated vector per article, is how BEIR/MTEB encode); ``DENSE_PASSAGES`` says
   which one is pinned and why. BM25 parameters are compared on the dev splits as evidence.

Writes ``effectiveness.json`` (every figure, the grid, timings, versions) and ``effectiveness.md`` to ``--out``
(default ``benchmarks/results``), and the markdown table into README.md between ``<!-- effectiveness:start -->``
and ``<!-- effectiveness:end -->`` when both markers exist. Expected figures and tolerances live in
``benchmarks/expected_effectiveness.yaml``; ``tests/benchmarks/test_effectiveness.py`` recomputes the test
figures with `measure` and checks them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules beside this script

from _effectiveness_report import render_markdown, rounded, update_readme, versions  # noqa: E402
from _effectiveness_settings import (  # noqa: E402,F401
    BEIR_DIR,
    BM25_PARAMS,
    CACHE_DIR,
    DATASETS,
    DENSE_PARAMS,
    DENSE_PASSAGES,
    HYBRID,
    METRICS,
    MODES,
    PUBLISHED,
    PUBLISHED_DENSE_PARAMS,
    PUBLISHED_PASSAGES,
    REPO,
    brief,
    build_bm25,
    build_dense,
    default_encoder,
    encode_queries,
    load,
    log,
    mode_figures,
    source_figures,
)

from kbrank.evaluation import SourceRuns  # noqa: E402

README = REPO / "README.md"
#: The stored candidates' views that `measure`'s callers cross-check against live searches.
single, hybrid = SourceRuns.top, SourceRuns.fused


def measure(beir_dir: str | os.PathLike[str] = BEIR_DIR, datasets: Sequence[str] = tuple(DATASETS), *,
            cache_dir: str | os.PathLike[str] | None = CACHE_DIR, encoder: Any = None,
            hybrid_setting: Mapping[str, Any] = HYBRID) -> dict[str, Any]:
    """Test-split figures of every mode with the pinned settings: ``{dataset: {mode: {metric: value}}}``.

    Also ``"_timings"`` (seconds per data set) and ``"_state"`` (per data set: corpus, test queries, both
    indexes and the stored candidates, a `SourceRuns`) for callers that cross-check against live searches.
    """
    encoder = encoder if encoder is not None else default_encoder()
    out: dict[str, Any] = {"_timings": {}, "_state": {}}
    depth = max(int(hybrid_setting["depth"]), max(METRICS.values()))
    for name in datasets:
        started = time.perf_counter()
        data = load(beir_dir, name, "test")
        bm25 = build_bm25(data.corpus)
        dense = build_dense(data.corpus, encoder=encoder, cache_dir=cache_dir, label=name)
        per_source = SourceRuns.retrieve(bm25, dense, data.queries, depth,
                                         query_vectors=encode_queries(dense, data.queries))
        out[name] = mode_figures(data.qrels, per_source, hybrid_setting)
        whole = build_dense(data.corpus, params=PUBLISHED_DENSE_PARAMS, encoder=encoder, cache_dir=cache_dir,
                            label=f"{name} (published protocol)")
        out[name]["dense-published"] = _dense_alone(whole, data, encode_queries(whole, data.queries))
        out["_timings"][name] = time.perf_counter() - started
        out["_state"][name] = {"corpus": data.corpus, "queries": data.queries, "bm25": bm25, "dense": dense,
                               "per_source": per_source}
        log.info("%s test: %s (%.0f s)", name, brief(out[name]), out["_timings"][name])
    return out


def final_figures(states: Mapping[str, Any], beir_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The test figures from the indexes the tuning built, and dense alone for every passage setting (reported
    only: the setting was chosen on the dev splits)."""
    test, passages = {}, {}
    for name, state in states.items():
        data = load(beir_dir, name, "test", corpus=state["data"].corpus)
        vectors = encode_queries(state["dense"], data.queries)
        per_source = SourceRuns.retrieve(state["bm25"], state["dense"], data.queries, max(HYBRID["depth"], 100),
                                         query_vectors=vectors)
        test[name] = mode_figures(data.qrels, per_source)
        passages[name] = {label: _dense_alone(index, data, vectors) for label, index in state["denses"].items()}
        test[name]["dense-published"] = passages[name][PUBLISHED_PASSAGES]
        log.info("%s test: %s", name, brief(test[name]))
    return test, passages


def _dense_alone(index: Any, data: Any, vectors: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of one dense index alone on a split (``vectors``: each query's, encoded once)."""
    alone = SourceRuns({q: {"dense": index.search(vectors[q], 100)} for q in data.queries}, depth=100,
                       ids=data.corpus.ids)
    return source_figures(data.qrels, alone, "dense")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beir-dir", type=Path, default=BEIR_DIR)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--no-cache", action="store_true", help="encode everything (no embedding cache)")
    parser.add_argument("--skip-tuning", action="store_true", help="only the test figures with the pinned settings")
    parser.add_argument("--no-readme", action="store_true", help="do not touch README.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log.setLevel(logging.INFO)
    from _effectiveness_tuning import library_drift, tune

    cache_dir = None if args.no_cache else args.cache_dir
    started = time.perf_counter()
    encoder = default_encoder()
    result: dict[str, Any] = {
        "config": {"bm25": BM25_PARAMS, "dense": {**DENSE_PARAMS, "model": "sentence-transformers/all-MiniLM-L6-v2"},
                   "dense_passages": DENSE_PASSAGES,
                   "hybrid": HYBRID, "metrics": METRICS, "splits": DATASETS, "run_scores": "k + 1 - rank"},
        "published": PUBLISHED,
        "library_drift": library_drift(),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "versions": versions()},
    }
    if args.skip_tuning:
        measured = measure(args.beir_dir, cache_dir=cache_dir, encoder=encoder)
        result["test"] = {n: measured[n] for n in DATASETS}
    else:
        result["tuning"], states = tune(args.beir_dir, cache_dir, encoder)
        result["test"], result["test_passages"] = final_figures(states, args.beir_dir)
    result["seconds"] = time.perf_counter() - started
    result = rounded(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "effectiveness.json").write_text(json.dumps(result, indent=1) + "\n")
    markdown = render_markdown(result)
    (args.out / "effectiveness.md").write_text(markdown)
    if not args.no_readme:
        updated = update_readme(README, render_markdown(result, details=False))
        log.info("README.md %s", "updated" if updated else "has no effectiveness markers; left alone")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
