"""Personalization: the sixth stage of the flow (... -> fusion -> personalization -> explained results).

`Applicability` compiles who each article is for; `profile_facts` matches a profile view against it;
a `Policy` of hide/promote/demote `Rule`s turns facts into a hide mask and score deltas; the
`Personalizer` applies them to candidates and explains every move.
"""

from .applicability import Applicability, compile_applicability, parse_version, version_in
from .facts import FACTS, profile_facts
from .personalizer import Contribution, Personalizer, Plan, is_personalized
from .policy import Policy, Rule, default_policy

__all__ = ["Applicability", "Contribution", "FACTS", "Personalizer", "Plan", "Policy", "Rule",
           "compile_applicability", "default_policy", "is_personalized", "parse_version", "profile_facts",
           "version_in"]
