"""What the page may hold: customer data only through the gateway, for the purpose it serves; nothing
rendered or logged beyond that purpose; query text redacted in logs; everything from data escaped."""

from __future__ import annotations

import json
import logging

import pytest

QUERY = "router keeps dropping, mail me at jo.bloggs@example.com or call +44 7700 900123"


def test_logs_hold_redacted_queries_and_pseudonyms_only(client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="kbrank"):
        assert client.get("/api/search", params={"q": QUERY, "customer": "cust-0010"}).status_code == 200
        assert client.get("/", params={"q": QUERY, "customer": "cust-0010"}).status_code == 200
        client.post("/api/chat", json={"customer": "cust-0010", "turns": [{"speaker": "customer", "text": QUERY}]})
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("kbrank")]
    assert any("[email]" in line and "[phone]" in line for line in lines)
    assert any(line.startswith("GET /api/search 200") for line in lines)  # the path, never the query string
    for line in lines:
        assert "jo.bloggs" not in line and "7700" not in line and "cust-0010" not in line, line


def test_nothing_beyond_the_purpose_reaches_the_page(client, helpcentre, site) -> None:
    customer = "cust-0010"
    raw = helpcentre.customer(customer)
    page = client.get("/", params={"q": "wifi keeps dropping", "customer": customer}).text
    api = json.dumps(client.get("/api/search", params={"q": "wifi keeps dropping", "customer": customer}).json())
    for text in (page, api):
        for address in raw["addresses"].values():  # contact addresses belong to proactive contact only
            assert address not in text
        for event in raw["usage"]:  # usage history is never shown (the receipts may use it, the page does not list it)
            assert event["timestamp"] not in text
    report = site.gateway.access_report(customer, requester="the test")
    purposes = {(r.requester, r.purpose) for r in report.history}
    assert ("kbrank.web", "personalization") in purposes
    assert {p for who, p in purposes if who == "kbrank.web"} <= {"personalization", "chat", "proactive-contact"}


@pytest.fixture()
def hostile_site(tmp_path, helpcentre):
    """A saved index whose articles try to inject markup and script URLs, with two customers."""
    from kbrank import Article, Corpus
    from kbrank.searcher import Searcher
    from kbrank.web import index_site

    articles = [
        Article(id="a1", title='<script>alert("x")</script> Router resets itself', body="the router resets itself",
                url="javascript:alert(1)", products=("router-a",)),
        Article(id="a2", title="Camera <b>resets</b> itself", body="the camera resets itself at night",
                url="https://example.com/a2", products=("cam-b",)),
        Article(id="a3", title="Resets & restarts: what they mean", body="a reset restarts the device",
                url="https://example.com/a3"),
    ]
    Searcher(mode="bm25").build(Corpus(articles)).save(tmp_path / "index")
    template = dict(helpcentre.customer("cust-0010"))
    records = []
    for customer_id, product in (("alice", "router-a"), ("bob", "cam-b")):
        record = json.loads(json.dumps(template))
        record.update(customer_id=customer_id, usage=[], owned=[{"product": product, "line": None, "version": "1.0",
                                                                 "platform": None, "registered_at": "2025-01-01",
                                                                 "status": "active"}])
        records.append(record)
    (tmp_path / "customers.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    built = index_site(tmp_path / "index", profiles=tmp_path / "customers.jsonl")
    yield built
    built.gateway.close()


def test_data_is_escaped_and_script_urls_are_not_linked(hostile_site) -> None:
    from fastapi.testclient import TestClient

    from kbrank.web import create_app

    with TestClient(create_app(hostile_site)) as client:
        page = client.get("/", params={"q": "resets <img src=x onerror=alert(1)>", "customer": "bob"}).text
        assert "<script>alert" not in page and "&lt;script&gt;alert" in page
        assert "<b>resets</b>" not in page and "&lt;b&gt;resets&lt;/b&gt;" in page
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
        assert 'href="javascript:' not in page
        assert 'href="https://example.com/a2"' in page
        assert client.get("/api/customers").json()["total"] == 2


def test_erasure_removes_the_customer_from_the_page(hostile_site) -> None:
    from fastapi.testclient import TestClient

    from kbrank.web import create_app

    with TestClient(create_app(hostile_site)) as client:
        assert [c["id"] for c in client.get("/api/customers").json()["customers"]] == ["alice", "bob"]
        report = hostile_site.gateway.erase("alice")
        assert report.hooks.get(next(n for n in report.hooks if n.startswith("kbrank.web"))) == 1
        assert [c["id"] for c in client.get("/api/customers").json()["customers"]] == ["bob"]
        gone = client.get("/api/search", params={"q": "resets", "customer": "alice"})
        assert gone.status_code == 422 and gone.json()["error"]["field"] == "customer"
