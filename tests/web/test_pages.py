"""The page without JavaScript: plain GET and POST forms, labelled controls, both columns, the hidden list as a
native toggle, the chat panel, the banner; htmx requests get only the fragment they swap."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from _web_helpers import applies, owned_products

QUERY = "wifi keeps dropping"


class _Page(HTMLParser):
    """Ids of the result lists, labels, controls and elements, collected from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.labels: set[str] = set()
        self.controls: list[tuple[str, str | None]] = []
        self.items: dict[str, list[str]] = {}
        self._section: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if attr.get("id"):
            self.ids.add(attr["id"] or "")
        if tag == "section" and attr.get("id") in ("personal", "plain"):
            self._section = attr["id"]
        if tag in ("section", "details") and attr.get("id") == "hidden":
            self._section = "hidden"
        if tag == "label" and attr.get("for"):
            self.labels.add(attr["for"] or "")
        if tag in ("input", "select", "textarea") and attr.get("type") != "hidden":
            self.controls.append((tag, attr.get("id")))
        if tag == "li" and attr.get("data-id") and self._section:
            self.items.setdefault(self._section, []).append(attr["data-id"] or "")


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_the_page_reads_without_javascript(client, helpcentre) -> None:
    customer = "cust-0010"
    response = client.get("/", params={"q": QUERY, "k": 10, "customer": customer})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = _parse(response.text)
    assert {"search", "customer-card", "known-issues", "personal", "plain", "hidden", "chat"} <= page.ids
    for tag, control_id in page.controls:  # every visible control has a label
        assert control_id in page.labels, (tag, control_id)
    owned = owned_products(helpcentre, customer)
    personal, plain, hidden = page.items["personal"], page.items["plain"], page.items["hidden"]
    assert len(personal) == len(plain) == 10 and personal != plain
    assert all(applies(helpcentre, a, owned) for a in personal)
    assert {a for a in plain if not applies(helpcentre, a, owned)} <= set(hidden)
    assert "which you do not own" in response.text and "Why this is here:" in response.text
    assert '<details id="hidden"' in response.text  # a native toggle: keyboard-operable, no script needed
    assert '<script src="/static/htmx.min.js" defer></script>' in response.text


def test_htmx_gets_the_fragment_it_swaps(client) -> None:
    whole = client.get("/", params={"q": QUERY, "customer": "cust-0010"})
    fragment = client.get("/", params={"q": QUERY, "customer": "cust-0010"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="main"') and "<html" not in fragment.text
    assert fragment.text.strip() in whole.text
    assert 'role="status"' in fragment.text  # screen readers hear how many results arrived
    restore = client.get("/", params={"q": QUERY}, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert restore.text.lstrip().startswith("<!doctype html>")  # going back restores the whole page


def test_static_files_are_vendored(client) -> None:
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:200]
    assert "Zero-Clause BSD" in client.get("/static/htmx.LICENSE.txt").text
    assert ":focus-visible" in client.get("/static/kbrank.css").text


def test_chat_form_posts_without_javascript(client, helpcentre) -> None:
    response = client.post("/chat", data={"customer": "cust-0010", "message": QUERY, "history": "[]"})
    assert response.status_code == 200
    assert "Is this about your" in response.text  # a clarifying question, with buttons for the options
    options = re.findall(r'<button type="submit" name="choice" value="([^"]+)"', response.text)
    assert len(options) >= 2
    history = re.search(r'name="history" value="([^"]*)"', response.text).group(1)
    import html

    answer = client.post("/chat", data={"customer": "cust-0010", "choice": options[0],
                                        "history": html.unescape(history)}, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and answer.text.lstrip().startswith('<section id="chat"')
    assert "Sources" in answer.text and "Why this is here:" in answer.text


def test_bad_page_requests_show_the_problem_and_fix(client) -> None:
    for response, field in ((client.get("/", params={"q": QUERY, "k": "lots"}), "k"),
                            (client.get("/", params={"q": QUERY, "customer": "cust-99999"}), "customer"),
                            (client.get("/", params={"q": "x" * 9000}), "q"),
                            (client.post("/chat", data={"message": "hi", "history": "{not json"}), "history"),
                            (client.post("/chat", data={"message": "  "}), "message")):
        assert response.status_code == 422
        assert 'role="alert"' in response.text and f"<strong>{field}</strong>" in response.text
        assert "Fix:" in response.text
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and 'role="alert"' in missing.text
