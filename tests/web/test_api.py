"""The JSON API: answers checked against the demo's raw records, and every refused request a 4xx that names
the field and the fix (never a 500)."""

from __future__ import annotations

import pytest
from _web_helpers import applies, first_customer, owned_products

QUERY = "wifi keeps dropping"


def test_customers_lists_what_each_customer_owns_only_with_consent(client, helpcentre) -> None:
    body = client.get("/api/customers", params={"limit": 500}).json()
    assert body["total"] == len(helpcentre.customers) == len(body["customers"])
    for listed in body["customers"]:
        raw = helpcentre.customer(listed["id"])
        if raw["consents"]["personalization"]:
            assert listed["personalized"] is True
            assert [(o["product"], o["version"], o["status"]) for o in listed["owned"]] == [
                (o["product"], o["version"], o["status"]) for o in raw["owned"]]
            assert (listed["region"], listed["segment"]) == (raw["region"], raw["segment"])
        else:
            assert listed == {"id": raw["customer_id"], "personalized": False, "owned": [], "region": None,
                              "segment": None, "reason": listed["reason"]}
            assert "consent" in listed["reason"]
    page = client.get("/api/customers", params={"offset": 3, "limit": 2}).json()
    assert [c["id"] for c in page["customers"]] == [c["customer_id"] for c in helpcentre.customers[3:5]]


def test_search_hides_articles_for_products_the_customer_does_not_own(client, helpcentre) -> None:
    customer = "cust-0010"
    owned = owned_products(helpcentre, customer)
    body = client.get("/api/search", params={"q": QUERY, "k": 10, "customer": customer}).json()
    personal = [r["id"] for r in body["personalized"]["results"]]
    plain = [r["id"] for r in body["unpersonalized"]["results"]]
    assert body["personalized"]["personalized"] is True and len(personal) == 10 == len(plain)
    # the reference: a plain-Python check of each article's products against the raw record
    assert all(applies(helpcentre, a, owned) for a in personal)
    foreign = [a for a in plain if not applies(helpcentre, a, owned)]
    assert foreign, "the unpersonalized top 10 should hold an article for a product the customer does not own"
    assert not set(foreign) & set(personal)
    hidden = {h["id"]: h for h in body["personalized"]["hidden"]}
    assert set(foreign) <= set(hidden)
    for article in foreign:
        assert hidden[article]["retrieval_rank"] == plain.index(article) + 1
        product = helpcentre.corpus.get(article).products[0]
        assert any(product in reason and "do not own" in reason for reason in hidden[article]["reasons"])
    for result in body["personalized"]["results"]:
        assert result["why"][0].startswith("matched the query")
        assert result["why"][1:] == [f"{c['delta']:+.2f} {c['reason']}" for c in result["contributions"]]


def test_search_without_a_customer_or_consent_is_unpersonalized(client, helpcentre) -> None:
    anonymous = client.get("/api/search", params={"q": QUERY, "k": 5}).json()
    assert anonymous["personalized"] is None and anonymous["customer"] is None
    refused = first_customer(helpcentre, personalization=False)
    body = client.get("/api/search", params={"q": QUERY, "k": 5, "customer": refused}).json()
    assert body["personalized"]["personalized"] is False
    assert "consent" in body["personalized"]["notice"]
    assert [r["id"] for r in body["personalized"]["results"]] == [r["id"] for r in anonymous["unpersonalized"]["results"]]


def test_openapi_documents_the_api(client) -> None:
    spec = client.get("/openapi.json").json()
    search = spec["paths"]["/api/search"]["get"]
    params = {p["name"]: p for p in search["parameters"]}
    assert set(params) == {"q", "k", "customer"} and params["q"]["required"] is True
    assert params["k"]["schema"]["maximum"] == 50 and params["k"]["schema"]["minimum"] == 1
    assert params["q"]["schema"]["maxLength"] == 8192
    assert "422" in search["responses"]
    assert {"/api/customers", "/api/chat", "/api/known-issues"} <= set(spec["paths"])
    assert "/" not in spec["paths"]  # the page is not part of the API


@pytest.mark.parametrize(("params", "field", "fix"), [
    ({"q": "x" * 8193}, "q", "at most 8,192 characters"),
    ({"q": " ".join(f"w{i}" for i in range(600))}, "q", "a shorter query"),
    ({"q": QUERY, "customer": "cust-001"}, "customer", "did you mean"),
    ({"q": QUERY, "customer": "nobody"}, "customer", "GET /api/customers"),
    ({"q": QUERY, "k": 0}, "k", "from 1 to 50"),
    ({"q": QUERY, "k": 51}, "k", "from 1 to 50"),
    ({"q": QUERY, "k": "ten"}, "k", "from 1 to 50"),
    ({}, "q", "?q="),
])
def test_bad_search_requests_get_a_4xx_naming_the_field_and_fix(client, params, field, fix) -> None:
    response = client.get("/api/search", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field and fix in error["fix"] and error["problem"]


@pytest.mark.parametrize(("body", "field", "fix"), [
    ('{"turns": [', "body", "JSON object"),
    ('["not", "an", "object"]', "body", "JSON object"),
    ('{"turns": []}', "body.turns", "1 to 20 turns"),
    ('{"turns": [{"speaker": "hacker", "text": "hi"}]}', "body.turns.0.speaker", "speaker 'customer'"),
    ('{"turns": [{"speaker": "customer", "text": ""}]}', "body.turns.0.text", "non-empty string"),
    ('{"turns": [{"speaker": "customer", "text": "hi"}], "k": 99}', "body.k", None),
    ('{"turns": [{"speaker": "customer", "text": "hi"}], "extra": 1}', "body.extra", None),
    ('{"customer": "cust-9999", "turns": [{"speaker": "customer", "text": "hi"}]}', "customer", "did you mean"),
    ('{"turns": [{"speaker": "assistant", "text": "hello"}]}', "turns", None),
])
def test_malformed_chat_bodies_get_a_4xx_naming_the_field(client, body, field, fix) -> None:
    response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"].startswith(field) and error["problem"]
    if fix is not None:
        assert fix in error["fix"]


def test_other_bad_requests_are_4xx_json_too(client) -> None:
    for response in (client.get("/api/customers", params={"limit": 0}),
                     client.get("/api/customers", params={"offset": -1}),
                     client.get("/api/known-issues"),
                     client.get("/api/known-issues", params={"customer": "cust-0"}),
                     client.get("/api/nothing-here"),
                     client.delete("/api/search")):
        assert 400 <= response.status_code < 500, response.text
        assert set(response.json()["error"]) == {"field", "problem", "fix"}


def test_chat_asks_which_product_then_answers_from_it(client, helpcentre) -> None:
    customer = "cust-0010"
    owned = owned_products(helpcentre, customer)
    first = client.post("/api/chat", json={"customer": customer,
                                           "turns": [{"speaker": "customer", "text": QUERY}]}).json()
    assert first["answer"] is None and first["question"].startswith("Is this about")
    assert {o["product"] for o in first["options"]} <= owned and len(first["options"]) >= 2
    choice = next(o for o in first["options"] if o["product"].startswith("router"))
    turns = first["turns"] + [{"speaker": "customer", "text": choice["label"]}]
    second = client.post("/api/chat", json={"customer": customer, "turns": turns}).json()
    assert second["answer"] and second["passages"] and second["personalized"] is True
    for passage in second["passages"]:
        products = helpcentre.corpus.get(passage["id"]).products
        assert not products or choice["product"] in products
        assert passage["why"]


def test_known_issues_need_consent_to_proactive_contact(client, helpcentre) -> None:
    refused = first_customer(helpcentre, proactive_contact=False)
    assert client.get("/api/known-issues", params={"customer": refused}).json() == []
    notices = client.get("/api/known-issues", params={"customer": "cust-0010"}).json()
    assert notices
    owned = owned_products(helpcentre, "cust-0010")
    issues = {issue.id: issue for issue in helpcentre.known_issues}
    for notice in notices:
        issue = issues[notice["issue"]]
        assert issue.open and set(issue.scope.products) & owned
        assert notice["why"].startswith("owns ") and notice["body"]
