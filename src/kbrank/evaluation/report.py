"""Write an `Evaluation` or a `Comparison` to a folder as ``report.md`` (a table) and ``report.json``."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .._io import atomic_open, check_output_dir
from ..errors import ParameterError
from .compare import Comparison
from .evaluate import Evaluation

__all__ = ["ReportFiles", "render_markdown", "write_report"]


@dataclass(frozen=True)
class ReportFiles:
    """The two files `write_report` wrote."""

    markdown: Path
    json: Path


def write_report(
    result: Evaluation | Comparison, folder: str | os.PathLike[str], *, alpha: float = 0.05, digits: int = 4
) -> ReportFiles:
    """Write ``report.md`` and ``report.json`` into ``folder`` (created if needed), atomically: a failure (a
    full disk, a read-only folder: `OutputError`) leaves the previous report, both files, as it was.

    The markdown holds one table: a row per run and a column per metric, with means rounded to ``digits``;
    for a comparison each non-baseline cell adds the difference from the baseline and the p-value, and a ``*``
    when p < ``alpha``. The JSON holds everything, per-query values included (``result.to_dict()``).
    """
    if not isinstance(result, (Evaluation, Comparison)):
        raise ParameterError("result", "an Evaluation or a Comparison", type(result).__name__)
    if not os.fspath(folder).strip():
        raise ParameterError("folder", "a non-empty folder path", os.fspath(folder),
                             hint="An empty path would mean the current directory; name the folder.")
    target = Path(folder)
    check_output_dir(target)
    markdown_path, json_path = target / "report.md", target / "report.json"
    text = render_markdown(result, alpha=alpha, digits=digits)
    # both files are written beside their targets first; neither replaces its old copy unless both were written
    with atomic_open(markdown_path) as markdown, atomic_open(json_path) as payload:
        markdown.write(text)
        json.dump(result.to_dict(), payload, indent=2, allow_nan=False)
        payload.write("\n")
    return ReportFiles(markdown=markdown_path, json=json_path)


def render_markdown(result: Evaluation | Comparison, *, alpha: float = 0.05, digits: int = 4) -> str:
    """The markdown that `write_report` writes, as a string."""
    if isinstance(result, Comparison):
        return _comparison_markdown(result, alpha, digits)
    return _evaluation_markdown(result, digits)


def _evaluation_markdown(evaluation: Evaluation, digits: int) -> str:
    name = evaluation.run_name or "run"
    lines = [f"# Evaluation: {_escape(name)}", "", _coverage(evaluation), ""]
    lines += _table(
        evaluation.metrics,
        [[_escape(name)] + [f"{evaluation.means[m]:.{digits}f}" for m in evaluation.metrics]],
    )
    return "\n".join(lines) + "\n"


def _comparison_markdown(comparison: Comparison, alpha: float, digits: int) -> str:
    baseline = comparison.evaluations[comparison.baseline]
    lines = [
        f"# Comparison against {_escape(comparison.baseline)}",
        "",
        _coverage(baseline),
        "",
        (
            "Each cell is the mean; other runs add (difference from the baseline, p-value of the paired "
            f"{comparison.test}) and `*` when p < {alpha}."
        ),
        "",
    ]
    rows = []
    for name, evaluation in comparison.evaluations.items():
        if name == comparison.baseline:
            cells = [f"{_escape(name)} (baseline)"] + [
                f"{evaluation.means[m]:.{digits}f}" for m in comparison.metrics
            ]
        else:
            cells = [_escape(name)]
            for metric in comparison.metrics:
                delta, p_value = comparison.deltas[name][metric], comparison.p_values[name][metric]
                p_text = "n/a" if math.isnan(p_value) else f"{p_value:.{digits}f}"
                mark = "*" if comparison.significant(name, metric, alpha=alpha) else ""
                cells.append(f"{evaluation.means[metric]:.{digits}f} ({delta:+.{digits}f}, p={p_text}){mark}")
        rows.append(cells)
    lines += _table(comparison.metrics, rows)
    return "\n".join(lines) + "\n"


def _coverage(evaluation: Evaluation) -> str:
    text = f"{len(evaluation.query_ids)} queries; relevant means grade >= {evaluation.relevance_level}"
    if evaluation.missing_queries:
        how = "scored 0" if evaluation.missing == "zero" else "left out of the means"
        text += f"; {len(evaluation.missing_queries)} qrels queries missing from the run, {how}"
    return text + "."


def _table(metrics: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    header = "| run | " + " | ".join(metrics) + " |"
    rule = "|---|" + "---:|" * len(metrics)
    return [header, rule] + ["| " + " | ".join(cells) + " |" for cells in rows]


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
