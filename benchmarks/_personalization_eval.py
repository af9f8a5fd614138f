"""How the personalization benchmark ranks and scores its systems.

Rankings: `kbrank.evaluation.run_queries` (each query encoded once for every system: `QueryVectorCache`);
the learned models are cross-fitted over folds of customers (`customer_folds`). Scores, per segment:
nDCG@10 with paired p-values (`compare`); harm (`harm_at_k`); the inapplicable and not relevant shares of the
top 3 (`inapplicable_at_k`). *Inapplicable* means the article fails the ground truth's applicability rules
for the customer (product and version target, platform, region, locale, segment, active and not expired):
`HelpCentre.relevance`, the generator's judge, asked about the article's own intent, so a relevant article
for another question still counts as applicable. *Not relevant* is grade 0 for the query (not in the qrels),
which also counts on-topic misses. And the robustness curve over corrupted profiles."""

from __future__ import annotations

import dataclasses
import random
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from kbrank.evaluation import Run, compare, harm_at_k, inapplicable_at_k, run_queries
from kbrank.privacy import ProfileView

SEGMENTS = ("consumer", "pro", "business")
Runs = Mapping[str, Mapping[str, Any]]  # system -> query id -> ranking (a Run, or any Run-like mapping)


class QueryVectorCache:
    """An `Encoder` that remembers query vectors, so each query is encoded once for every system and level.

    Documents go to the wrapped encoder unchanged (same fingerprint, so the embedding cache is shared)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.vectors: dict[str, np.ndarray] = {}

    name = property(lambda self: self.inner.name)
    dim = property(lambda self: self.inner.dim)
    fingerprint = property(lambda self: self.inner.fingerprint)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            for text, vector in zip(missing, self.inner.encode_queries(missing)):
                self.vectors[text] = vector
        return np.stack([self.vectors[t] for t in texts])

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_documents(texts)


def rank(searcher: Any, queries: Sequence[Any], views: Mapping[str, Any] | None) -> Run:
    """Each demo query's top 10, personalized with its customer's view (``views``: customer id -> view)."""
    return run_queries(searcher, {q.id: q.text for q in queries}, 10,
                       views=None if views is None else {q.id: views[q.customer_id] for q in queries})


def customer_folds(customers: Sequence[dict], n_folds: int, seed: int) -> dict[str, int]:
    """Customer id -> fold, stratified by segment, seeded."""
    rng = random.Random(f"personalization-folds/{seed}")
    fold: dict[str, int] = {}
    for segment in SEGMENTS:
        ids = sorted(c["customer_id"] for c in customers if c["segment"] == segment)
        rng.shuffle(ids)
        start = rng.randrange(n_folds)
        for i, customer_id in enumerate(ids):
            fold[customer_id] = (start + i) % n_folds
    return fold


def inapplicable_oracle(hc: Any, queries: Sequence[Any]) -> Callable[[str, str], bool]:
    """Whether an article cannot apply to the query's customer (and the product the query names), by the
    generator's judge asked about the article's own intent: applicability without topicality."""
    asked = {q.id: (q.customer_id, q.names_product) for q in queries}
    intent = {a.id: a.metadata["intent"] for a in hc.corpus}

    @lru_cache(maxsize=None)
    def applicable(customer_id: str, intent: str, named: str | None) -> frozenset[str]:
        return frozenset(hc.relevance(customer_id, intent, named))

    def cannot_apply(query_id: str, article_id: str) -> bool:
        customer_id, named = asked[query_id]
        return article_id not in applicable(customer_id, intent[article_id], named)

    return cannot_apply


def p_values(qrels: Mapping[str, Mapping[str, int]], runs: Runs, baseline: str, n_resamples: int,
             tests: Sequence[str] = ("t-test", "randomization")) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for test in tests:
        result = compare(qrels, runs, ["ndcg@10"], baseline=baseline, test=test, missing="zero",
                         n_resamples=n_resamples)
        for name, evaluation in result.evaluations.items():
            row = out.setdefault(name, {"ndcg@10": evaluation.means["ndcg_cut_10"]})
            if name != baseline:
                row["delta"] = result.deltas[name]["ndcg_cut_10"]
                row[f"p_{test}"] = result.p_values[name]["ndcg_cut_10"]
    return out


def harm_and_top3(hc: Any, queries: Sequence[Any], qrels: Mapping[str, Mapping[str, int]], plain: Any,
                  system: Any, oracle: Callable[[str, str], bool]) -> dict[str, float]:
    """Harm rate, and the top-3 shares over every query and over the consenting customers' queries only."""
    consents = {c["customer_id"]: bool(c["consents"]["personalization"]) for c in hc.customers}
    ids = [q.id for q in queries]
    consenting = [q.id for q in queries if consents[q.customer_id]]

    def not_relevant(query_id: str, article_id: str) -> bool:
        return qrels.get(query_id, {}).get(article_id, 0) == 0

    def share(flag: Callable[[str, str], bool], chosen: list[str]) -> float:
        return inapplicable_at_k(system, flag, 3, queries=chosen) if chosen else 0.0

    return {"harm_rate": harm_at_k(qrels, plain, system, 10, queries=ids),
            "inapplicable_top3": share(oracle, ids), "not_relevant_top3": share(not_relevant, ids),
            "inapplicable_top3_consenting": share(oracle, consenting),
            "not_relevant_top3_consenting": share(not_relevant, consenting),
            "top3_slots": sum(min(len(system[q]), 3) for q in ids)}


def segment_table(hc: Any, queries: Sequence[Any], runs: Runs, oracle: Callable[[str, str], bool],
                  n_resamples: int) -> dict[str, Any]:
    segment_of = {c["customer_id"]: c["segment"] for c in hc.customers}
    table: dict[str, Any] = {}
    for segment in (*SEGMENTS, "overall"):
        chosen = [q for q in queries if segment == "overall" or segment_of[q.customer_id] == segment]
        if not chosen:
            continue
        qrels = {q.id: dict(hc.qrels[q.id]) for q in chosen}
        subset = {name: {q.id: r[q.id] for q in chosen} for name, r in runs.items()}
        rows = p_values(qrels, subset, "unpersonalized", n_resamples)
        for name in runs:
            rows[name].update(harm_and_top3(hc, chosen, qrels, subset["unpersonalized"], subset[name], oracle))
        table[segment] = {"queries": len(chosen), "systems": rows}
    return table


# -- robustness ---------------------------------------------------------------------------------------------
def corruption_order(view: Any, catalog: Mapping[str, dict], rng: random.Random) -> list[tuple[str, int]]:
    """Every attribute of the view that can be dropped or made stale, in a seeded random order."""
    units: list[tuple[str, int]] = []
    for i, item in enumerate(getattr(view, "owned", ())):
        units.append(("drop", i))
        versions = list(catalog.get(item.product, {}).get("versions", ()))
        if item.version in versions and versions.index(item.version) > 0:
            units.append(("version", i))
        if item.platform:
            units.append(("platform", i))
    if getattr(view, "region", None):
        units.append(("region", -1))
    rng.shuffle(units)
    return units


def corrupt(view: Any, units: Sequence[tuple[str, int]], catalog: Mapping[str, dict], rng: random.Random) -> Any:
    """The view with ``units`` dropped or made stale (a new `ProfileView`; the original is untouched)."""
    fields = view.to_dict()
    owned = list(fields.get("owned", ()))
    dropped = set()
    for kind, i in units:
        if kind == "drop":
            dropped.add(i)
        elif kind == "version":
            versions = list(catalog[owned[i].product]["versions"])
            older = versions[:versions.index(owned[i].version)]
            owned[i] = dataclasses.replace(owned[i], version=rng.choice(older))
        elif kind == "platform":
            owned[i] = dataclasses.replace(owned[i], platform=None)
        elif kind == "region":
            fields["region"] = None
    if "owned" in fields:
        fields["owned"] = tuple(item for i, item in enumerate(owned) if i not in dropped)
    return ProfileView.of(view.purpose, **fields)


def robustness(hc: Any, searcher: Any, queries: Sequence[Any], views: Mapping[str, Any], plain: Any,
               learned: Mapping[str, Any], oracle: Callable[[str, str], bool], levels: Sequence[float],
               seed: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """nDCG@10, harm and inapplicable share at each corruption level (the learned models held out by fold)."""
    orders = {}
    for customer_id, view in sorted(views.items()):
        if getattr(view, "personalized", False):
            rng = random.Random(f"personalization-robustness/{seed}/{customer_id}")
            orders[customer_id] = (corruption_order(view, hc.catalog, rng), rng.random())
    qrels = {q.id: dict(hc.qrels[q.id]) for q in queries}
    ids = [q.id for q in queries]
    curve = []
    for level in levels:
        corrupted = {}
        for customer_id, view in views.items():
            if customer_id not in orders:
                corrupted[customer_id] = view
                continue
            units, salt = orders[customer_id]
            chosen = units[:round(level * len(units))]
            corrupted[customer_id] = corrupt(view, chosen, hc.catalog, random.Random(f"{salt}/{level}"))
        runs: dict[str, Any] = {"unpersonalized": plain, "policy": rank(searcher, queries, corrupted)}
        for name in ("learned_judgments", "learned_clicks"):
            runs[name] = {}
            for fold, per in learned["searchers"].items():
                held_out = [q for q in queries if learned["fold_of"][q.customer_id] == fold]
                runs[name].update(rank(per[name], held_out, corrupted))
        rows = p_values(qrels, runs, "unpersonalized", 2000, tests=("t-test",))
        point: dict[str, Any] = {"level": level, "systems": {}}
        for name, row in rows.items():
            point["systems"][name] = {"ndcg@10": row["ndcg@10"], "delta": row.get("delta", 0.0),
                                      "p_t-test": row.get("p_t-test"),
                                      "harm_rate": harm_at_k(qrels, plain, runs[name], 10, queries=ids),
                                      "inapplicable_top3": inapplicable_at_k(runs[name], oracle, 3, queries=ids)}
        curve.append(point)
        log(f"robustness {level:.0%}: " + ", ".join(f"{n} {r['ndcg@10']:.3f}" for n, r in rows.items()))
    return curve
