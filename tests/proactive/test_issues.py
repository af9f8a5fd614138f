"""Known issues: records, JSONL and YAML loaders (errors name file, line, field, value and fix), the status
lifecycle, and known-issue articles turned into issues."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from kbrank.applicability import Scope
from kbrank.corpus import Article
from kbrank.errors import InputError, KnownIssueError
from kbrank.proactive import (
    ISSUE_STATUSES,
    TRANSITIONS,
    KnownIssue,
    StatusChange,
    UsageCondition,
    known_issue_from_record,
    known_issues_from_records,
    read_known_issues,
)

RECORD = {
    "id": "ki-c10-night", "title": "Night vision stays off", "impact": "broken",
    "products": ["cam-c10"], "versions": {"cam-c10": ">=4.2,<4.3.2"}, "regions": ["eu"],
    "usage": {"feature": "night-vision", "within_days": 30},
    "status": "fix-scheduled", "eta": "2026-11-20", "workaround_article": "kb-0042",
    "fixed_in": {"cam-c10": "4.3.2"},
    "history": [{"status": "investigating", "at": "2026-10-02T09:00:00Z"},
                {"status": "workaround", "at": "2026-10-05T09:00:00Z", "note": "turn off HDR"},
                {"status": "fix-scheduled", "at": "2026-10-20T09:00:00Z", "eta": "2026-11-20"}],
}
AT = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)


def test_a_record_becomes_a_validated_issue_and_round_trips() -> None:
    issue = known_issue_from_record(RECORD)
    assert issue.scope == Scope(products=("cam-c10",), versions={"cam-c10": ">=4.2,<4.3.2"}, regions=("eu",))
    assert issue.usage == UsageCondition(feature=("night-vision",), within_days=30)
    assert issue.eta == dt.date(2026, 11, 20) and issue.status == "fix-scheduled" and issue.open
    assert [s.status for s in issue.history] == ["investigating", "workaround", "fix-scheduled"]
    assert issue.history[1].note == "turn off HDR"
    assert known_issue_from_record(json.loads(json.dumps(issue.to_record()))) == issue


def test_with_status_validates_the_transition_and_returns_a_new_issue() -> None:
    issue = known_issue_from_record(RECORD)
    fixed = issue.with_status("fixed", at=AT, note="4.3.2 released")
    assert (issue.status, fixed.status, fixed.eta, fixed.open) == ("fix-scheduled", "fixed", None, False)
    assert fixed.history[-1] == StatusChange("fixed", AT, None, "4.3.2 released")
    assert len(issue.history) == 3 and len(fixed.history) == 4
    slipped = issue.with_status("fix-scheduled", at=AT, eta=dt.date(2026, 12, 1))
    assert slipped.eta == dt.date(2026, 12, 1)
    with pytest.raises(KnownIssueError, match="cannot move from 'fix-scheduled' to 'investigating'") as info:
        issue.with_status("investigating")
    assert "it may move to fixed, closed" in str(info.value)
    with pytest.raises(KnownIssueError, match="from 'fix-scheduled' to 'fix-scheduled'"):
        issue.with_status("fix-scheduled")  # the same status without a new ETA says nothing
    closed = fixed.with_status("closed")
    with pytest.raises(KnownIssueError, match="nothing \\(it is final\\)"):
        closed.with_status("investigating")
    assert fixed.with_status("investigating", note="regression").status == "investigating"
    assert set(TRANSITIONS) == set(ISSUE_STATUSES)


@pytest.mark.parametrize(("change", "field", "text"), [
    ({"impact": "brokn"}, "impact", "did you mean 'broken'"),
    ({"impact": None}, "impact", "missing impact"),
    ({"versions": {"cam-c10": "=>4.2"}}, "versions.cam-c10", "not a PEP 440 version"),
    ({"versions": {"cam-c20": ">=1"}}, "versions.cam-c20", "names a product the issue does not list"),
    ({"products": [], "versions": {}, "fixed_in": {}}, "products", "names the products it affects"),
    ({"regoins": ["eu"]}, "regoins", "did you mean 'regions'"),
    ({"usage": {"feature": "x", "within_days": 0}}, "usage.within_days", "whole number of days"),
    ({"usage": {"within_days": 3}}, "usage.feature", "missing feature"),
    ({"eta": "next week"}, "eta", "expected an ISO date"),
    ({"history": [{"status": "investigating"}, {"status": "closed"}, {"status": "fixed"}]}, "history[2].status",
     "cannot move from 'closed' to 'fixed'"),
    ({"history": [{"status": "investigating", "at": "2026-10-02 09:00"}]}, "history[0].at", "time zone"),
    ({"status": "fixed"}, "status", "not the last status of the history"),
    ({"fixed_in": {"cam-c10": "soon"}}, "fixed_in.cam-c10", "expected a version"),
    ({"id": 7}, "id", "missing known-issue id"),
])
def test_bad_records_raise_errors_naming_the_field_line_and_fix(change: dict, field: str, text: str) -> None:
    record = {**RECORD, **change}
    with pytest.raises(KnownIssueError) as info:
        known_issues_from_records([RECORD | {"id": "other"}, record], source="issues.jsonl")
    error = info.value
    assert isinstance(error, InputError) and isinstance(error, ValueError)
    assert (error.source, error.line, error.field) == ("issues.jsonl", 2, field)
    assert text in str(error) and "Fix:" in str(error)


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(KnownIssueError, match="duplicate known-issue id.*first one is on line 1"):
        known_issues_from_records([RECORD, RECORD])


def test_jsonl_and_yaml_files_load_and_report_the_line(tmp_path: Path) -> None:
    jsonl = tmp_path / "issues.jsonl"
    jsonl.write_text(json.dumps(RECORD) + "\n\n" + json.dumps({**RECORD, "id": "b"}) + "\n", "utf-8")
    assert [i.id for i in read_known_issues(jsonl)] == ["ki-c10-night", "b"]
    jsonl.write_text(json.dumps(RECORD) + "\n{\"id\": \"b\", \"impact\": \n", "utf-8")
    with pytest.raises(KnownIssueError, match="line 2: malformed JSON"):
        read_known_issues(jsonl)
    yaml_file = tmp_path / "issues.yaml"
    yaml_file.write_text(
        "issues:\n"
        "  - id: ki-1\n    title: Chime rings twice\n    impact: cosmetic\n    products: [bell-d1]\n"
        "    versions: {bell-d1: '>=2.2'}\n    status: workaround\n"
        "  - id: ki-2\n    title: Schedules lost\n    impact: data-loss\n    products: thermo-t1\n"
        "    eta: 2026-12-01\n    status: fix-scheduled\n    versions: {thermo-t1: '>=3.4,<=3.5'}\n", "utf-8")
    issues = read_known_issues(yaml_file)
    assert [i.impact for i in issues] == ["cosmetic", "data-loss"]
    assert issues[1].eta == dt.date(2026, 12, 1) and issues[1].scope.products == ("thermo-t1",)
    yaml_file.write_text("- id: ok\n  impact: broken\n  products: [a]\n- id: bad\n  impact: broken\n"
                         "  products: [a]\n  versions: {a: '=>1'}\n", "utf-8")
    with pytest.raises(KnownIssueError) as info:
        read_known_issues(yaml_file)
    assert (info.value.line, info.value.field) == (4, "versions.a")
    yaml_file.write_text("- id: [unclosed\n", "utf-8")
    with pytest.raises(KnownIssueError, match="malformed YAML"):
        read_known_issues(yaml_file)
    with pytest.raises(KnownIssueError, match="file not found"):
        read_known_issues(tmp_path / "missing.yaml")
    with pytest.raises(KnownIssueError, match="unknown file type.*Fix: use a .jsonl"):
        read_known_issues(tmp_path / "issues.csv")


def test_a_known_issue_article_becomes_a_known_issue() -> None:
    article = Article(id="kb-7", title="Known issue: night vision flickers on C10 4.2 to 4.3.2", kind="known-issue",
                      products=("cam-c10", "cam-c20"), versions={"cam-c10": ">=4.2,<4.4", "cam-c20": ">=2.0"},
                      regions=("eu",), metadata={"fixed_in": {"cam-c10": "4.4"}})
    issue = KnownIssue.from_article(article, impact="degraded")
    assert issue.scope.versions == {"cam-c10": ">=4.2,<4.4", "cam-c20": ">=2.0"}
    assert issue.scope.regions == ("eu",)
    assert (issue.status, issue.workaround_article, dict(issue.fixed_in)) == ("workaround", "kb-7", {"cam-c10": "4.4"})
    both_fixed = Article(id="kb-8", kind="known-issue", products=("cam-c10",), metadata={"fixed_in": {"cam-c10": "4.4"},
                                                                                        "impact": "broken"})
    assert KnownIssue.from_article(both_fixed).status == "fixed"
    with pytest.raises(KnownIssueError, match="article kb-8.*impact"):
        KnownIssue.from_article(Article(id="kb-8", kind="known-issue", products=("cam-c10",)))
    with pytest.raises(KnownIssueError, match="not a known-issue article"):
        KnownIssue.from_article(Article(id="kb-9", kind="how-to"), impact="broken")


def test_the_demo_help_centre_ships_known_issues_from_its_articles() -> None:
    from kbrank.datasets import load_helpcentre

    hc = load_helpcentre()
    articles = {a.id: a for a in hc.corpus if a.kind == "known-issue"}
    assert len(hc.known_issues) == len(articles) >= 20
    for issue in hc.known_issues:
        article = articles[issue.workaround_article]
        assert issue.scope.versions == article.versions and issue.scope.products == article.products
        assert (article.status == "archived") == (issue.status == "closed")
    assert {i.impact for i in hc.known_issues} >= {"cosmetic", "degraded", "broken"}
    assert {i.status for i in hc.known_issues} >= {"workaround", "fix-scheduled", "fixed"}
    assert any(i.usage is not None for i in hc.known_issues)
    assert all(i.eta is not None for i in hc.known_issues if i.status == "fix-scheduled")
