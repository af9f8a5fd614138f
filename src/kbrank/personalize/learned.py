"""A learned reranker: a linear model over retrieval scores and profile facts, trained from graded judgments
or from click logs corrected for position bias.

Design
------
`LearnedPersonalizer` is a drop-in `Personalizer` (pass it to ``Searcher(personalizer=...)``):

- *hides* still come from the policy's hide rules (default: `default_policy`), before any top-k, exactly as
  with the rule policy, and are explained the same way;
- the *learned score replaces* the policy's promote and demote deltas: a candidate's final score is
  ``w . x`` over the features of `kbrank.personalize.features` (retrieval scores and ranks per source, the
  profile facts, version distance, article age, and popularity when trained from clicks);
- each result's receipt lists the article features that moved it (``learned:<feature>``, the term
  ``w_j x_j``, and the same human-readable reason the rule would give), never a value the view does not hold.

Because the model is linear, the article block (everything but the retrieval features) folds into one number
per article when the plan is built (cached per profile, like the policy's deltas); a query then costs one
small matrix-vector product over its candidates.

Why linear
----------
The whole fitted state is a few dozen numbers: one coefficient per feature, the standardization (mean and
scale per feature) and, from click logs, a popularity value per article. It is saved as JSON (floats written
with ``repr`` round-trip exactly, so a reloaded model predicts bit for bit what the saved one did), read
without pickle and without scikit-learn, and inspected by eye: each coefficient says how much one fact is
worth against retrieval. scikit-learn is used only to fit (lazily imported).

Training
--------
`LearnedReranker.fit` learns from graded judgments with a pairwise logistic loss (a linear RankNet;
Burges et al., 2005): for each training query, every pair of candidates with different grades is one
example, ``x_better - x_worse`` (and its mirror), each query weighing the same.

`LearnedReranker.fit_clicks` learns from click logs (`ClickSession`: what was shown, what was clicked, which
click "solved it"). Clicks are biased towards the top: a result is clicked only if it is looked at. Under the
position-based model, the chance of looking at rank r is the *propensity* ``p(r) = (1 / r) ** eta``
(Joachims et al., 2017, "Unbiased Learning-to-Rank with Biased Feedback"; ``eta`` is ``propensity_eta``,
estimated in practice by swapping results between positions). Each click at rank ``r`` becomes pairs
(clicked article, each candidate not clicked in that session), weighted by ``1 / max(p(r), propensity_clip)``
(inverse propensity weighting, clipped to bound the variance) and by ``1 + solved_weight`` when the click
solved the problem. This is unbiased for articles that could be shown (positions past the last one shown
have propensity 0 and cannot be corrected). With ``popularity=True`` (the default) the inverse-propensity
weighted click count of each article, log(1 + count), is a feature too: the demo corpus has no popularity
signal of its own, so popularity exists only when click logs are given. During training each query sees the
counts without its own clicks (no label leakage); the fitted model keeps the counts over all sessions.

`simulate_clicks` draws such logs from graded judgments with the same position-based model, for tests and
benchmarks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .._io import atomic_open
from .._version import __version__
from ..applicability import Applicability
from ..candidates import Candidates, SourceScores
from ..errors import IndexFormatError, NotFittedError, ParameterError
from .facts import FACTS
from .features import (
    ARTICLE_FEATURES,
    RETRIEVAL_FEATURES,
    article_ages,
    article_features,
    retrieval_columns,
    retrieval_features,
    spec_bounds,
    version_features,
)
from .personalizer import DEFAULT_CACHE_BYTES, Contribution, Personalizer, Plan, is_personalized
from .policy import Policy
from .receipts import reason_for

__all__ = ["ClickSession", "LearnedPersonalizer", "LearnedReranker", "QueryExamples", "collect_examples",
           "propensity", "simulate_clicks", "FORMAT"]

FORMAT = "kbrank-learned-reranker"
FORMAT_VERSION = 1
POPULARITY = "popularity"
BASE_FEATURES = (*RETRIEVAL_FEATURES, *ARTICLE_FEATURES)


@dataclass(frozen=True)
class QueryExamples:
    """One training query: its candidates (article ids and corpus rows, in retrieval order) and their features
    (candidates x `BASE_FEATURES`)."""

    query_id: str
    article_ids: tuple[str, ...]
    rows: np.ndarray
    features: np.ndarray


@dataclass(frozen=True)
class ClickSession:
    """One search as logged: the article ids shown (best first), and per position whether it was clicked and
    whether that click solved the problem ("this solved it")."""

    query_id: str
    shown: tuple[str, ...]
    clicked: tuple[bool, ...]
    solved: tuple[bool, ...]

    def __post_init__(self) -> None:
        if not len(self.shown) == len(self.clicked) == len(self.solved):
            raise ParameterError("ClickSession", "shown, clicked and solved of the same length",
                                 (len(self.shown), len(self.clicked), len(self.solved)))


def propensity(ranks: np.ndarray, eta: float, clip: float) -> np.ndarray:
    """The chance that a result at 1-based ``rank`` is looked at, ``(1 / rank) ** eta``, clipped below at ``clip``."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.maximum((1.0 / ranks) ** eta, clip)


def simulate_clicks(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], *,
                    sessions_per_query: int = 10, eta: float = 1.0,
                    click_probability: Sequence[float] = (0.05, 0.5, 0.9),
                    solve_probability: Sequence[float] = (0.0, 0.3, 0.7),
                    seed: int = 0) -> tuple[ClickSession, ...]:
    """Click logs drawn from graded judgments with a position-based model (deterministic for a ``seed``).

    In each session of each query (queries in sorted order), the result at rank r is looked at with
    probability ``(1 / r) ** eta``; a result looked at is clicked with ``click_probability[grade]`` (grade 0 for
    an unjudged article: a small noise rate), and a click solves the problem with ``solve_probability[grade]``.
    """
    if sessions_per_query < 1:
        raise ParameterError("sessions_per_query", "an integer >= 1", sessions_per_query)
    rng = np.random.default_rng(seed)
    clicks, solves = np.asarray(click_probability, float), np.asarray(solve_probability, float)
    out = []
    for query_id in sorted(rankings):
        shown = tuple(rankings[query_id])
        if not shown:
            continue
        grades = np.asarray([min(int(qrels.get(query_id, {}).get(a, 0)), len(clicks) - 1) for a in shown])
        examine = (1.0 / np.arange(1, len(shown) + 1)) ** eta
        for _ in range(sessions_per_query):
            clicked = (rng.random(len(shown)) < examine) & (rng.random(len(shown)) < clicks[grades])
            solved = clicked & (rng.random(len(shown)) < solves[grades])
            out.append(ClickSession(query_id, shown, tuple(clicked.tolist()), tuple(solved.tolist())))
    return tuple(out)


def _feature_plan(personalizer: Personalizer, view: Any, plan: Plan, bounds: np.ndarray,
                  rows: np.ndarray) -> dict[str, np.ndarray]:
    """Every article feature of ``rows`` for this view (facts and version gaps, computed for those rows)."""
    facts = personalizer.facts(view, plan.named, rows)
    facts.update(version_features(personalizer.applicability_.take(rows), bounds, view, plan.named))
    return facts


def _bounds(app: Applicability) -> np.ndarray:
    return np.asarray([spec_bounds(s) for s in app.specs], dtype=np.float64).reshape(-1, 2)


def collect_examples(searcher: Any, queries: Iterable[tuple[str, str, Any]]) -> list[QueryExamples]:
    """The candidates of each ``(query_id, text, view)`` as ``searcher.search(text, profile=view)`` reranks
    them (the policy's hides applied before retrieval, ``rerank_depth`` deep), with their features.

    Views that do not personalize (no consent) are skipped: they are never reranked.
    """
    personalizer = searcher.personalizer_
    app = personalizer.applicability_
    bounds = _bounds(app)
    ages = article_ages(app, personalizer.today or dt.date.today())
    out = []
    for query_id, text, view in queries:
        if not is_personalized(view):
            continue
        plan = personalizer.plan(view, text)
        pool = searcher.candidates(text, max(searcher.rerank_depth, 10), mask=~plan.hide,
                                   query_vector=searcher.query_vector(text))
        if len(pool) == 0:
            continue
        facts = _feature_plan(personalizer, view, plan, bounds, pool.rows)
        block = article_features(facts, ages[pool.rows], ARTICLE_FEATURES)
        features = np.hstack([retrieval_features(pool), block])
        out.append(QueryExamples(query_id, tuple(personalizer.corpus_[r].id for r in pool.rows.tolist()),
                                 pool.rows, features))
    return out


def _checksum(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


class LearnedReranker:
    """A linear scoring model for (query, candidate) features; see the module docstring.

    Parameters (keyword-only, stored unchanged): ``C`` (inverse L2 strength of the logistic regression, 1.0);
    ``max_pairs_per_query`` (pairs sampled per query, 400); ``propensity_eta`` (1.0) and ``propensity_clip``
    (0.1) for click logs; ``solved_weight`` (extra weight of a click that solved the problem, 1.0);
    ``popularity`` (learn a popularity feature from click logs, True); ``seed`` (pair sampling, 0).

    Fitted state: ``feature_names_``, ``coef_`` (in standardized units), ``intercept_`` (0: a pairwise model
    only orders), ``mean_`` and ``scale_`` (the standardization), ``popularity_`` (article id ->
    log(1 + weighted clicks); empty when trained from judgments) and ``training_`` (a summary).

    >>> model = LearnedReranker(C=0.5)
    >>> model.C, hasattr(model, "coef_")
    (0.5, False)
    """

    def __init__(self, *, C: float = 1.0, max_pairs_per_query: int = 400, propensity_eta: float = 1.0,
                 propensity_clip: float = 0.1, solved_weight: float = 1.0, popularity: bool = True,
                 seed: int = 0) -> None:
        self.C = C
        self.max_pairs_per_query = max_pairs_per_query
        self.propensity_eta = propensity_eta
        self.propensity_clip = propensity_clip
        self.solved_weight = solved_weight
        self.popularity = popularity
        self.seed = seed

    # -- checks --------------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ParameterError("C", "a number > 0", self.C)
        if isinstance(self.max_pairs_per_query, bool) or not isinstance(self.max_pairs_per_query, int) \
                or self.max_pairs_per_query < 1:
            raise ParameterError("max_pairs_per_query", "an integer >= 1", self.max_pairs_per_query)
        if not (isinstance(self.propensity_eta, (int, float)) and self.propensity_eta >= 0):
            raise ParameterError("propensity_eta", "a number >= 0 (0 = no position-bias correction)",
                                 self.propensity_eta)
        if not (isinstance(self.propensity_clip, (int, float)) and 0 < self.propensity_clip <= 1):
            raise ParameterError("propensity_clip", "a number in (0, 1]", self.propensity_clip)

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this LearnedReranker is not fitted; call fit(examples, qrels), "
                                 "fit_clicks(examples, sessions) or LearnedReranker.load(path)")

    @staticmethod
    def _check_examples(examples: Sequence[QueryExamples]) -> None:
        if not examples:
            raise ParameterError("examples", "a non-empty list of QueryExamples (see collect_examples)", examples)
        for example in examples:
            if example.features.shape != (len(example.rows), len(BASE_FEATURES)):
                raise ParameterError("examples", f"feature matrices of shape (candidates, {len(BASE_FEATURES)})",
                                     example.features.shape, hint="build them with collect_examples")

    # -- fitting -------------------------------------------------------------------------------------------
    def fit(self, examples: Sequence[QueryExamples], qrels: Mapping[str, Mapping[str, int]]) -> LearnedReranker:
        """Learn from graded judgments (``qrels``: query id -> article id -> grade; unjudged = 0)."""
        self._check_params()
        self._check_examples(examples)
        rng = np.random.default_rng(self.seed)
        firsts, seconds, weights, used = [], [], [], 0
        for example in examples:
            judged = qrels.get(example.query_id, {})
            grades = np.asarray([judged.get(a, 0) for a in example.article_ids], dtype=np.float64)
            better, worse = np.nonzero(grades[:, None] > grades[None, :])
            if better.size == 0:
                continue
            better, worse, _ = self._sample(rng, better, worse)
            firsts.append((example, better))
            seconds.append(worse)
            weights.append(np.full(better.size, 1.0 / better.size))  # each query weighs 1
            used += 1
        if not used:
            raise ParameterError("qrels", "judgments that tell some candidates apart (two grades in one pool)",
                                 "no query with two different grades among its candidates")
        self._fit_pairs(examples, firsts, seconds, weights, popularity=None)
        self.training_ = {"method": "pairwise logistic regression on graded judgments", "queries": used,
                          "pairs": int(sum(w.size for w in weights))}
        return self

    def fit_clicks(self, examples: Sequence[QueryExamples], sessions: Sequence[ClickSession]) -> LearnedReranker:
        """Learn from click logs with inverse propensity weighting (see the module docstring)."""
        self._check_params()
        self._check_examples(examples)
        by_query: dict[str, list[ClickSession]] = {}
        for session in sessions:
            by_query.setdefault(session.query_id, []).append(session)
        counts: dict[str, float] = {}
        own: dict[str, dict[str, float]] = {}
        for query_id, logged in by_query.items():
            mine = own.setdefault(query_id, {})
            for session in logged:
                weight = self._click_weights(session)
                for article, w in zip(session.shown, weight.tolist()):
                    if w > 0:
                        counts[article] = counts.get(article, 0.0) + w
                        mine[article] = mine.get(article, 0.0) + w
        rng = np.random.default_rng(self.seed)
        firsts, seconds, weights, used = [], [], [], 0
        for example in examples:
            logged = by_query.get(example.query_id)
            if not logged:
                continue
            index = {a: i for i, a in enumerate(example.article_ids)}
            n = len(example.article_ids)
            pair_weight = np.zeros((n, n))
            for session in logged:
                weight = self._click_weights(session)
                clicked = np.zeros(n, bool)
                for article, is_clicked in zip(session.shown, session.clicked):
                    if is_clicked and article in index:
                        clicked[index[article]] = True
                negatives = np.flatnonzero(~clicked)
                if negatives.size == 0:
                    continue
                for article, w in zip(session.shown, weight.tolist()):
                    if w > 0 and article in index:
                        pair_weight[index[article], negatives] += w / negatives.size
            pair_weight /= len(logged)
            better, worse = np.nonzero(pair_weight)
            if better.size == 0:
                continue
            total = pair_weight[better, worse].sum()
            better, worse, _ = self._sample(rng, better, worse)
            w = pair_weight[better, worse]
            firsts.append((example, better))
            seconds.append(worse)
            weights.append(w * (total / w.sum()))
            used += 1
        if not used:
            raise ParameterError("sessions", "click sessions with a click on a candidate of the examples",
                                 f"{len(sessions)} sessions, none usable")
        popularity = None
        if self.popularity:
            popularity = {}
            for example in examples:
                mine = own.get(example.query_id, {})
                popularity[example.query_id] = np.log1p(np.maximum(
                    [counts.get(a, 0.0) - mine.get(a, 0.0) for a in example.article_ids], 0.0))
        self._fit_pairs(examples, firsts, seconds, weights, popularity=popularity)
        self.popularity_ = ({a: float(np.log1p(c)) for a, c in sorted(counts.items())} if self.popularity else {})
        self.training_ = {"method": "pairwise logistic regression on click logs, inverse propensity weighted",
                          "queries": used, "sessions": len(sessions), "pairs": int(sum(w.size for w in weights)),
                          "propensity": f"max((1/rank)^{self.propensity_eta}, {self.propensity_clip})"}
        return self

    def _click_weights(self, session: ClickSession) -> np.ndarray:
        ranks = np.arange(1, len(session.shown) + 1)
        weight = 1.0 / propensity(ranks, self.propensity_eta, self.propensity_clip)
        weight = weight * (1.0 + self.solved_weight * np.asarray(session.solved, dtype=np.float64))
        return weight * np.asarray(session.clicked, dtype=np.float64)

    def _sample(self, rng: np.random.Generator, better: np.ndarray,
                worse: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        if better.size <= self.max_pairs_per_query:
            return better, worse, 1.0
        keep = np.sort(rng.choice(better.size, self.max_pairs_per_query, replace=False))
        return better[keep], worse[keep], better.size / keep.size

    def _fit_pairs(self, examples: Sequence[QueryExamples], firsts: list, seconds: list, weights: list,
                   popularity: Mapping[str, np.ndarray] | None) -> None:
        from sklearn.linear_model import LogisticRegression

        def matrix(example: QueryExamples) -> np.ndarray:
            if popularity is None:
                return example.features
            return np.column_stack([example.features, popularity[example.query_id]])

        names = BASE_FEATURES + ((POPULARITY,) if popularity is not None else ())
        every = np.vstack([matrix(e) for e in examples])
        mean = every.mean(axis=0)
        scale = every.std(axis=0)
        scale[scale < 1e-12] = 1.0  # a constant feature keeps weight 0
        diffs = []
        for (example, better), worse in zip(firsts, seconds):
            x = (matrix(example) - mean) / scale
            diffs.append(x[better] - x[worse])
        d = np.vstack(diffs)
        w = np.concatenate(weights)
        w = w * (w.size / w.sum())  # mean weight 1, so C means the same for any number of queries
        # Newton steps converge in a few iterations here (many pairs, a few dozen features); lbfgs needs
        # thousands on the rare facts (a locale mismatch, say) to reach the same coefficients.
        model = LogisticRegression(C=float(self.C), fit_intercept=False, solver="newton-cholesky", max_iter=100,
                                   tol=1e-8)
        labels = np.r_[np.ones(d.shape[0]), np.zeros(d.shape[0])]
        model.fit(np.vstack([d, -d]), labels, sample_weight=np.r_[w, w])
        self.feature_names_ = names
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = 0.0
        self.mean_ = mean
        self.scale_ = scale
        self.popularity_ = {}

    # -- scoring -------------------------------------------------------------------------------------------
    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """The score of each row of ``features`` (rows x ``feature_names_``): higher ranks first."""
        self._check_fitted()
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(self.feature_names_):
            raise ParameterError("features", f"a 2-d array with {len(self.feature_names_)} columns "
                                 f"({', '.join(self.feature_names_[:3])}, ...)", features.shape)
        return ((features - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    def effective_weights(self) -> tuple[np.ndarray, float]:
        """``(w, b)`` with ``decision_function(x) == x @ w + b`` (standardization folded in)."""
        self._check_fitted()
        w = self.coef_ / self.scale_
        return w, float(self.intercept_ - np.dot(self.coef_, self.mean_ / self.scale_))

    def coefficients(self) -> dict[str, float]:
        """Feature name -> coefficient in standardized units (comparable across features)."""
        self._check_fitted()
        return dict(zip(self.feature_names_, self.coef_.tolist()))

    # -- persistence (JSON, no pickle) ---------------------------------------------------------------------
    def _payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "kbrank_version": __version__,
            "model": "linear: score = ((x - mean) / scale) . coef + intercept",
            "feature_names": list(self.feature_names_), "coef": [float(v) for v in self.coef_],
            "intercept": float(self.intercept_), "mean": [float(v) for v in self.mean_],
            "scale": [float(v) for v in self.scale_], "popularity": dict(self.popularity_),
            "params": {"C": self.C, "max_pairs_per_query": self.max_pairs_per_query,
                       "propensity_eta": self.propensity_eta, "propensity_clip": self.propensity_clip,
                       "solved_weight": self.solved_weight, "popularity": self.popularity, "seed": self.seed},
            "training": dict(getattr(self, "training_", {})),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to one JSON file (with a checksum of its content); replaced atomically."""
        self._check_fitted()
        payload = self._payload()
        payload["sha256"] = _checksum(payload)
        with atomic_open(Path(path)) as handle:
            json.dump(payload, handle, indent=1)
            handle.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LearnedReranker:
        """Read what `save` wrote; `IndexFormatError` if the file is not one, was changed, or is newer."""
        where = str(path)
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise IndexFormatError(f"cannot read a learned reranker ({error})", path=where,
                                   fix="point to a file written by LearnedReranker.save") from error
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise IndexFormatError(f"not a learned reranker (format {found!r}, expected {FORMAT!r})", path=where,
                                   fix="point to a file written by LearnedReranker.save")
        if payload.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(f"format version {payload.get('format_version')!r} is not supported "
                                   f"(this kbrank reads {FORMAT_VERSION})", path=where,
                                   fix="retrain, or upgrade kbrank")
        stored = payload.pop("sha256", None)
        if stored != _checksum(payload):
            raise IndexFormatError("the checksum does not match the content (the file was changed)", path=where,
                                   fix="retrain and save the model again")
        names = tuple(payload["feature_names"])
        unknown = sorted(set(names) - set(BASE_FEATURES) - {POPULARITY})
        sizes = {len(payload[k]) for k in ("coef", "mean", "scale")}
        if unknown or sizes != {len(names)}:
            raise IndexFormatError(f"inconsistent model: unknown features {unknown} or coefficient lengths "
                                   f"{sorted(sizes)} for {len(names)} features", path=where, fix="retrain")
        model = cls(**payload["params"])
        model.feature_names_ = names
        model.coef_ = np.asarray(payload["coef"], dtype=np.float64)
        model.intercept_ = float(payload["intercept"])
        model.mean_ = np.asarray(payload["mean"], dtype=np.float64)
        model.scale_ = np.asarray(payload["scale"], dtype=np.float64)
        model.popularity_ = {str(k): float(v) for k, v in payload["popularity"].items()}
        model.training_ = dict(payload.get("training", {}))
        return model


class LearnedPersonalizer(Personalizer):
    """A `Personalizer` whose promote/demote deltas are replaced by a fitted `LearnedReranker`'s score.

    Parameters (keyword-only) are the `Personalizer`'s plus ``reranker`` (a fitted `LearnedReranker`). The
    policy (``policy``, default `default_policy`) contributes only its hide rules. See the module docstring.
    """

    def __init__(self, *, reranker: LearnedReranker, policy: Policy | None = None, today: dt.date | None = None,
                 product_aliases: Mapping[str, Sequence[str]] | None = None, analyzer: Any = None,
                 usage_half_life_days: float = 30.0, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        super().__init__(policy=policy, today=today, product_aliases=product_aliases, analyzer=analyzer,
                         usage_half_life_days=usage_half_life_days, cache_bytes=cache_bytes)
        self.reranker = reranker

    def fit(self, corpus: Any, applicability: Applicability | None = None) -> LearnedPersonalizer:
        if not isinstance(self.reranker, LearnedReranker):
            raise ParameterError("reranker", "a fitted LearnedReranker", type(self.reranker).__name__)
        self.reranker._check_fitted()
        names = self.reranker.feature_names_
        if names[:len(RETRIEVAL_FEATURES)] != RETRIEVAL_FEATURES:
            raise ParameterError("reranker", f"a model whose first features are {RETRIEVAL_FEATURES}",
                                 names[:len(RETRIEVAL_FEATURES)])
        super().fit(corpus, applicability)
        self.hide_policy_ = Policy(tuple(r for r in self.policy_.rules if r.action == "hide"))
        self.bounds_ = _bounds(self.applicability_)
        weights, self.constant_ = self.reranker.effective_weights()
        split = len(RETRIEVAL_FEATURES)
        self.retrieval_weights_ = weights[:split]
        self.article_names_ = names[split:]
        self.article_weights_ = weights[split:]
        known = self.reranker.popularity_
        self.popularity_vector_ = np.asarray([known.get(a.id, 0.0) for a in corpus], dtype=np.float64)
        return self

    def _ages(self) -> np.ndarray:
        """Article ages for today's date (computed once per date)."""
        today = self.today or dt.date.today()
        cached = getattr(self, "_ages_cache", None)
        if cached is None or cached[0] != today:
            self._ages_cache = (today, article_ages(self.applicability_, today))
        return self._ages_cache[1]

    def _make_plan(self, view: Any, named: tuple[str, ...], facts: dict[str, np.ndarray]) -> Plan:
        """The policy's hide mask and, per article, the learned score of its article features."""
        facts.update(version_features(self.applicability_, self.bounds_, view, named))
        hides = self.hide_policy_.apply({name: facts[name] for name in FACTS})
        block = article_features(facts, self._ages(), self.article_names_, {POPULARITY: self.popularity_vector_})
        return Plan(named=named, hide=hides.hide, delta=(block @ self.article_weights_).astype(np.float32))

    def rerank(self, candidates: Candidates, plan: Plan, k: int) -> tuple[Candidates, np.ndarray]:
        """The best ``k`` candidates by learned score; hidden rows are dropped. Returns them (scores are the
        learned scores; sources keep the retrieval ranks) and each one's normalized retrieval score."""
        keep = ~plan.hide[candidates.rows]
        if not keep.all():
            sources = {n: SourceScores(s.ranks[keep], s.scores[keep]) for n, s in candidates.sources.items()}
            candidates = Candidates(candidates.rows[keep], candidates.scores[keep], sources)
        if len(candidates) == 0:
            return Candidates.empty(), np.empty(0)
        rows = candidates.rows
        columns = retrieval_columns(candidates)
        final = plan.delta[rows] + self.constant_
        for weight, column in zip(self.retrieval_weights_.tolist(), columns):
            if weight:
                final += weight * column
        order = np.argsort(-final, kind="stable")[:k]  # ties keep the retrieval order
        return (Candidates(rows=rows[order], scores=final[order],
                           sources={n: SourceScores(s.ranks[order], s.scores[order])
                                    for n, s in candidates.sources.items()}),
                columns[0][order])

    def explain(self, rows: np.ndarray, view: Any, plan: Plan) -> list[tuple[Contribution, ...]]:
        """For each of ``rows``: the article features that moved it (``learned:<feature>``, its term ``w x``,
        and why), computed for those rows only."""
        rows = np.asarray(rows, dtype=np.int64)
        facts = _feature_plan(self, view, plan, self.bounds_, rows)
        values = article_features(facts, self._ages()[rows], self.article_names_,
                                  {POPULARITY: self.popularity_vector_[rows]})
        out = []
        for j, row in enumerate(rows.tolist()):
            article = self.corpus_[row]
            terms = []
            for name, weight, value in zip(self.article_names_, self.article_weights_.tolist(), values[j].tolist()):
                delta = weight * value
                if abs(delta) > 1e-12:
                    terms.append(Contribution(f"learned:{name}", "promote" if delta > 0 else "demote", delta,
                                              self._reason(name, article, view, plan)))
            out.append(tuple(terms))
        return out

    @staticmethod
    def _reason(name: str, article: Any, view: Any, plan: Plan) -> str:
        if name in FACTS:
            return reason_for(name, article, view, plan.named)
        if name in ("version_gap_below", "version_gap_above"):
            return reason_for("version_near_miss", article, view, plan.named)
        if name == "article_age_years":
            return f"last updated {article.updated_at.isoformat()}" if article.updated_at else "date unknown"
        return "often opened by other customers"
