"""Chat retrieval: an ambiguous first turn gets a clarifying question; the answer narrows the passages.

Run: python examples/chat_clarify.py  (BM25 on the demo help centre; hybrid adds MiniLM, as `kbrank chat` does)
"""

from kbrank import Personalizer, ProfileGateway, Searcher
from kbrank.chat import ChatRetriever, ExtractiveAnswerer, build_context, check_citations
from kbrank.datasets import chat_catalogue, load_helpcentre

hc = load_helpcentre()
searcher = Searcher(mode="bm25", personalizer=Personalizer(today=hc.as_of)).build(hc.corpus)
retriever = ChatRetriever(searcher, catalogue=chat_catalogue(hc))  # product names and aliases to track

# a demo customer who agreed to chat and owns both a router and a camera
customer = next(c for c in hc.customers if c["consents"]["chat"]
                and {"router-x200", "cam-c10"} <= {o["product"] for o in c["owned"] if o["status"] == "active"})
with ProfileGateway.from_helpcentre(hc, key="example-pseudonymization-key") as gateway:
    retriever.register_erasure(gateway)  # conversation state is erased with the customer
    view = gateway.read(customer["customer_id"], "chat", requester="examples")  # only 'chat' views are accepted
print(f"customer: {customer['customer_id']} owns " + ", ".join(o.product for o in view.owned))

turns = [{"speaker": "customer", "text": "wifi keeps dropping"}]
asked = retriever.retrieve(turns, view, k=3)
print(f"\ncustomer: {turns[-1]['text']}")
if asked.clarification is None:
    raise SystemExit("expected a clarifying question: the first turn names no product")
print(f"assistant: {asked.clarification.question}")
for option in asked.clarification.options:  # each option comes with the passages it would lead to
    print(f"  option {option.product}: " + ", ".join(p.article_id for p in option.passages))

turns += [asked.clarification.as_turn(), {"speaker": "customer", "text": "the camera"}]
answered = retriever.retrieve(turns, view, k=3)
print(f"\ncustomer: {turns[-1]['text']}")
print(f"tracked product: {', '.join(answered.tracking.products)}; query: {answered.query.text!r}")
for passage in answered.passages:
    print(f"  [{passage.article_id}] {passage.text[:70]!r}...")

context = build_context(answered.passages, budget_tokens=300)  # numbered citations, within the budget
answer = ExtractiveAnswerer().answer(answered.query.text, context)  # or your language model
print(f"\ncontext: {context.tokens} tokens, {len(context.citations)} citations")
print(f"answer: {answer.text[:120]!r}")
print(f"citations check: ok={check_citations(answer.text, context).ok}")
