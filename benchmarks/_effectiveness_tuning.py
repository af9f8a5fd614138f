"""Dev-split evidence for the effectiveness benchmark's pinned settings: the passage setting, BM25's
parameters and the fusion grid (SciFact train, NFCorpus dev; the test splits are never looked at here).

The hybrid rule, fixed before looking at any test figure: maximize the *smaller* of the two dev gains over the
better single mode of that data set (one setting that works on both), ties broken by the mean gain. Every
passage setting of ``PASSAGE_SETTINGS`` is scored too, dense alone and with its own best fusion setting.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Mapping

from _effectiveness_settings import (
    BM25_PARAMS,
    DATASETS,
    DENSE_PARAMS,
    DENSE_PASSAGES,
    HYBRID,
    PASSAGE_SETTINGS,
    build_bm25,
    build_dense,
    encode_queries,
    hybrid_figures,
    load,
    log,
    same_setting,
    setting_label,
    source_figures,
)

from kbrank import BM25Index
from kbrank.evaluation import SourceRuns

#: Tuning grid. Depths below 100 matter only for k=10 searches (a k=100 search always takes 100 per source).
TUNE_DEPTHS = (20, 50, 100, 200, 500, 1000)
RRF_CONSTANTS = (1, 5, 10, 20, 30, 40, 60, 80, 100, 150, 200)
DENSE_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
NORMS = ("minmax", "zscore")
BM25_GRID = ((1.5, 0.75), (1.2, 0.75), (0.9, 0.4))
TUNE_RETRIEVAL_DEPTH = max(TUNE_DEPTHS)
RULE = ("maximize min over data sets of (dev nDCG@10 of hybrid - dev nDCG@10 of the better single mode), ties by "
        "mean gain")
PASSAGE_RULE = ("judged on dense alone (dev nDCG@10; a setting best on both sets wins), the dense index's own "
                "quality; hybrid dev nDCG@10 is reported with each setting's best fusion, and it does not order the "
                "settings the same way on the two sets (see DENSE_PASSAGES in the script)")


def hybrid_grid() -> list[dict[str, Any]]:
    settings = []
    for depth in TUNE_DEPTHS:
        for constant in RRF_CONSTANTS:
            settings.append({"fusion": "rrf", "fusion_params": {"constant": constant}, "depth": depth})
        for norm in NORMS:
            for weight in DENSE_WEIGHTS:
                params = {"weights": {"bm25": round(1 - weight, 2), "dense": weight}, "norm": norm}
                settings.append({"fusion": "weighted", "fusion_params": params, "depth": depth})
    return settings


def tune_hybrid(dev: Mapping[str, tuple[Any, SourceRuns]], best_single: Mapping[str, float]) -> list[dict[str, Any]]:
    """Score every grid setting on each dev split; rows sorted by the selection rule, best first."""
    rows = []
    for setting in hybrid_grid():
        row: dict[str, Any] = {"setting": setting, "label": setting_label(setting), "dev": {}, "gain": {}}
        for name, (qrels, runs) in dev.items():
            row["dev"][name] = hybrid_figures(qrels, runs, setting, ("ndcg@10",))
            row["gain"][name] = row["dev"][name]["ndcg@10"] - best_single[name]
        row["min_gain"] = min(row["gain"].values())
        row["mean_gain"] = sum(row["gain"].values()) / len(row["gain"])
        rows.append(row)
    rows.sort(key=lambda r: (-round(r["min_gain"], 6), -round(r["mean_gain"], 6), r["label"]))
    return rows


def searcher_default() -> dict[str, Any]:
    """`Searcher()`'s own hybrid setting, spelled like a grid setting (for comparison in the report)."""
    from kbrank.retrieval.fusion import FUSION
    from kbrank.searcher import Searcher

    searcher = Searcher()
    params = dict(searcher.fusion_params or {})  # None: the method's own defaults, filled in below
    for name, parameter in inspect.signature(FUSION[searcher.fusion]).parameters.items():
        if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is not None:
            default = parameter.default
            params.setdefault(name, int(default) if isinstance(default, float) and default.is_integer() else default)
    return {"fusion": searcher.fusion, "fusion_params": params, "depth": searcher.depth}


def library_drift() -> list[str]:
    """Where the pinned settings differ from kbrank's current defaults (`DenseIndex`, `BM25Index`, `Searcher`)."""
    from kbrank.index import DenseIndex

    out = []
    for label, defaults, pinned in (("DenseIndex", DenseIndex().get_params(), DENSE_PARAMS),
                                    ("BM25Index", BM25Index().get_params(), BM25_PARAMS)):
        out += [f"{label} {key}={defaults.get(key)!r} (here {value!r})" for key, value in pinned.items()
                if defaults.get(key) != value]
    default = searcher_default()
    if not same_setting(default, HYBRID):
        out.append(f"Searcher() fuses with {setting_label(default)} (here {setting_label(HYBRID)})")
    return out


def _grid_row(rows: list[dict[str, Any]], setting: Mapping[str, Any]) -> dict[str, Any] | None:
    return next((r for r in rows if same_setting(r["setting"], setting)), None)


def tune(beir_dir: Path, cache_dir: Path | None, encoder: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Dev-split evidence: passage setting, BM25 parameters, fusion grid.

    Returns (tuning report, {dataset: state}) so that the test figures reuse the indexes built here.
    """
    report: dict[str, Any] = {"rule": RULE, "passage_rule": PASSAGE_RULE,
                              "splits": {n: s["dev"] for n, s in DATASETS.items()},
                              "single": {}, "bm25_params": {}, "dense_passages": {}}
    dev: dict[str, dict[str, tuple[Any, SourceRuns]]] = {label: {} for label in PASSAGE_SETTINGS}
    best_single: dict[str, dict[str, float]] = {label: {} for label in PASSAGE_SETTINGS}
    states: dict[str, Any] = {}
    for name in DATASETS:
        data = load(beir_dir, name, "dev")
        qrels, queries = data.qrels, data.queries
        log.info("%s: %d articles, %d dev queries", name, len(data.corpus), len(queries))
        bm25 = build_bm25(data.corpus)
        denses = {label: build_dense(data.corpus, params={"index_type": "flat", **params}, encoder=encoder,
                                     cache_dir=cache_dir, label=f"{name} {label}")
                  for label, params in PASSAGE_SETTINGS.items()}
        dense = denses[DENSE_PASSAGES]
        vectors = encode_queries(dense, queries)  # the same encoder for every passage setting
        report["dense_passages"][name] = {}
        for label, index in denses.items():  # every passage setting, for the passage choice and its fusion grid
            runs = SourceRuns.retrieve(bm25, index, queries, TUNE_RETRIEVAL_DEPTH, query_vectors=vectors)
            dev[label][name] = (qrels, runs)
            figures = {mode: source_figures(qrels, runs, mode) for mode in ("bm25", "dense")}
            best_single[label][name] = max(f["ndcg@10"] for f in figures.values())
            report["dense_passages"][name][label] = {**figures["dense"], "passages": index.n_passages}
            if label == DENSE_PASSAGES:
                report["single"][name] = figures
            log.info("%s dev: bm25 %.4f, dense %s %.4f", name, figures["bm25"]["ndcg@10"], label,
                     figures["dense"]["ndcg@10"])

        # BM25 parameters on the dev split (evidence only; see the report)
        for k1, b in BM25_GRID:
            other = bm25 if (k1, b) == (BM25_PARAMS["k1"], BM25_PARAMS["b"]) else build_bm25(data.corpus, {"k1": k1, "b": b})
            found = dict(zip(queries, other.search_batch(list(queries.values()), 100)))
            runs = SourceRuns({q: {"bm25": c} for q, c in found.items()}, depth=100, ids=data.corpus.ids)
            report["bm25_params"].setdefault(name, {})[f"k1={k1} b={b}"] = source_figures(qrels, runs, "bm25")
        states[name] = {"data": data, "bm25": bm25, "dense": dense, "denses": denses}

    means = {label: sum(report["dense_passages"][n][label]["ndcg@10"] for n in DATASETS) / len(DATASETS)
             for label in PASSAGE_SETTINGS}
    report["passage_mean_ndcg"] = means
    report["passage_best_dense"] = max(means, key=means.get)

    report["hybrid_by_passages"] = {}
    for label in PASSAGE_SETTINGS:
        rows = tune_hybrid(dev[label], best_single[label])
        report["hybrid_by_passages"][label] = {"best": rows[0]["label"], "dev": rows[0]["dev"], "gain": rows[0]["gain"],
                                               "min_gain": rows[0]["min_gain"],
                                               "passages": {n: report["dense_passages"][n][label]["passages"]
                                                            for n in DATASETS}}
        if label == DENSE_PASSAGES:
            chosen_rows = rows
    rows = chosen_rows
    report["best_single"] = best_single[DENSE_PASSAGES]
    report["grid"] = [{k: r[k] for k in ("label", "setting", "dev", "gain", "min_gain", "mean_gain")} for r in rows]
    report["best"] = rows[0]["setting"]
    report["best_by_mean_gain"] = max(rows, key=lambda r: r["mean_gain"])["label"]
    report["best_by_method"] = {method: next(r["label"] for r in rows if r["setting"]["fusion"] == method)
                                for method in ("rrf", "weighted")}
    chosen = _grid_row(rows, HYBRID)
    report["chosen"] = {"setting": HYBRID, "label": setting_label(HYBRID), "dev": chosen["dev"],
                        "gain": chosen["gain"], "rank_in_grid": rows.index(chosen) + 1, "grid_size": len(rows),
                        "agrees_with_grid": same_setting(rows[0]["setting"], HYBRID)}
    default = searcher_default()
    row = _grid_row(rows, default)
    report["searcher_default"] = {"setting": default, "label": setting_label(default) if row else str(default),
                                  "dev": row["dev"] if row else None, "gain": row["gain"] if row else None,
                                  "rank_in_grid": rows.index(row) + 1 if row else None}
    if not report["chosen"]["agrees_with_grid"]:
        log.warning("the grid's best setting is %s, not the pinned HYBRID %s", rows[0]["label"], setting_label(HYBRID))
    return report, states
