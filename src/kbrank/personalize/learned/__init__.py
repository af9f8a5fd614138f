"""The learned reranker, in three parts by job: `training` (each training query's candidates and features),
`model` (`LearnedReranker`: a linear model fitted from graded judgments or from position-biased clicks, saved
as JSON) and `personalizer` (`LearnedPersonalizer`, a drop-in `Personalizer`).

`LearnedPersonalizer` is a drop-in `Personalizer` (pass it to ``Searcher(personalizer=...)``):

- *hides* still come from the policy's hide rules (default: `default_policy`), before any top-k, exactly as
  with the rule policy, and are explained the same way;
- the *learned score replaces* the policy's promote and demote deltas: a candidate's final score is
  ``w . x`` over the features of `kbrank.personalize.features` (retrieval scores and ranks per source, the
  profile facts, version distance, article age, and popularity when trained from clicks);
- each result's receipt lists the article features that moved it (``learned:<feature>``, the term
  ``w_j x_j``, and the same human-readable reason the rule would give), never a value the view does not hold.

Click logs for `LearnedReranker.fit_clicks` are any objects with ``query_id``, ``shown``, ``clicked`` and
``solved`` (`ClickLog`); `kbrank.evaluation.simulate_clicks` draws them from graded judgments, for tests and
benchmarks (click simulation is evaluation's job, not personalization's).
"""

from .model import FORMAT, FORMAT_VERSION, POPULARITY, LearnedReranker
from .personalizer import LearnedPersonalizer
from .training import BASE_FEATURES, ClickLog, QueryExamples, collect_examples, propensity

__all__ = ["BASE_FEATURES", "ClickLog", "FORMAT", "FORMAT_VERSION", "LearnedPersonalizer", "LearnedReranker",
           "POPULARITY", "QueryExamples", "collect_examples", "propensity"]
