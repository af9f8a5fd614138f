"""Evaluate rankings exactly as trec_eval does: qrels and runs, metrics, significance tests, reports.

::

    qrels (Qrels) + run (Run) --evaluate--> Evaluation --write_report--> report.md + report.json
    qrels + {name: Run}       --compare---> Comparison (p-values against a baseline)
    searcher + queries        --run_queries--> Run (the searcher's own order; views personalize it)
    baseline + personalized   --harm_at_k / inapplicable_at_k--> what personalization cost

Metric values equal trec_eval's (checked against pytrec_eval to 1e-9), including its ranking order: by score
stored as a 32-bit float, highest first, ties broken by doc id in descending order (see `trec_order`).
pandas, ranx and scipy are imported only when a function needs them. `SourceRuns` scores each source and any
fusion setting from one retrieval; `simulate_clicks` draws position-biased click logs from graded judgments.
"""

from .clicks import ClickSession, simulate_clicks
from .compare import Comparison, compare
from .evaluate import Evaluation, evaluate
from .metrics import Metric, metric_names, parse_metric
from .personalization import Oracle, harm_at_k, inapplicable_at_k
from .qrels import Qrels, read_beir_qrels, read_trec_qrels, write_beir_qrels, write_trec_qrels
from .querying import run_queries
from .report import ReportFiles, write_report
from .runs import Rankings, Run, read_trec_run, trec_order, write_trec_run
from .significance import paired_t_test, randomization_test
from .sources import SourceRuns

__all__ = [
    "ClickSession",
    "Comparison",
    "Evaluation",
    "Metric",
    "Oracle",
    "Qrels",
    "Rankings",
    "ReportFiles",
    "Run",
    "SourceRuns",
    "compare",
    "evaluate",
    "harm_at_k",
    "inapplicable_at_k",
    "metric_names",
    "paired_t_test",
    "parse_metric",
    "randomization_test",
    "read_beir_qrels",
    "read_trec_qrels",
    "read_trec_run",
    "run_queries",
    "simulate_clicks",
    "trec_order",
    "write_beir_qrels",
    "write_report",
    "write_trec_qrels",
    "write_trec_run",
]
