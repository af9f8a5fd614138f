"""`LearnedReranker`: a linear scoring model over (query, candidate) features, fitted from graded judgments
or from click logs corrected for position bias, and saved as one JSON file (no pickle).

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

`LearnedReranker.fit_clicks` learns from click logs (`ClickLog`: what was shown, what was clicked, which
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
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..._io import atomic_open, sha256_bytes
from ..._version import __version__
from ...errors import IndexFormatError, NotFittedError, ParameterError
from .training import BASE_FEATURES, ClickLog, QueryExamples, propensity

__all__ = ["BASE_FEATURES", "FORMAT", "FORMAT_VERSION", "POPULARITY", "LearnedReranker"]

FORMAT = "kbrank-learned-reranker"
FORMAT_VERSION = 1
#: The name of the click-popularity feature (present only in models fitted from click logs).
POPULARITY = "popularity"


def _check_session(session: Any, number: int) -> None:
    """A click log must name its query and give shown, clicked and solved of one length."""
    try:
        lengths = (len(session.shown), len(session.clicked), len(session.solved))
        query_id = session.query_id
    except (AttributeError, TypeError):
        raise ParameterError(f"sessions[{number}]", "a click log with query_id, shown, clicked and solved "
                             "(see kbrank.evaluation.ClickSession)", type(session).__name__) from None
    if not isinstance(query_id, str) or len(set(lengths)) != 1:
        raise ParameterError(f"sessions[{number}]", "a string query_id and shown, clicked and solved of the same "
                             "length", (query_id, *lengths))


def _checksum(payload: Mapping[str, Any]) -> str:
    """The model's checksum: kbrank's one format (hex sha256, `kbrank._io.sha256_bytes`) over canonical JSON."""
    return sha256_bytes(json.dumps(payload, sort_keys=True).encode("utf-8"))


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

    def fit_clicks(self, examples: Sequence[QueryExamples], sessions: Sequence[ClickLog]) -> LearnedReranker:
        """Learn from click logs with inverse propensity weighting (see the module docstring)."""
        self._check_params()
        self._check_examples(examples)
        by_query: dict[str, list[ClickLog]] = {}
        for number, session in enumerate(sessions):
            _check_session(session, number)
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
            query_sessions = by_query.get(example.query_id)
            if not query_sessions:
                continue
            index = {a: i for i, a in enumerate(example.article_ids)}
            n = len(example.article_ids)
            pair_weight = np.zeros((n, n))
            for session in query_sessions:
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
            pair_weight /= len(query_sessions)
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

    def _click_weights(self, session: ClickLog) -> np.ndarray:
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

    def _fit_pairs(self, examples: Sequence[QueryExamples], firsts: list[tuple[QueryExamples, np.ndarray]],
                   seconds: list[np.ndarray], weights: list[np.ndarray], popularity: Mapping[str, np.ndarray] | None) -> None:
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
        scores: np.ndarray = ((features - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        return scores

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

