"""Planning: one rendered message per customer to contact, in their locale (with fallback), escaped for HTML
only, strict about missing variables; the audience guard; checked against a plain-Python reference."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from _notify_helpers import Clock, customer, open_gateway

from kbrank.corpus import Article, Corpus
from kbrank.errors import AudienceGuardError, ParameterError, TemplateError
from kbrank.privacy import ProfileGateway
from kbrank.proactive import (
    AudienceGuard,
    KnownIssue,
    Outbox,
    Templates,
    known_issue_from_record,
    plan,
    select_affected,
)

ARTICLES = Corpus([Article(id="kb-77", title="Turn on night vision by hand",
                           url="https://help.example/articles/kb-77"),
                   Article(id="kb-78", title="Firmware 4.3.2 release notes",
                           url="https://help.example/articles/kb-78")])


def issue(**overrides: object) -> KnownIssue:
    record = {"id": "ki-night", "title": "Night vision stays off", "summary": "night vision does not switch on",
              "impact": "broken", "products": ["cam-c10"], "versions": {"cam-c10": ">=4.2,<4.3.2"},
              "status": "workaround", "eta": "2026-11-20", "workaround_article": "kb-77",
              "fix_article": "kb-78", "fixed_in": {"cam-c10": "4.3.2"}}
    record.update(overrides)
    return known_issue_from_record(record)


def base() -> list[dict]:
    """Thirteen customers: affected (4.2.x) or not (4.1, 4.3.2), in several locales, channels and segments."""
    return [customer(0, version="4.2.1", locale="en-GB"), customer(1, version="4.2.0", locale="de-AT", channel="sms"),
            customer(2, version="4.3.1", locale="fr-FR", segment="pro"), customer(3, version="4.2.1", locale="ja-JP"),
            customer(4, version="4.2.1", contact=False), customer(5, version="4.1.0"),
            customer(6, version="4.3.2"), customer(7, version="4.2.9", channel="push", channels=("push",)),
            customer(8, version="4.2.1", product="router-x200"),
            customer(9, version="4.2.2", locale="nl-NL", segment="business"),
            customer(10, version="4.3.0", locale="de-DE", channel="sms", channels=("email",)),
            customer(11, version="4.2.5", locale="pt-BR"), customer(12, version="4.2.1", locale="en-GB")]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[ProfileGateway]:
    made = open_gateway(tmp_path / "profiles.db", base(), Clock())
    yield made
    made.close()


def reference_contacts(records: list[dict], gateway: ProfileGateway) -> dict[str, str]:
    """Plain Python, one customer at a time: pseudonym -> channel of everyone a broken-impact cam-c10
    >=4.2,<4.3.2 issue should reach (active item in range, consent to contact and to a channel)."""
    from packaging.version import Version

    out = {}
    for r in records:
        consents = r["consents"]
        channels = [c for c in ("email", "sms", "push") if consents["channels"].get(c)]
        hit = any(o["product"] == "cam-c10" and o["status"] == "active" and
                  Version("4.2") <= Version(o["version"]) < Version("4.3.2") for o in r["owned"])
        if hit and consents.get("proactive-contact") and channels:
            preferred = r["preferred_channel"]
            out[gateway.pseudonymize(r["customer_id"])] = preferred if preferred in channels else channels[0]
    return out


def test_one_message_per_customer_to_contact_matches_a_plain_reference(gateway: ProfileGateway) -> None:
    audience = select_affected(issue(), gateway)
    made = plan(issue(), audience, articles=ARTICLES)
    assert {m.customer: m.channel for m in made.messages} == reference_contacts(base(), gateway)
    assert len({m.key for m in made.messages}) == len(made.messages)
    assert made.held_back == {"affected, no consent to contact: counted, not contacted": 1}
    assert made.update.number == 1 and made.update.status == "workaround" and not made.update.closes
    by_id = {m.customer: m for m in made.messages}
    email = by_id[gateway.pseudonymize("cust-00000")]
    assert email.html and email.subject == "Known issue: Night vision stays off"
    for text in ("you run cam-c10 4.2.1", "within &gt;=4.2,&lt;4.3.2", "Turn on night vision by hand: "
                 "https://help.example/articles/kb-77", "We expect the fix by 2026-11-20",
                 "It affects cam-c10 &gt;=4.2,&lt;4.3.2"):
        assert text in email.body
    sms = by_id[gateway.pseudonymize("cust-00001")]
    assert not sms.html and sms.locale == "de" and "weil Sie cam-c10 4.2.0 verwenden" in sms.body
    assert "within >=4.2,<4.3.2" in sms.body and "STOP" in sms.body
    assert by_id[gateway.pseudonymize("cust-00002")].locale == "fr"
    for fallback in ("cust-00003", "cust-00009", "cust-00011"):  # ja-JP, nl-NL, pt-BR -> en
        assert by_id[gateway.pseudonymize(fallback)].locale == "en"
    push = by_id[gateway.pseudonymize("cust-00007")]
    assert push.channel == "push" and push.subject.startswith("Known issue") and "4.2.9" in push.body
    summary = made.summary()
    assert sum(row["customers"] for row in summary) == len(made.recipients) == len(made.messages) == 9


def test_data_is_escaped_in_html_and_left_alone_in_text(gateway: ProfileGateway) -> None:
    hostile = issue(title="<script>alert('x')</script> & <b>more</b>")
    made = plan(hostile, select_affected(hostile, gateway), articles=ARTICLES)
    email = next(m for m in made.messages if m.channel == "email")
    sms = next(m for m in made.messages if m.channel == "sms")
    assert "<script>" not in email.body and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp;" in email.body
    assert sms.body.startswith("Bekanntes Problem: <script>alert('x')</script> & <b>more</b>.")
    assert "\n" not in email.subject


def test_fixed_issue_notice_says_which_version_fixes_it(gateway: ProfileGateway) -> None:
    fixed = issue(status="fixed", eta=None)
    made = plan(fixed, select_affected(fixed, gateway), articles=ARTICLES)
    body = next(m for m in made.messages if m.customer == gateway.pseudonymize("cust-00000")).body
    assert made.update.closes and "that has now been fixed" in body
    assert "Update your cam-c10 to version 4.3.2 or later" in body and "It is fixed in version 4.3.2" in body
    assert "kb-78" in body


def test_routing_and_impact_policy_and_the_audience_guard(gateway: ProfileGateway, tmp_path: Path) -> None:
    routed = plan(issue(), select_affected(issue(), gateway), articles=ARTICLES, route={"email": "webhook"})
    assert {m.channel for m in routed.messages} == {"webhook", "sms", "push"}
    with pytest.raises(ParameterError, match="route"):
        plan(issue(), select_affected(issue(), gateway), articles=ARTICLES, route={"email": "fax"})
    cosmetic = issue(impact="cosmetic")
    quiet = plan(cosmetic, select_affected(cosmetic, gateway), articles=ARTICLES)
    assert len(quiet) == 0 and quiet.held_back["impact policy: cosmetic: not worth an interruption"] == 9
    guarded = plan(issue(), select_affected(issue(), gateway, guard=AudienceGuard(confirm_above=3)),
                   articles=ARTICLES)
    assert guarded.requires_confirmation
    with Outbox(tmp_path / "outbox.db") as outbox:
        with pytest.raises(AudienceGuardError, match="confirm must be True to send 9 messages"):
            outbox.enqueue(guarded)
        assert outbox.thread("ki-night") is None  # nothing was stored
        assert outbox.enqueue(guarded, confirm=True).added == 9
    few = plan(issue(), select_affected(issue(), gateway, guard=AudienceGuard(min_affected=50)), articles=ARTICLES)
    assert len(few) == 0 and few.held_back["fewer than 50 affected customers: recorded only"] == 9


def test_rendering_is_shared_by_customers_with_the_same_values(gateway: ProfileGateway) -> None:
    calls = []

    class Counting(Templates):
        def render(self, channel, locale, context):  # type: ignore[no-untyped-def]
            calls.append((channel, locale))
            return super().render(channel, locale, context)

    made = plan(issue(), select_affected(issue(), gateway), Counting(), articles=ARTICLES)
    twins = [m for m in made.messages if m.customer in {gateway.pseudonymize("cust-00000"),
                                                        gateway.pseudonymize("cust-00012")}]
    assert len(calls) == len(made.messages) - 1 and twins[0].body == twins[1].body


def test_missing_variables_and_syntax_errors_name_the_file_and_line(gateway: ProfileGateway, tmp_path: Path) -> None:
    (tmp_path / "tpl" / "en").mkdir(parents=True)
    (tmp_path / "tpl" / "en" / "sms.txt").write_text("Hello\n{{ customer.first_name }} runs {{ customer.version }}\n")
    audience = select_affected(issue(), gateway)
    with pytest.raises(TemplateError, match=r"en/sms.txt, line 2: the template uses a variable the plan does not "
                                            r"provide: 'dict object' has no attribute 'first_name'"):
        plan(issue(), audience, Templates(directory=tmp_path / "tpl"), articles=ARTICLES, route={"email": "sms"})
    (tmp_path / "tpl" / "en" / "sms.txt").write_text("Hello {% if %}\n")
    with pytest.raises(TemplateError, match=r"sms.txt, line 1: template syntax error"):
        plan(issue(), audience, Templates(directory=tmp_path / "tpl"), articles=ARTICLES, route={"email": "sms"})
    (tmp_path / "tpl" / "en" / "sms.txt").write_text("{{ ''.__class__.__mro__ }}\n")
    with pytest.raises(TemplateError, match="sandbox"):
        plan(issue(), audience, Templates(directory=tmp_path / "tpl"), articles=ARTICLES, route={"email": "sms"})
    with pytest.raises(TemplateError, match="not a folder of message templates"):
        plan(issue(), audience, Templates(directory=tmp_path / "missing"), articles=ARTICLES)


def test_links_need_a_url(gateway: ProfileGateway) -> None:
    audience = select_affected(issue(), gateway)
    with pytest.raises(TemplateError, match="field 'workaround_article': the workaround article 'kb-77' has no link"):
        plan(issue(), audience)
    made = plan(issue(), audience, Templates(article_url="https://kb.example/{id}"))
    assert "https://kb.example/kb-77" in made.messages[0].body


def test_the_audience_must_be_the_issues_own(gateway: ProfileGateway) -> None:
    other = issue(id="ki-other")
    with pytest.raises(ParameterError, match="the audience of issue 'ki-night'"):
        plan(issue(), select_affected(other, gateway), articles=ARTICLES)
    with pytest.raises(ParameterError, match="an Audience"):
        plan(issue(), [], articles=ARTICLES)  # type: ignore[arg-type]


def test_locale_fallback_order() -> None:
    templates = Templates()
    assert templates.locale_for("de-AT", "email") == "de"
    assert templates.locale_for("fr_CA", "sms") == "fr"
    assert templates.locale_for("pt-BR", "push") == "en"
    assert templates.locale_for("../../etc", "sms") == "en"  # not a tag: never used as a path
    assert templates.locale_for(None, "in_app") == "en"
    assert Templates(default_locale="de").locale_for("ja-JP", "webhook") == "de"
