"""Reference test on real runs: kbrank's metrics equal pytrec_eval's to 1e-9 on SciFact and NFCorpus.

The runs are TF-IDF cosine top-100 over the whole corpus for every query of the data set, so they hold queries
without qrels, unjudged documents and exact ties (documents sharing no term with a query all score 0).
Variants add many more ties, scores that differ only below float32 precision, queries missing from the run,
a query judged without relevant documents, and negative grades. NFCorpus has graded qrels (1 and 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from trec_reference import TOLERANCE, assert_matches_reference, pytrec_values

from kbrank.evaluation import Qrels, Run, evaluate, read_beir_qrels

METRICS = [
    "ndcg_cut_10",
    "ndcg_cut_100",
    "map",
    "recip_rank",
    "recall_10",
    "recall_100",
    "P_10",
    "P_5",
    "ndcg",
    "map_cut_10",
    "Rprec",
    "success_10",
]
DEPTH = 100


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _tfidf_run(folder: Path) -> Run:
    """Cosine similarity of TF-IDF vectors, the top 100 documents of every query in queries.jsonl."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = _jsonl(folder / "corpus.jsonl")
    queries = _jsonl(folder / "queries.jsonl")
    vectorizer = TfidfVectorizer(sublinear_tf=True, dtype=np.float64)
    documents = vectorizer.fit_transform(f"{d.get('title', '')} {d['text']}" for d in corpus)
    scores = (vectorizer.transform(q["text"] for q in queries) @ documents.T).toarray()
    top = np.argpartition(-scores, DEPTH, axis=1)[:, :DEPTH]
    doc_ids = [d["_id"] for d in corpus]
    return Run(
        {q["_id"]: {doc_ids[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(queries)},
        name=f"tfidf-{folder.name}",
    )


@pytest.fixture(scope="module", params=["scifact", "nfcorpus"])
def dataset(request: pytest.FixtureRequest, beir_dir: Path) -> tuple[Qrels, Run]:
    folder = beir_dir / request.param
    if not folder.exists():
        request.getfixturevalue(f"{request.param}_dir")  # fails in CI, skips elsewhere, with the reason
    return read_beir_qrels(folder / "qrels" / "test.tsv"), _tfidf_run(folder)


def _check(qrels, run, **options) -> None:
    ours = evaluate(qrels, run, METRICS, **options)
    assert_matches_reference(ours, pytrec_values(qrels, run, METRICS, **options))


def test_the_runs_are_real(dataset: tuple[Qrels, Run]) -> None:
    qrels, run = dataset
    assert set(qrels) < set(run), "the run covers every query, the test qrels only some"
    ours = evaluate(qrels, run, "ndcg@10")
    assert 0.1 < ours.means["ndcg_cut_10"] < 0.8
    unjudged = sum(d not in qrels[q] for q in qrels for d in run[q])
    assert unjudged > 0.9 * len(qrels) * DEPTH


def test_tfidf_run_matches_trec_eval(dataset: tuple[Qrels, Run]) -> None:
    qrels, run = dataset
    _check(qrels, run)


def test_relevance_level_two_matches_trec_eval(dataset: tuple[Qrels, Run]) -> None:
    qrels, run = dataset
    _check(qrels, run, relevance_level=2)


def test_many_exact_ties_match_trec_eval(dataset: tuple[Qrels, Run]) -> None:
    qrels, run = dataset
    tied = Run({q: {d: round(s, 1) for d, s in docs.items()} for q, docs in run.items()})
    distinct = sum(len(set(docs.values())) for docs in tied.values())
    assert distinct < tied.num_pairs / 10
    _check(qrels, tied)


def test_differences_below_float32_precision_match_trec_eval(dataset: tuple[Qrels, Run]) -> None:
    """Scores rounded to float32, then nudged by less than a float32 step: trec_eval sees ties."""
    qrels, run = dataset
    nudged = {}
    for query_id, docs in run.items():
        nudged[query_id] = {
            doc_id: float(np.float32(score)) * (1 + 1e-12 * (i % 7))
            for i, (doc_id, score) in enumerate(docs.items())
        }
    _check(qrels, nudged)


def test_queries_missing_from_the_run(dataset: tuple[Qrels, Run]) -> None:
    qrels, run = dataset
    dropped = set(list(qrels)[::5])
    partial = Run({q: docs for q, docs in run.items() if q not in dropped})
    _check(qrels, partial)

    zero = evaluate(qrels, partial, METRICS, missing="zero")
    reference = pytrec_values(qrels, partial, METRICS)
    assert set(zero.missing_queries) == dropped
    for metric in METRICS:
        assert all(zero.per_query[metric][q] == 0.0 for q in dropped)
        expected = sum(reference[metric].values()) / len(qrels)  # trec_eval -c
        assert abs(zero.means[metric] - expected) <= TOLERANCE


def test_synthetic_queries_without_relevant_documents_and_with_negative_grades(
    dataset: tuple[Qrels, Run],
) -> None:
    qrels, run = dataset
    first, second = list(qrels)[:2]
    judged = qrels.to_dict()
    retrieved = list(run[first])
    judged["no-relevant"] = {doc_id: 0 for doc_id in retrieved[:20]}
    judged["negative"] = {
        retrieved[0]: -1,
        retrieved[1]: 2,
        retrieved[2]: 0,
        retrieved[3]: -2,
        "unretrieved": 1,
    }
    scores = run.to_dict()
    scores["no-relevant"] = dict(run[first])
    scores["negative"] = dict(run[first])
    _check(Qrels(judged), Run(scores))
    result = evaluate(Qrels(judged), Run(scores), METRICS)
    assert all(result.per_query[m]["no-relevant"] == 0.0 for m in METRICS)
    assert (
        result.per_query["recip_rank"][second]
        == pytrec_values(qrels, run, ["recip_rank"])["recip_rank"][second]
    )
