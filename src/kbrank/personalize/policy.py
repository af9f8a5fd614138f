"""Declarative personalization rules: ``hide``, ``promote`` and ``demote``, each over one fact, composed in a
`Policy`. The default policy is documented rule by rule in `default_policy`.

A rule fires on an article where its fact ``when`` is non-zero and none of its ``unless`` facts is. A hide
rule removes the article before any top-k is taken; promote and demote rules add ``+weight * fact`` or
``-weight * fact`` to the article's normalized retrieval score (the fused score scaled to [0, 1] over the
candidates), so a weight of 0.3 moves an article by 30% of the retrieval score range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import ParameterError
from .facts import FACTS

__all__ = ["Rule", "Policy", "PolicyEffect", "default_policy", "ACTIONS"]

ACTIONS = ("hide", "promote", "demote")


@dataclass(frozen=True)
class Rule:
    name: str
    action: str
    when: str
    weight: float = 0.0
    unless: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ParameterError("action", f"one of {ACTIONS}", self.action)
        for fact in (self.when, *self.unless):
            if fact not in FACTS:
                import difflib

                close = difflib.get_close_matches(fact, FACTS, n=1)
                raise ParameterError("when", f"a fact among {FACTS}", fact,
                                     hint=f"did you mean {close[0]!r}?" if close else None)
        if self.action != "hide" and not self.weight > 0:
            raise ParameterError("weight", "a number > 0 for promote and demote rules", self.weight)


@dataclass(frozen=True)
class PolicyEffect:
    """What a policy does to every article for one customer and query."""

    hide: np.ndarray  # bool per article
    hide_rule: np.ndarray  # int per article: index of the first hide rule that fired, -1 if none
    delta: np.ndarray  # float per article: the sum of promote/demote contributions
    contributions: np.ndarray  # float, rules x articles (0 where a rule did not fire)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ParameterError("rules", "rules with unique names", names)

    def apply(self, facts: Mapping[str, np.ndarray]) -> PolicyEffect:
        n = next(iter(facts.values())).shape[0]
        contributions = np.zeros((len(self.rules), n))
        hide_rule = np.full(n, -1, dtype=np.int64)
        for i, rule in enumerate(self.rules):
            value = facts[rule.when]
            if rule.unless:
                value = value * (np.max([facts[u] for u in rule.unless], axis=0) == 0)
            if rule.action == "hide":
                fired = (value != 0) & (hide_rule < 0)
                hide_rule[fired] = i
            else:
                contributions[i] = (rule.weight if rule.action == "promote" else -rule.weight) * value
        return PolicyEffect(hide=hide_rule >= 0, hide_rule=hide_rule, delta=contributions.sum(axis=0),
                            contributions=contributions)


def default_policy() -> Policy:
    """The shipped policy, rule by rule (weights in units of the normalized retrieval score):

    hide
        ``not-owned-product``: articles only for products the customer does not own, unless the query names
        the product (a pre-sales or gift question). ``other-region``: articles restricted to other regions.
        ``expired`` and ``archived``: outside their validity window, or archived.
    promote
        ``owned-product`` +0.30 (an active product the customer owns); ``version-match`` +0.30 (their
        version is in the article's range); ``known-issue`` +0.20 (an active known issue affecting their
        version); ``platform-match`` +0.15; ``recent-usage`` +0.15 x recency (a feature they used, halving
        every 30 days); ``named-product`` +0.30 (the product the query names).
    demote
        ``version-near-miss`` -0.40 ("fixed in 2.4, you run 2.5"); ``returned-or-retired`` -0.30;
        ``platform-mismatch`` -0.40; ``other-locale`` -0.30; ``other-audience`` -0.30; ``deprecated``
        -0.30; ``other-product`` -0.40 (the query names a different product); ``general`` -0.10 (general
        articles rank below specific ones).
    """
    return Policy((
        Rule("not-owned-product", "hide", "not_owned", unless=("named_product",),
             description="hide articles for products the customer does not own"),
        Rule("other-region", "hide", "region_mismatch", description="hide other regions' articles"),
        Rule("expired", "hide", "expired", description="hide articles past their validity window"),
        Rule("archived", "hide", "archived", description="hide archived articles"),
        Rule("owned-product", "promote", "owned_product", 0.30, description="promote articles for owned products"),
        Rule("version-match", "promote", "version_match", 0.30, description="promote exact version matches"),
        Rule("known-issue", "promote", "active_known_issue", 0.20,
             description="promote active known issues that affect the customer's version"),
        Rule("platform-match", "promote", "platform_match", 0.15, description="promote platform matches"),
        Rule("recent-usage", "promote", "recent_usage", 0.15, description="promote features used recently"),
        Rule("named-product", "promote", "named_product", 0.30, description="promote the product the query names"),
        Rule("version-near-miss", "demote", "version_near_miss", 0.40, description="demote near-miss versions"),
        Rule("returned-or-retired", "demote", "owned_inactive", 0.30,
             description="demote returned or retired products"),
        Rule("platform-mismatch", "demote", "platform_mismatch", 0.40, description="demote other platforms"),
        Rule("other-locale", "demote", "locale_mismatch", 0.30, description="demote other locales"),
        Rule("other-audience", "demote", "audience_mismatch", 0.30, description="demote other audiences"),
        Rule("deprecated", "demote", "deprecated", 0.30, description="demote deprecated articles"),
        Rule("other-product", "demote", "other_product", 0.40,
             description="demote products other than the one the query names"),
        Rule("general", "demote", "general", 0.10, description="demote general articles below specific ones"),
    ))
