"""Markdown rendering of bench_bm25's JSON result, and the README splice between markers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SETS = ("zipf", "stopword_free")
BASELINE = "bm25s_numpy"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value >= 1 else f"{value:.2g}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%" if value in (0.0, 1.0) else f"{100 * value:.1f}%"


def _pair(a: str, b: str) -> str:
    return f"{a} / {b}"


def _qps(sizes: dict[str, Any], name: str, qs: str, kind: str) -> float | None:
    return sizes[name]["sets"][qs][f"{kind}_qps_median"]


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or not b else f"{a / b:.2f}×"


def _size_table(size: dict[str, Any], cpus: int) -> list[str]:
    rows = size["systems"]
    load = size.get("load_average_1m", {})
    lines = [
        f"#### {size['n_docs']:,} articles",
        "",
        f"{size['n_tokens']:,} tokens, {size['n_terms']:,} distinct words; {size['terms_df_over_half']} words are "
        f"in more than half the articles ({size['terms_df_over_5pct']} in more than 5%); "
        f"{_pct(size['queries_with_word_df_over_half']['zipf'])} of the Zipf queries and "
        f"{_pct(size['queries_with_word_df_over_half']['stopword_free'])} of the stopword-free ones contain such "
        f"a word. Load average (1 min) at start / end: {load.get('start')} / {load.get('end')} "
        f"on {cpus} CPUs.",
        "",
        "| system | build s | single QPS | batch QPS | memory MiB | top-10 agreement with rank_bm25 "
        "| QPS ratio vs bm25s numpy | QPS ratio vs fastest peer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    capped = []
    for name, sys in rows.items():
        mark = ""
        counts = [sys["sets"][qs]["n_timed"] for qs in SETS]
        if any(c < sys["sets"][qs]["n_queries"] for c, qs in zip(counts, SETS)):
            mark = "†"
            capped.append(f"{name}: {counts[0]} / {counts[1]} queries timed")
        single = [_qps(rows, name, qs, "single") for qs in SETS]
        batch = [_qps(rows, name, qs, "batch") for qs in SETS]
        memory = f"{sys['rss_delta_bytes'] / 2**20:,.0f}"
        if sys["array_bytes"] is not None:
            memory += f" ({sys['array_bytes'] / 2**20:,.0f})"
        agree = [sys["sets"][qs].get("agreement") for qs in SETS]
        if name == "rank_bm25":
            agreement = "reference"
        elif all(a is None for a in agree):
            agreement = "n/a"
        else:
            agreement = _pair(*(_pct(a["set_equal"]) if a else "—" for a in agree))
        base = [(_qps(rows, BASELINE, qs, "single") if BASELINE in rows else None) for qs in SETS]
        peers = []
        for qs in SETS:
            others = [_qps(rows, other, qs, "single") for other in rows if other != name]
            peers.append(max(others) if others else None)
        lines.append("| " + " | ".join([
            f"{name}{mark}", _num(sys["build_s_median"]), _pair(*map(_num, single)), _pair(*map(_num, batch)),
            memory, agreement, _pair(*(_ratio(s, b) for s, b in zip(single, base))),
            _pair(*(_ratio(s, p) for s, p in zip(single, peers))),
        ]) + " |")
    for name, why in size.get("skipped", {}).items():
        lines.append(f"| {name} | {why} | | | | | | |")
    if "kbrank" in rows and "bm25s_numba" in rows:
        k_batch = [_qps(rows, "kbrank", qs, "batch") for qs in SETS]
        b_batch = [_qps(rows, "bm25s_numba", qs, "batch") for qs in SETS]
        lines += ["", f"kbrank `search_tokens_batch` against bm25s numba `retrieve(n_threads)` (batch QPS ratio, "
                  f"Zipf / stopword-free): {_pair(*(_ratio(a, b) for a, b in zip(k_batch, b_batch)))}."]
    memory = size.get("memory")
    if memory:
        lines += ["", "Memory, disk and build, each in a fresh subprocess (`_bm25_memory.py`; load average at each "
                  "system's start):", "",
                  "| system | build s | peak build RSS MiB | disk MiB | RSS after mmap load MiB | RSS after both "
                  "query sets MiB | load s | load avg |", "|---|---|---|---|---|---|---|---|"]
        for name, fig in memory.items():
            if "error" in fig:
                lines.append(f"| {name} | failed: {' '.join(fig['error'])} | | | | | | |")
                continue
            mib = [f"{fig[key] / 2**20:,.1f}" for key in ("build_peak_rss_delta_bytes", "disk_bytes",
                                                          "rss_after_load_bytes", "rss_after_queries_bytes")]
            lines.append(f"| {name} | {_num(fig['build_s'])} | " + " | ".join(mib)
                         + f" | {fig['load_s']:.2f} | {fig['load_average_1m']} |")
    if capped:
        lines += ["", "† Fewer queries timed (Zipf / stopword-free), to bound the run time: " + "; ".join(capped)
                  + ". QPS is still queries per second."]
    return lines


def _agreement_table(size: dict[str, Any]) -> list[str]:
    present = {n: s for n, s in size["systems"].items() if n != "rank_bm25" and s["sets"][SETS[0]].get("agreement")}
    if not present:
        return []
    first = next(iter(present.values()))["sets"]
    lines = [
        "",
        f"Agreement detail at {size['n_docs']:,} articles ({first['zipf']['agreement']['n_queries']} Zipf / "
        f"{first['stopword_free']['agreement']['n_queries']} stopword-free queries; Zipf / stopword-free in each cell). "
        "*Valid top-10*: the system's set is a correct top-10 under rank_bm25's scores (exact ties may swap).",
        "",
        "| system | same set | same order | valid top-10 | mean overlap | same set, Zipf queries with / without "
        "a word in > half the articles |",
        "|---|---|---|---|---|---|",
    ]
    for name, sys in present.items():
        a = [sys["sets"][qs]["agreement"] for qs in SETS]
        lines.append("| " + " | ".join([
            name, _pair(*(_pct(x["set_equal"]) for x in a)), _pair(*(_pct(x["order_equal"]) for x in a)),
            _pair(*(_pct(x["valid_top10"]) for x in a)), _pair(*(f"{x['mean_overlap']:.3f}" for x in a)),
            _pair(_pct(a[0]["set_equal_with_frequent_word"]), _pct(a[0]["set_equal_without_frequent_word"])),
        ]) + " |")
    return lines


def render_markdown(result: dict[str, Any]) -> str:
    machine, config = result["machine"], result["config"]
    pk = machine["packages"]
    lines = [
        "### BM25 benchmark (synthetic Zipfian corpus)",
        "",
        f"Command: `{config['command']}`. Machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), "
        f"Python {machine['python']}; " + ", ".join(f"{k} {v}" for k, v in pk.items() if v) + ". "
        f"Run in one process; figures are medians of {config['repeats']} rounds with the systems in rotated order.",
        "",
        f"Corpus: {config['vocab_size']:,}-word Zipf vocabulary (exponent {config['zipf_exponent']}), "
        f"{config['doc_len'][0]}–{config['doc_len'][1]} tokens per article; {config['queries']} queries per set of "
        f"{config['query_len'][0]}–{config['query_len'][1]} distinct words. Each cell *a / b* gives Zipf queries / "
        f"stopword-free queries (Zipf ranks ≥ {config['stopword_free_min_rank']}). Top-{config['k']}.",
        "",
        "- **single QPS**: one query at a time, one thread, from the library's native query form (token list, "
        "id list, or prebuilt tantivy query). **batch QPS**: all queries at once with "
        f"{config['threads']} threads (see the batch column notes below); rank_bm25 has no batch API.",
        "- **memory MiB**: RSS growth across the build, after garbage collection and `malloc_trim`; in "
        "parentheses, the bytes of the index's numpy arrays where the index is plain arrays.",
        "- **memory MiB** counts the whole build's RSS growth in the main process; the per-size *Memory, disk "
        "and build* table measures each system alone in a fresh subprocess.",
        "- **agreement**: share of queries whose top-10 set (score > 0) equals rank_bm25's (score desc, ties by "
        "lower row). **Ratios** use single-query QPS.",
        "",
    ]
    for size in result["sizes"]:
        lines += _size_table(size, machine["cpu_count"]) + _agreement_table(size) + [""]
    notes = {}
    for size in result["sizes"]:
        for name, sys in size["systems"].items():
            notes[name] = f"- **{name}** ({sys['version']}): {sys['notes']}. Batch: {sys['batch_kind']}."
    lines += ["Systems:", ""] + list(notes.values()) + [
        "",
        "Why agreement differs: rank_bm25, rank-bm25-rs and kbrank compute the same float64 scores; bm25s "
        "(`robertson`) clamps negative IDF to 0 where rank_bm25 uses ε × mean IDF, so words in more than half "
        "the articles stop counting, and it scores in float32; tantivy uses Lucene's IDF, k1 = 1.2 and "
        "quantised length norms.",
        "",
    ]
    return "\n".join(lines)


def update_readme(path: Path, markdown: str) -> bool:
    """Replace the bench_bm25 section of README.md (see `_readme.update_readme`)."""
    from _readme import update_readme as splice

    return splice("bench_bm25", markdown, path)
