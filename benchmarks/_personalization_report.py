"""The personalization benchmark's report: the markdown of ``personalization.md`` and README.md (between
``<!-- personalization:start -->`` and ``<!-- personalization:end -->``), and the targets it is judged by."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

SYSTEMS = ("unpersonalized", "policy", "learned_judgments", "learned_clicks")
ABLATIONS = ("learned_clicks_uncorrected",)
LABELS = {"unpersonalized": "unpersonalized", "policy": "default policy", "learned_judgments": "learned (judgments)",
          "learned_clicks": "learned (clicks, IPW)", "learned_clicks_uncorrected": "learned (clicks, no correction)"}
TARGETS = {"ndcg_gain": 0.15, "p_value": 0.01, "harm_rate": 0.01, "inapplicable_top3": 0.02,
           "rerank_us": 100.0, "personalization_share": 0.02}


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
        ]
        if "rerank_explain_100_us" in sp:
            receipts = sp["rerank_explain_100_us"]
            lines += ["", "A search also writes receipts (which rule moved each of the top 10, and why): reranking 100 "
                          f"candidates and explaining the top 10 took {receipts['policy']:.0f} µs (policy) and "
                          f"{receipts['learned']:.0f} µs (learned), "
                          f"{_pct(receipts['policy'] / 1e3 / sp['query_ms']['unpersonalized'])} and "
                          f"{_pct(receipts['learned'] / 1e3 / sp['query_ms']['unpersonalized'])} of the hybrid "
                          "query. The rows above, and the targets, leave the receipts out."]
        lines += [
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
