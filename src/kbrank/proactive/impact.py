"""The impact policy: does this issue's impact warrant contacting this affected customer?

A policy is an ordered tuple of `ImpactRule`; the first rule that matches decides, and its ``reason`` is the
explanation kept for each customer. A rule matches on the issue's impact, the customer's segment and the
outcome of the issue's usage condition for them (``"in"``: they use the feature; ``"unknown"``: the customer
did not consent to usage analysis, so nobody knows; ``"open"``: the issue has no usage condition). Empty
means "any". A policy must end with a catch-all rule, so every customer gets a decision.

`DEFAULT_POLICY`, in order:

=====================================  ===========  =====  ==========================================================
impact                                 segment      usage  decision
=====================================  ===========  =====  ==========================================================
cosmetic                               any          any    no contact: a cosmetic issue is not worth an interruption
degraded                               pro,         any    contact: professional and business customers depend on it
                                       business
degraded                               any          in     contact: the customer uses the affected feature
degraded                               any          any    no contact: a consumer not known to use the feature
broken, outage, data-loss              any          any    contact: the product does not work as it should
=====================================  ===========  =====  ==========================================================

The decision is evaluated once per (segment, usage outcome) pair, never per customer
(`ImpactPolicy.decision_table`), and broadcast over the audience.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..errors import ParameterError
from .issues import IMPACTS

__all__ = ["USAGE_OUTCOMES", "ImpactRule", "ImpactDecision", "ImpactPolicy", "DEFAULT_POLICY"]

#: How the usage condition came out for one customer.
USAGE_OUTCOMES = ("in", "unknown", "open")


def _names(name: str, value: object, allowed: Sequence[str] | None = None) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, Iterable) else None
    names = tuple(v for v in items or () if isinstance(v, str) and v)
    if items is None or len(names) != len(items):
        raise ParameterError(name, "a name or a tuple of names", value)
    bad = [v for v in names if allowed is not None and v not in allowed]
    if bad:
        raise ParameterError(name, f"names among {', '.join(allowed or ())}", bad)
    return names


@dataclass(frozen=True)
class ImpactDecision:
    """The outcome for one customer: whether to ``contact`` them, and why (``reason``, the rule's)."""

    contact: bool
    reason: str


@dataclass(frozen=True)
class ImpactRule:
    """``contact`` (or not) when the issue's impact is in ``impacts``, the customer's segment in ``segments``
    and the usage outcome in ``usage`` (each empty = any); ``reason`` explains the decision."""

    contact: bool
    reason: str
    impacts: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    usage: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.contact, bool):
            raise ParameterError("contact", "True or False", self.contact)
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ParameterError("reason", "a non-empty explanation", self.reason)
        object.__setattr__(self, "impacts", _names("impacts", self.impacts, IMPACTS))
        object.__setattr__(self, "segments", _names("segments", self.segments))
        object.__setattr__(self, "usage", _names("usage", self.usage, USAGE_OUTCOMES))

    @property
    def catch_all(self) -> bool:
        return not (self.impacts or self.segments or self.usage)

    def matches(self, impact: str, segment: str | None, usage: str) -> bool:
        """Whether the rule applies; an unknown segment (``None``) matches only a rule open on segments."""
        return ((not self.impacts or impact in self.impacts)
                and (not self.segments or segment in self.segments)
                and (not self.usage or usage in self.usage))

    @property
    def decision(self) -> ImpactDecision:
        return ImpactDecision(self.contact, self.reason)


@dataclass(frozen=True)
class ImpactPolicy:
    """An ordered list of rules; the first match decides. The last rule must match everything."""

    rules: tuple[ImpactRule, ...]

    def __post_init__(self) -> None:
        rules = tuple(self.rules)
        if not rules or not all(isinstance(r, ImpactRule) for r in rules):
            raise ParameterError("rules", "a non-empty tuple of ImpactRule", self.rules)
        if not rules[-1].catch_all:
            raise ParameterError("rules", "a tuple whose last rule matches everything (no impacts, segments, usage)",
                                 rules[-1], hint="Add ImpactRule(contact=False, reason='...') at the end.")
        object.__setattr__(self, "rules", rules)

    def rule_for(self, impact: str, segment: str | None, usage: str) -> int:
        """The index of the deciding rule."""
        if impact not in IMPACTS:
            raise ParameterError("impact", f"one of {', '.join(IMPACTS)}", impact)
        if usage not in USAGE_OUTCOMES:
            raise ParameterError("usage", f"one of {', '.join(USAGE_OUTCOMES)}", usage)
        return next(n for n, rule in enumerate(self.rules) if rule.matches(impact, segment, usage))

    def decide(self, impact: str, segment: str | None, usage: str) -> ImpactDecision:
        """The decision, with its reason, for one customer."""
        return self.rules[self.rule_for(impact, segment, usage)].decision

    def decision_table(self, impact: str, segments: Sequence[str]) -> list[list[int]]:
        """Rule index per (segment code, usage outcome); the last segment row is the unknown segment."""
        return [[self.rule_for(impact, segment, usage) for usage in USAGE_OUTCOMES]
                for segment in (*segments, None)]


#: The documented default (see the module docstring).
DEFAULT_POLICY = ImpactPolicy((
    ImpactRule(False, "cosmetic: not worth an interruption", impacts=("cosmetic",)),
    ImpactRule(True, "degraded: professional and business customers depend on it", impacts=("degraded",),
               segments=("pro", "business")),
    ImpactRule(True, "degraded: the customer uses the affected feature", impacts=("degraded",), usage=("in",)),
    ImpactRule(False, "degraded: a consumer not known to use the affected feature", impacts=("degraded",)),
    ImpactRule(True, "the product does not work as it should", impacts=("broken", "outage", "data-loss")),
    ImpactRule(False, "no rule asks for contact"),
))
