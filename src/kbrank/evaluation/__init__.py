"""Evaluate rankings exactly as trec_eval does: qrels and runs, metrics, significance tests, reports.

::

    qrels (Qrels) + run (Run) --evaluate--> Evaluation --write_report--> report.md + report.json
    qrels + {name: Run}       --compare---> Comparison (p-values against a baseline)

Metric values equal trec_eval's (checked against pytrec_eval to 1e-9), including its ranking order: by score
stored as a 32-bit float, highest first, ties broken by doc id in descending order (see `trec_order`).
pandas, ranx and scipy are imported only when a function needs them.
"""

from .compare import Comparison, compare
from .evaluate import Evaluation, evaluate
from .metrics import Metric, metric_names, parse_metric
from .qrels import Qrels, read_beir_qrels, read_trec_qrels, write_beir_qrels, write_trec_qrels
from .report import ReportFiles, write_report
from .runs import Run, read_trec_run, trec_order, write_trec_run
from .significance import paired_t_test, randomization_test

__all__ = [
    "Comparison",
    "Evaluation",
    "Metric",
    "Qrels",
    "ReportFiles",
    "Run",
    "compare",
    "evaluate",
    "metric_names",
    "paired_t_test",
    "parse_metric",
    "randomization_test",
    "read_beir_qrels",
    "read_trec_qrels",
    "read_trec_run",
    "trec_order",
    "write_beir_qrels",
    "write_report",
    "write_trec_qrels",
    "write_trec_run",
]
