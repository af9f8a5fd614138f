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

from ..errors import ParameterError, suggestion
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
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError("name", "a non-empty string", self.name)
        object.__setattr__(self, "unless", tuple(self.unless))
        if self.action not in ACTIONS:
            raise ParameterError("action", f"one of {ACTIONS}", self.action)
        for fact in (self.when, *self.unless):
            if not isinstance(fact, str):
                raise ParameterError("when", f"a fact name among {FACTS}", fact)
            if fact not in FACTS:
                raise ParameterError("when", f"a fact among {FACTS}", fact, hint=suggestion(fact, FACTS))
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)):
            raise ParameterError("weight", "a number", self.weight)
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
        object.__setattr__(self, "rules", tuple(self.rules))
        if not all(isinstance(r, Rule) for r in self.rules):
            raise ParameterError("rules", "a sequence of Rule objects", self.rules)
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ParameterError("rules", "rules with unique names", names)

    def to_records(self) -> list[dict[str, object]]:
        """The rules as JSON-ready dicts (what `from_records` reads back)."""
        return [{"name": r.name, "action": r.action, "when": r.when, "weight": r.weight, "unless": list(r.unless),
                 "description": r.description} for r in self.rules]

    @classmethod
    def from_records(cls, records: object) -> Policy:
        """A policy from `to_records` output; every rule is validated as if written by hand."""
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ParameterError("policy", "a list of rule objects", records)
        fields = ("name", "action", "when", "weight", "unless", "description")
        for record in records:
            extra = sorted(set(record) - set(fields))
            if extra:
                raise ParameterError("policy", f"rules with the fields {fields}", extra)
        return cls(tuple(Rule(**record) for record in records))

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

    def hide_and_delta(self, facts: Mapping[str, np.ndarray | None], n: int) -> tuple[np.ndarray, np.ndarray]:
        """`apply`'s ``hide`` and ``delta`` alone, from `fact_columns` output (``None``: zero everywhere), for
        ``n`` articles. The rules that cannot fire are skipped, and the others' contributions are added in
        rule order, as `apply` sums them, so the deltas are the same floats."""
        hide = np.zeros(n, bool)
        delta, term = np.zeros(n), np.empty(n)  # one scratch array for every term (no allocation per rule)
        for rule in self.rules:
            value = facts[rule.when]
            if value is None:
                continue
            blockers = [blocker for blocker in (facts[u] for u in rule.unless) if blocker is not None]
            if rule.action == "hide":
                fired = value if value.dtype == bool else value != 0
                if blockers:
                    fired = fired & (np.max(blockers, axis=0) == 0)
                hide |= fired
                continue
            if blockers:
                value = value * (np.max(blockers, axis=0) == 0)
            weight = rule.weight if rule.action == "promote" else -rule.weight
            np.add(delta, np.multiply(value, weight, out=term), out=delta)
        return hide, delta

    @property
    def hide_facts(self) -> frozenset[str]:
        """The facts the hide rules read (their ``when`` and ``unless``): all a hide mask needs."""
        return frozenset(f for r in self.rules if r.action == "hide" for f in (r.when, *r.unless))

    def hide_mask(self, facts: Mapping[str, np.ndarray | None], n: int) -> np.ndarray:
        """`apply`'s ``hide`` alone, from `fact_columns` output (``None``: false everywhere) for ``n``
        articles, without computing any delta."""
        hide = np.zeros(n, bool)
        for rule in self.rules:
            value = facts[rule.when] if rule.action == "hide" else None
            if value is None:
                continue
            fired = value if value.dtype == bool else value != 0
            blockers = [blocker for blocker in (facts[u] for u in rule.unless) if blocker is not None]
            if blockers:
                fired = fired & (np.max(blockers, axis=0) == 0)
            hide |= fired
        return hide


def default_policy() -> Policy:
    """The shipped policy, rule by rule (weights in units of the normalized retrieval score):

    hide
        ``not-owned-product``: articles only for products the customer does not own, unless the query names
        the product (a pre-sales or gift question). ``other-region``: articles restricted to other regions.
        ``expired`` and ``archived``: outside their validity window, or archived.
    promote (evidence that the article is about the customer's own product, release and setup)
        ``owned-product`` +0.15 (an active product the customer owns); ``named-product`` +0.15 (the product
        the query names); ``version-match`` +0.10 (their version is in the article's range);
        ``known-issue`` +0.05 (an active known issue affecting their version); ``platform-match`` +0.05;
        ``recent-usage`` +0.05 x recency (a feature they used, halving every 30 days).
    demote (evidence that the article does not apply to the customer)
        ``version-near-miss`` -1.0 ("fixed in 2.4, you run 2.5"); ``older-releases`` -1.0 (a pre-sales
        question about a product they do not own, and the article's range stops at an upper bound, so it is
        not about the release they would get); ``returned-or-retired`` -1.0; ``platform-mismatch`` -1.0;
        ``other-locale`` -1.0; ``other-audience`` -1.0; ``deprecated`` -1.0 (a newer edition exists);
        ``other-product`` -1.0 (the query names a different product); ``general`` -0.05 (general articles
        rank just below equally good specific ones).

    How the weights were chosen. Two rules first: a demote is a verdict ("this does not apply to you"), so
    it is worth the whole retrieval score range (1.0), more than every promote together (0.55 at most): an
    inapplicable article ranks below every applicable candidate that retrieval found, yet still shows when
    nothing else matches (unlike a hide, which a stale profile could make wrong). A promote only orders
    applicable articles, so it stays small: 0.15 for "which product" (owned, named), 0.05 to 0.10 for
    the finer evidence (version, known issue, platform, usage). The first version of this policy promoted
    by 0.2 to 0.3 per rule: stacks of +0.9 lifted articles that barely matched the query's words over the
    on-topic whole-line page and pushed relevant results out of the top 10 for 4% of the demo's queries,
    while demotes of 0.3 to 0.4 were outweighed by two promotes, so deprecated or wrong-version pages kept
    top-3 places. Among a handful of variants of the small promotes compared on the demo (seed 0, BM25 and
    hybrid) and checked on a second generated help centre (seed 1), these gave the lowest harm rate for
    nearly the best nDCG; the figures are in ``benchmarks/results/personalization.md``. Fused (RRF)
    scores are bunched, so in hybrid search even 0.1 is worth several ranks: keep promotes small.
    """
    return Policy((
        Rule("not-owned-product", "hide", "not_owned", unless=("named_product",),
             description="hide articles for products the customer does not own"),
        Rule("other-region", "hide", "region_mismatch", description="hide other regions' articles"),
        Rule("expired", "hide", "expired", description="hide articles past their validity window"),
        Rule("archived", "hide", "archived", description="hide archived articles"),
        Rule("owned-product", "promote", "owned_product", 0.15, description="promote articles for owned products"),
        Rule("version-match", "promote", "version_match", 0.10, description="promote exact version matches"),
        Rule("known-issue", "promote", "active_known_issue", 0.05,
             description="promote active known issues that affect the customer's version"),
        Rule("platform-match", "promote", "platform_match", 0.05, description="promote platform matches"),
        Rule("recent-usage", "promote", "recent_usage", 0.05, description="promote features used recently"),
        Rule("named-product", "promote", "named_product", 0.15, description="promote the product the query names"),
        Rule("version-near-miss", "demote", "version_near_miss", 1.0, description="demote near-miss versions"),
        Rule("older-releases", "demote", "older_releases", 1.0,
             description="demote older releases' articles for a product asked about but not owned"),
        Rule("returned-or-retired", "demote", "owned_inactive", 1.0,
             description="demote returned or retired products"),
        Rule("platform-mismatch", "demote", "platform_mismatch", 1.0, description="demote other platforms"),
        Rule("other-locale", "demote", "locale_mismatch", 1.0, description="demote other locales"),
        Rule("other-audience", "demote", "audience_mismatch", 1.0, description="demote other audiences"),
        Rule("deprecated", "demote", "deprecated", 1.0, description="demote deprecated articles"),
        Rule("other-product", "demote", "other_product", 1.0,
             description="demote products other than the one the query names"),
        Rule("general", "demote", "general", 0.05, description="demote general articles below specific ones"),
    ))
