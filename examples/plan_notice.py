"""Plan a known-issue notice: who the issue will hit (through the privacy gate), who gets told and why.

Run: python examples/plan_notice.py  (a dry run on the demo help centre: nothing is stored or sent)
"""

from collections import Counter

from kbrank import ProfileGateway
from kbrank.datasets import load_helpcentre
from kbrank.proactive import plan, select_affected

hc = load_helpcentre()
with ProfileGateway.from_helpcentre(hc, key="example-pseudonymization-key") as gateway:
    # the open issues with a fix date; each selection is one audited scan for purpose proactive-contact
    selected = [(i, select_affected(i, gateway, requester="examples")) for i in hc.known_issues if i.open and i.eta]
# the issue whose audience shows the impact policy at work (some contacted, some not), the most affected first
issue, audience = max([s for s in selected if 0 < s[1].n_to_contact < len(s[1])] or selected,
                      key=lambda s: (s[1].n_affected, s[0].id))
print(f"issue: {issue.id}: {issue.title}")
print(f"  impact {issue.impact}, status {issue.status}, fix due {issue.eta}")

print(f"\naudience: {audience.n_scanned} scanned, {audience.n_affected} affected, "
      f"{audience.n_to_contact} to contact, {audience.n_unconsented} affected without consent to contact")
for customer in list(audience)[:3]:  # every affected customer carries the clause and the decision's reason
    print(f"  {customer.clause}: contact={customer.decision.contact} ({customer.decision.reason})")

notice = plan(issue, audience, articles=hc.corpus)  # rendered messages, one per contacted customer
print(f"\nplan: update {notice.update.number}, {len(notice)} messages, "
      f"confirmation needed: {notice.requires_confirmation}")
print("  by channel: " + ", ".join(f"{c} {n}" for c, n in sorted(Counter(m.channel for m in notice.messages).items())))
print("  held back: " + (", ".join(f"{reason} {n}" for reason, n in sorted(notice.held_back.items())) or "none"))
if notice.messages:
    first = min(notice.messages, key=lambda m: (m.channel != "email", m.key))
    print(f"\nsample message ({first.channel}, {first.locale}): {first.subject}")
    print(f"  {len(first.body)} characters, html={first.html}")
