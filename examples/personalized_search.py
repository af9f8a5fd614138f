"""Search the demo help centre for one customer: receipts for every move, hidden articles with their reasons.

Run: python examples/personalized_search.py  (BM25 only; the demo help centre is generated from a seed)
"""

from kbrank import Personalizer, ProfileGateway, Searcher
from kbrank.datasets import load_helpcentre

hc = load_helpcentre()  # ~800 Lumio articles, 240 customers, ~700 queries whose relevance depends on who asks
aliases = {product: [entry["short_name"], entry["name"]] for product, entry in hc.catalog.items()}  # "X200"
# today: the demo's fixed date (validity windows); aliases: how queries name products (a pre-sales question)
searcher = Searcher(mode="bm25", personalizer=Personalizer(today=hc.as_of, product_aliases=aliases)).build(hc.corpus)

CUSTOMER, QUERY = "cust-0001", "router won't connect to wifi after update"
with ProfileGateway.from_helpcentre(hc, key="example-pseudonymization-key") as gateway:
    # every read names its purpose; the gateway checks consent and hands over only that purpose's fields
    view = gateway.read(CUSTOMER, "personalization", requester="examples", degrade=True)
print(f"customer: {CUSTOMER} (personalized: {view.personalized}; fields: {', '.join(view.fields)})")
print("owns: " + ", ".join(f"{o.product} {o.version}" for o in view.owned))

plain = searcher.search(QUERY, k=5)
personal = searcher.search(QUERY, k=5, profile=view, explain_hidden=True)

print(f"\nquery: {QUERY!r}")
print("unpersonalized:")
for result in plain:
    print(f"  {result.rank}. {result.article_id}  {result.title}")
print("personalized:")
for result in personal:
    print(f"  {result.rank}. {result.article_id}  {result.title}")
    for contribution in result.contributions:  # the receipt: which rule moved it, by how much, and why
        print(f"       {contribution.delta:+.2f} {contribution.rule}: {contribution.reason}")
print(f"hidden ({len(personal.hidden)}):")
for hidden in personal.hidden:
    print(f"  - {hidden.article_id} (would rank {hidden.retrieval_rank}): {hidden.reasons[0].reason}")
