"""Personalization: the sixth stage of the flow (... -> fusion -> personalization -> explained results).

`kbrank.applicability` compiles who each article is for; `profile_facts` matches a profile view against it;
a `Policy` of hide/promote/demote `Rule`s turns facts into a hide mask and score deltas; the
`Personalizer` applies them to candidates and explains every move. `LearnedPersonalizer` keeps the policy's
hides and replaces its promotes and demotes by a `LearnedReranker`, a linear model trained from graded
judgments or from click logs (see `kbrank.personalize.learned`; click logs are simulated by
`kbrank.evaluation.simulate_clicks`).
"""

from .facts import FACTS, profile_facts
from .learned import LearnedPersonalizer, LearnedReranker, collect_examples
from .personalizer import DEFAULT_CACHE_BYTES, Contribution, Personalizer, Plan, is_personalized
from .policy import Policy, Rule, default_policy

__all__ = ["Contribution", "DEFAULT_CACHE_BYTES", "FACTS", "LearnedPersonalizer", "LearnedReranker",
           "Personalizer", "Plan", "Policy", "Rule", "collect_examples", "default_policy", "is_personalized",
           "profile_facts"]
