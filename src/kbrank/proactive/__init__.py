"""Proactive service: from a known issue to the customers it will hit (flow B of the design).

``KnownIssue`` (applicability, usage condition, impact, status lifecycle) -> ``select_affected`` (one audited
columnar scan through the privacy gate, vectorised with numpy; `kbrank.proactive.spark` for bases that outgrow
one machine) -> ``Audience`` (who, why, the impact decision, the consented channel).
"""

from .audience import PURPOSE, AffectedCustomer, Audience, AudienceGuard, select_affected, select_from_columns
from .impact import DEFAULT_POLICY, USAGE_OUTCOMES, ImpactDecision, ImpactPolicy, ImpactRule
from .issue_records import known_issue_from_record, known_issues_from_records, read_known_issues
from .issues import IMPACTS, ISSUE_STATUSES, TRANSITIONS, KnownIssue, StatusChange, UsageCondition

__all__ = [
    "DEFAULT_POLICY",
    "IMPACTS",
    "ISSUE_STATUSES",
    "PURPOSE",
    "TRANSITIONS",
    "USAGE_OUTCOMES",
    "AffectedCustomer",
    "Audience",
    "AudienceGuard",
    "ImpactDecision",
    "ImpactPolicy",
    "ImpactRule",
    "KnownIssue",
    "StatusChange",
    "UsageCondition",
    "known_issue_from_record",
    "known_issues_from_records",
    "read_known_issues",
    "select_affected",
    "select_from_columns",
]
