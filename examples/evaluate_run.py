"""Evaluate a run against qrels, and test a second run against it for significance.

Run: python examples/evaluate_run.py  (BM25 on the demo help centre: unpersonalized vs personalized)
"""

import tempfile
from pathlib import Path

from kbrank import Personalizer, ProfileGateway, Qrels, Searcher, evaluate
from kbrank.datasets import load_helpcentre
from kbrank.evaluation import compare, read_trec_run, run_queries, write_trec_qrels, write_trec_run

hc = load_helpcentre()
queries = hc.queries[:200]  # the first 200 demo queries; each is asked by one customer
qrels = Qrels({q.id: dict(hc.qrels[q.id]) for q in queries})  # graded: 2 exact match, 1 applies
searcher = Searcher(mode="bm25", personalizer=Personalizer(today=hc.as_of)).build(hc.corpus)

with ProfileGateway.from_helpcentre(hc, key="example-pseudonymization-key") as gateway:
    views = {q.id: gateway.read(q.customer_id, "personalization", requester="examples", degrade=True)
             for q in queries}  # no consent -> an unpersonalized view, so every query still has a ranking
texts = {q.id: q.text for q in queries}
runs = {"bm25": run_queries(searcher, texts, 10, name="bm25"),
        "bm25+profile": run_queries(searcher, texts, 10, views=views, name="bm25+profile")}

with tempfile.TemporaryDirectory() as tmp:  # runs and qrels as TREC files, as trec_eval reads them
    write_trec_qrels(qrels, Path(tmp) / "qrels.txt")
    for name, run in runs.items():
        write_trec_run(run, Path(tmp) / f"{name}.run")
    runs = {name: read_trec_run(Path(tmp) / f"{name}.run", name=name) for name in runs}

metrics = ["ndcg@10", "recall@10", "mrr"]
evaluation = evaluate(qrels, runs["bm25"], metrics)  # the same numbers as trec_eval, to 1e-9
print(f"run bm25 over {len(queries)} queries:")
for metric in metrics:
    print(f"  {metric}: {evaluation.mean(metric):.4f}")

comparison = compare(qrels, runs, metrics, baseline="bm25", test="randomization", n_resamples=2000, seed=0)
print(f"\n{comparison.test} test against the baseline {comparison.baseline} (metrics by their trec_eval names):")
print(f"  {'run':<14}" + "".join(f"{m:>26}" for m in comparison.metrics))
for name, result in comparison.evaluations.items():
    cells = [f"{result.means[m]:.4f}" if name == comparison.baseline else
             f"{result.means[m]:.4f} ({comparison.deltas[name][m]:+.4f}, p={comparison.p_values[name][m]:.3f})"
             for m in comparison.metrics]
    print(f"  {name:<14}" + "".join(f"{c:>26}" for c in cells))
