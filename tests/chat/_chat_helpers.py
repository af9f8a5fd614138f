"""A tiny help centre for the chat tests (BM25 only, so that most tests run in milliseconds), its catalogue
and hand-made chat views. The end-to-end tests use the demo help centre with the real MiniLM instead."""

from __future__ import annotations

import datetime as dt

from kbrank import Article, Corpus
from kbrank.personalize import Personalizer
from kbrank.privacy import OwnedProduct, ProfileView
from kbrank.searcher import Searcher

TODAY = dt.date(2026, 11, 1)
ARTICLES = [
    Article(
        id="x200-drops",
        title="Wi-Fi keeps dropping on the Lumio Router X200",
        body="If the router keeps dropping the wifi connection, pick a fixed channel and update the "
        "firmware.",
        products=("router-x200",),
        versions={"router-x200": ">=2.0"},
    ),
    Article(
        id="x200-old",
        title="Wi-Fi keeps dropping on the X200 (old firmware)",
        body="For firmware before 2.0 the wifi drops because of a channel bug; update first.",
        products=("router-x200",),
        versions={"router-x200": "<2.0"},
    ),
    Article(
        id="x200-reset",
        title="Factory reset of the Router X200",
        body="Hold the reset button for ten seconds until the light blinks. The router restarts as new.",
        products=("router-x200",),
    ),
    Article(
        id="x200-e102",
        title="Error E-102 on the X200 router",
        body="On routers E-102 means the provider rejected the PPPoE login. Re-enter your user name.",
        products=("router-x200",),
    ),
    Article(
        id="c10-drops",
        title="Lumio Cam C10 keeps dropping off the Wi-Fi",
        body="If the camera keeps dropping the wifi connection, move it closer to the router and lower the "
        "video quality.",
        products=("cam-c10",),
    ),
    Article(
        id="c10-night",
        title="Night vision is dark on the Cam C10",
        body="Clean the lens, do not place the camera behind a window, set night vision to automatic.",
        products=("cam-c10",),
    ),
    Article(
        id="c10-e102",
        title="Error E-102 on the C10 camera",
        body="On cameras E-102 points to a memory card that cannot be written. Reformat the card.",
        products=("cam-c10",),
    ),
    Article(
        id="x300-drops",
        title="Wi-Fi keeps dropping on the Router X300",
        body="The X300 drops the wifi connection when band steering is on; turn it off.",
        products=("router-x300",),
    ),
    Article(
        id="c30-night",
        title="Night vision on the Cam C30 Outdoor",
        body="The outdoor camera switches to infrared at dusk; night vision needs the lens to be clean.",
        products=("cam-c30",),
    ),
    Article(
        id="t1-temp",
        title="Thermostat T1 shows the wrong temperature",
        body="Set a temperature offset, and keep the thermostat away from radiators and sunlight.",
        products=("thermo-t1",),
    ),
    Article(
        id="cancel",
        title="Cancel your subscription",
        body="Open Account, then Subscriptions, and cancel before the renewal date.",
        kind="faq",
    ),
    Article(
        id="password",
        title="Reset your account password",
        body="Use the forgotten password link on the sign-in page; the link is valid for one hour.",
    ),
]
CATALOGUE = {
    "router-x200": ["Lumio Router X200", "X200", "router"],
    "router-x300": ["Lumio Router X300", "X300", "router"],
    "cam-c10": ["Lumio Cam C10", "C10", "camera"],
    "cam-c30": ["Lumio Cam C30 Outdoor", "C30", "camera"],
    "thermo-t1": ["Lumio Thermostat T1", "T1", "thermostat"],
}


def corpus() -> Corpus:
    return Corpus(ARTICLES)


def bm25_searcher(**personalizer) -> Searcher:
    return Searcher(mode="bm25", personalizer=Personalizer(today=TODAY, **personalizer)).build(corpus())


def owned(*items: tuple[str, str]) -> tuple[OwnedProduct, ...]:
    return tuple(OwnedProduct(product=p, version=v) for p, v in items)


def chat_view(*items: tuple[str, str], purpose: str = "chat", **fields) -> ProfileView:
    fields.setdefault("region", "eu")
    return ProfileView.of(purpose, owned=owned(*items), **fields)


ROUTER_AND_CAMERA = (("router-x200", "2.3.1"), ("cam-c10", "4.2.0"))


def say(*texts: str) -> list[dict[str, str]]:
    """Customer turns with a bland assistant turn between them."""
    turns: list[dict[str, str]] = []
    for text in texts:
        if turns:
            turns.append({"speaker": "assistant", "text": "Here is what I found."})
        turns.append({"speaker": "customer", "text": text})
    return turns
