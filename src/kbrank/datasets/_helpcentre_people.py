"""Draft the customers (JSON-ready profile dicts) and the questions they ask.

See `kbrank.datasets.helpcentre` for the profile schema and how relevance is assigned. This module only
decides *who* asks *what* and in which words; the grades come from the caller's ``judge`` function.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Callable, Mapping, NotRequired, Sequence, TypedDict, TypeVar

from ._helpcentre_articles import intent_models
from ._helpcentre_catalog import (
    AS_OF,
    FEATURE_INTENTS,
    LOCALES,
    OWNED_COUNTS,
    OWNED_SUBJECTS,
    PHONE_NUMBERS,
    PRESALES_SUBJECTS,
    PRODUCTS,
    REGION_WEIGHTS,
    REGIONS,
    SEGMENTS,
    UNNAMED_SUBJECTS,
)
from ._helpcentre_intents import APP_PLATFORMS, INTENTS, Intent

__all__ = ["Customer", "OwnedItem", "UsageEvent", "draft_customers", "draft_queries", "intents_for", "Judge"]

T = TypeVar("T")


class OwnedItem(TypedDict):
    """One entry of a customer's ``owned`` list."""

    product: str
    line: str
    version: str
    platform: str | None
    registered_at: str
    status: str


class UsageEvent(TypedDict):
    """One entry of a customer's ``usage`` list (device telemetry)."""

    product: str
    feature: str
    timestamp: str
    region: str
    count: int


class Addresses(TypedDict):
    email: str
    sms: NotRequired[str]


Consents = TypedDict("Consents", {
    "personalization": bool, "usage": bool, "chat": bool, "proactive-contact": bool, "evaluation": bool,
    "analytics": bool, "channels": dict[str, bool],
})


class Customer(TypedDict):
    """A demo customer profile, exactly the schema drawn in `kbrank.datasets.helpcentre`."""

    customer_id: str
    region: str
    locale: str
    segment: str
    owned: list[OwnedItem]
    usage: list[UsageEvent]
    preferred_channel: str
    addresses: Addresses
    consents: Consents


#: ``judge(customer, intent, names_product) -> {article_id: grade}`` (grades >= 1 only).
Judge = Callable[[Customer, str, "str | None"], dict[str, int]]
_AS_OF_SECONDS = int(dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=dt.timezone.utc).timestamp())


def _weighted(rng: random.Random, weights: Mapping[T, float]) -> T:
    keys = list(weights)
    return rng.choices(keys, [weights[k] for k in keys])[0]


def _sample_weighted(rng: random.Random, weights: Mapping[str, float], k: int) -> list[str]:
    """``k`` distinct keys drawn without replacement, each with probability proportional to its weight."""
    remaining = {key: w for key, w in weights.items() if w > 0}
    picks: list[str] = []
    while remaining and len(picks) < k:
        key = _weighted(rng, remaining)
        picks.append(key)
        del remaining[key]
    return picks


def intents_for(pid: str, platform: str | None = None) -> list[str]:
    """The intents that have articles for this product: battery questions only for battery models, and app
    questions only where the app has them (no battery or push questions about the web app)."""
    line = PRODUCTS[pid]["line"]
    found = []
    for key, intent in INTENTS.items():
        if line not in intent["lines"] or pid not in intent_models(key, line):
            continue
        app_platforms = APP_PLATFORMS.get(key, APP_PLATFORMS["default"])
        if line == "app" and platform is not None and platform not in app_platforms:
            continue
        found.append(key)
    return found


def _version(rng: random.Random, pid: str) -> str:
    """Recent releases are more common than old ones (weight grows with the square of the position)."""
    versions = PRODUCTS[pid]["versions"]
    return rng.choices(versions, [(i + 1) ** 2 for i in range(len(versions))])[0]


def _day(rng: random.Random, low: int, high: int) -> str:
    return (AS_OF - dt.timedelta(days=rng.randint(low, high))).isoformat()


def _item(rng: random.Random, pid: str, platform: str | None, status: str) -> OwnedItem:
    days = {"active": (14, 1800), "returned": (10, 200), "retired": (700, 2400)}[status]
    return {"product": pid, "line": PRODUCTS[pid]["line"], "version": _version(rng, pid),
            "platform": platform, "registered_at": _day(rng, *days), "status": status}


def _owned(rng: random.Random, region: str, segment: str, phone: str | None) -> list[OwnedItem]:
    counts, weights = OWNED_COUNTS[segment]
    available = {pid: p["weight"] for pid, p in PRODUCTS.items()
                 if p["status"] == "current" and p["line"] != "app" and region in p["regions"]}
    owned = []
    for pid in _sample_weighted(rng, available, rng.choices(counts, weights)[0]):
        status = rng.choices(("active", "returned", "retired"), (86, 7, 7))[0]
        owned.append(_item(rng, pid, phone, status))
    if not any(item["status"] == "active" for item in owned):
        owned[0]["status"] = "active"
    if any(item["line"] == "router" for item in owned) and rng.random() < 0.25:
        owned.append(_item(rng, "router-x100", phone, "retired"))  # the router they upgraded from
    if rng.random() < 0.85:
        app_platform = phone or rng.choice(("windows", "macos", "web"))
        owned.append(_item(rng, "app-home", app_platform, "active" if rng.random() < 0.95 else "retired"))
    owned.sort(key=lambda item: (item["registered_at"], item["product"]))
    return owned


def _usage(rng: random.Random, owned: Sequence[OwnedItem], region: str) -> list[UsageEvent]:
    """Feature use per active product over the last 120 days (device telemetry; see ``consents.usage``)."""
    events: list[UsageEvent] = []
    for item in owned:
        if item["status"] != "active":
            continue
        features = PRODUCTS[item["product"]]["features"]
        for feature in rng.sample(features, rng.randint(0, min(3, len(features)))):
            seconds = _AS_OF_SECONDS - rng.randint(3600, 120 * 86400)
            moment = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
            events.append({"product": item["product"], "feature": feature,
                           "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "region": region if rng.random() < 0.95 else rng.choice(REGIONS),
                           "count": rng.randint(1, 60)})
    events.sort(key=lambda event: (event["timestamp"], event["product"], event["feature"]))
    return events


def _customer(rng: random.Random, number: int) -> Customer:
    customer_id = f"cust-{number:04d}"
    region = _weighted(rng, REGION_WEIGHTS)
    locale = _weighted(rng, LOCALES[region])
    segment = _weighted(rng, SEGMENTS)
    phone = rng.choices(("ios", "android", None), (48, 42, 10))[0]
    owned = _owned(rng, region, segment, phone)
    addresses: Addresses = {"email": f"{customer_id}@example.com"}
    if rng.random() < 0.75:
        prefix, digits = PHONE_NUMBERS[region]
        addresses["sms"] = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
    has_push = phone is not None and any(item["product"] == "app-home" for item in owned)
    channels = {"email": rng.random() < 0.92, "sms": "sms" in addresses and rng.random() < 0.5,
                "push": has_push and rng.random() < 0.8}
    allowed = [name for name, ok in channels.items() if ok]
    preferred = rng.choice(allowed) if allowed and rng.random() < 0.9 else "none"
    return {
        "customer_id": customer_id, "region": region, "locale": locale, "segment": segment, "owned": owned,
        "usage": _usage(rng, owned, region), "preferred_channel": preferred, "addresses": addresses,
        "consents": {"personalization": rng.random() < 0.95, "usage": rng.random() < 0.78,
                     "chat": rng.random() < 0.9, "proactive-contact": rng.random() < 0.6,
                     "evaluation": rng.random() < 0.97, "analytics": rng.random() < 0.3,
                     "channels": channels},
    }


def draft_customers(rng: random.Random, n_customers: int) -> list[Customer]:
    """``n_customers`` profile dicts, ``cust-0001`` onwards."""
    return [_customer(rng, number) for number in range(1, n_customers + 1)]


# -- queries -----------------------------------------------------------------------------------------------
def _noise(rng: random.Random, text: str) -> str:
    """Casual typing: spelling of Wi-Fi, casing, a plea for help, a question mark."""
    text = text.replace("wifi", rng.choice(("wifi", "wi-fi", "WiFi", "wifi")))
    if rng.random() < 0.12:
        text = rng.choice(("help ", "pls help: ", "hi, ", "urgent - ")) + text
    if rng.random() < 0.35:
        text = text.lower()
    if rng.random() < 0.25:
        text += "?"
    return text


def _text(rng: random.Random, intent: Intent, mode: str, pid: str | None) -> str:
    bare = rng.choice(intent["queries"])
    if pid is None:
        template = rng.choice((*intent["queries"], *intent["subj_queries"]))
        return _noise(rng, template.format(subj=rng.choice(UNNAMED_SUBJECTS)))
    p = PRODUCTS[pid]
    if mode == "owned":
        subject = rng.choice(OWNED_SUBJECTS).format(**p)
        framings: tuple[str, ...] = (f"{p['short']}: {bare}", f"{bare} on my {p['short']}", f"{bare} - {p['name']}")
    else:
        subject = rng.choice(PRESALES_SUBJECTS).format(**p)
        framings = (f"before I buy the {p['short']}: {bare}", f"question about the {p['name']}, {bare}",
                    f"asking for my mum, her {p['short']} - {bare}", f"gift for my son ({p['short']}) {bare}")
    if intent["subj_queries"] and rng.random() < 0.5:
        return _noise(rng, rng.choice(intent["subj_queries"]).format(subj=subject))
    return _noise(rng, rng.choice(framings))


def _pick_query(rng: random.Random, customer: Customer) -> tuple[str, str, str | None]:
    """(mode, intent, named product or None) for one question of this customer."""
    active = {item["product"]: item["platform"] for item in customer["owned"] if item["status"] == "active"}
    used = {FEATURE_INTENTS.get(event["feature"]) for event in customer["usage"]}
    mode = rng.choices(("unnamed", "owned", "presales"), (66, 18, 16))[0]
    if mode == "presales":
        ever = {item["product"] for item in customer["owned"]}
        weights: dict[str, float] = {pid: p["weight"] for pid, p in PRODUCTS.items()
                                     if p["status"] == "current" and pid not in ever}
        if not any(weights.values()):
            mode = "owned"
        else:
            pid = _weighted(rng, weights)
            boost = ("setup", "wifi-connect", "battery-drain", "disconnects")
            intent = _weighted(rng, {k: INTENTS[k]["weight"] * (2 if k in boost else 1)
                                     for k in intents_for(pid)})
            return mode, intent, pid
    if mode == "owned":
        pid = rng.choice(list(active))
        weights = {k: INTENTS[k]["weight"] * (3 if k in used else 1) for k in intents_for(pid, active[pid])}
        intent = _weighted(rng, weights)
        return mode, intent, pid
    candidates = {k for pid, platform in active.items() for k in intents_for(pid, platform)}
    candidates |= {k for k, intent in INTENTS.items() if intent.get("general")}
    weights = {k: INTENTS[k]["weight"] * (3 if k in used else 1) * (0.5 if INTENTS[k].get("general") else 1)
               for k in INTENTS if k in candidates}
    return mode, _weighted(rng, weights), None


def draft_queries(
    rng: random.Random, customers: Sequence[Customer], judge: Judge
) -> list[tuple[str, str, str, str | None, dict[str, int]]]:
    """2-4 questions per customer who consented to evaluation: (customer_id, text, intent, named, qrels)."""
    queries = []
    for customer in customers:
        if not customer["consents"]["evaluation"]:
            continue
        wanted = rng.choices((2, 3, 4), (30, 40, 30))[0]
        seen: set[tuple[str, str | None]] = set()
        for _ in range(30):
            if len(seen) == wanted:
                break
            mode, intent, pid = _pick_query(rng, customer)
            if (intent, pid) in seen:
                continue
            grades = judge(customer, intent, pid)
            if not grades:
                continue
            seen.add((intent, pid))
            text = _text(rng, INTENTS[intent], mode, pid)
            queries.append((customer["customer_id"], text, intent, pid, grades))
    return queries

