"""Draft the help-centre articles: one function per kind of article, all driven by one seeded RNG.

See `kbrank.datasets.helpcentre` for the model of the world. Every article carries
``metadata["intent"]`` (the symptom it answers), ``metadata["line"]`` and ``metadata["scope"]``:

==============  ===========================================================================================
scope           what the article restricts
==============  ===========================================================================================
``version``     one model and a firmware/app version range (``versions``); app articles also a platform
``model``       one model, any version (FAQ or reference pages)
``line``        every current model of a product line
``platform``    every model of a line, used from one phone platform (iOS or Android)
``known-issue`` one or two models and the affected version ranges ("affects 2.0-2.3, fixed in 2.4")
``region``      a model, line or general article limited to some regions (``locale``, ``audience`` alike)
``general``     no product (account, billing, privacy)
==============  ===========================================================================================
"""

from __future__ import annotations

import datetime as dt
import random
import re
from functools import partial
from typing import Any

from packaging.version import Version

from ._helpcentre_catalog import (
    APP_NAME,
    APPLIES,
    ARCHIVED_NOTE,
    AS_OF,
    BRAND,
    CLOSINGS,
    COMPANION_NOTES,
    DEPRECATED_NOTE,
    LINES,
    PLATFORM_NAMES,
    PRODUCTS,
    SETTINGS_PATHS,
    TITLE_FRAMES,
    VARIANTS,
)
from ._helpcentre_intents import APP_PLATFORMS, INTENTS, Intent

__all__ = ["draft_articles", "intent_models", "slugify"]

Draft = dict[str, Any]
_OTHER_KIND = {"troubleshooting": ("how-to", "faq"), "how-to": ("troubleshooting", "faq"), "faq": ("how-to",)}


def slugify(text: str, limit: int = 60) -> str:
    """Lowercase ASCII words joined by hyphens, for URLs."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-")


def intent_models(intent_key: str, line: str) -> tuple[str, ...]:
    """The current models of ``line`` that an intent applies to (battery questions need a battery)."""
    intent = INTENTS[intent_key]
    return tuple(
        pid
        for pid, p in PRODUCTS.items()
        if p["line"] == line
        and p["status"] == "current"
        and (p["battery"] or not intent.get("battery") or line == "app")
    )


def _short(version: str) -> str:
    """``2.4.0`` -> ``2.4`` (PEP 440 treats them as equal); other versions unchanged."""
    return version[:-2] if version.count(".") == 2 and version.endswith(".0") else version


def _context(pid: str | None, line: str | None, platform: str | None = None) -> dict[str, str]:
    if pid is not None:
        p = PRODUCTS[pid]
        name, short, noun = p["name"], p["short"], LINES[p["line"]]["noun"]
    elif line is not None:
        name, short, noun = f"{BRAND} {LINES[line]['noun']}", LINES[line]["noun"], LINES[line]["noun"]
    else:
        name, short, noun = f"{BRAND} account", "account", "device"
    if platform is not None:
        name, short = f"{name} for {PLATFORM_NAMES[platform]}", f"{short} ({PLATFORM_NAMES[platform]})"
    plural = LINES[line]["plural"] if line else "products"
    return {"name": name, "short": short, "noun": noun, "plural": plural, "app": APP_NAME, "brand": BRAND}


def _title(rng: random.Random, frame_kind: str, topic: str, ctx: dict[str, str], **extra: str) -> str:
    frame = rng.choice(TITLE_FRAMES[frame_kind])
    return frame.format(**ctx, topic=topic, Topic=topic[:1].upper() + topic[1:], **extra)


def _body(
    rng: random.Random,
    intent: Intent,
    ctx: dict[str, str],
    line: str | None,
    *,
    lead: tuple[str, ...] = (),
    path: str | None = None,
    note: str | None = None,
) -> str:
    """Opening, applicability, cause, 3-5 numbered steps and a closing: 60-200 words."""
    parts = [rng.choice(intent["open"]), *lead]
    line_causes = intent.get("line_causes", {}).get(line or "", ())
    if line_causes:
        parts.append(rng.choice(line_causes))
    elif rng.random() < 0.8:
        parts.append(rng.choice(intent["causes"]))
    if path is not None:
        parts.append(f"On these versions the setting is in {path}.")
    pool = [*intent["steps"], *intent["line_steps"].get(line or "", ())]
    chosen = sorted(rng.sample(range(len(pool)), min(len(pool), rng.randint(3, 5))))
    steps = [pool[i] for i in chosen]  # keep the pool's order: steps of a procedure are sequential
    tail = [rng.choice(CLOSINGS), *((note,) if note is not None else ())]
    while len(steps) > 2 and len(" ".join([*parts, *steps, *tail]).split()) > 190:
        steps.pop()  # long leads (known issues on two models) leave room for fewer steps
    parts.append(" ".join(f"{n}. {step}" for n, step in enumerate(steps, start=1)))
    parts.extend(tail)
    extras = list(COMPANION_NOTES)
    rng.shuffle(extras)
    while len(" ".join(parts).split()) < 60 and extras:
        parts.insert(-1, extras.pop())
    return " ".join(parts).format(**ctx)


def _date(rng: random.Random, low: int, high: int) -> dt.date:
    return AS_OF - dt.timedelta(days=rng.randint(low, high))


def _range_text(versions: tuple[str, ...], lo: str | None, hi: str | None) -> str:
    """Human wording of ``[lo, hi)`` over the released versions: "2.0.0 to 2.3.1", "2.4 and later"."""
    inside = [v for v in versions
              if (lo is None or Version(v) >= Version(lo)) and (hi is None or Version(v) < Version(hi))]
    if hi is None:
        return f"{lo or inside[0]} and later"
    if lo is None:
        return f"before {hi}"
    return f"{inside[0]} to {inside[-1]}"


def _spec(lo: str | None, hi: str | None, first: str) -> str:
    parts = [f">={_short(lo)}"] if lo else []
    if hi:
        parts.append(f"<{_short(hi)}")
    return ",".join(parts) or f">={_short(first)}"


class _Builder:
    """Collects drafts; ``add`` returns the draft's position (used for ``superseded_by`` links)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.drafts: list[Draft] = []

    def add(self, *, intent: str, line: str | None, scope: str, kind: str, title: str, body: str,
            products: tuple[str, ...] = (), versions: dict[str, str] | None = None, status: str = "active",
            days: tuple[int, int] = (3, 700), valid_until: dt.date | None = None, **fields: Any) -> int:
        metadata = {"intent": intent, "line": line or "general", "scope": scope, **fields.pop("metadata", {})}
        tags = tuple(dict.fromkeys((*INTENTS[intent]["tags"], *((line,) if line else ()), kind)))
        self.drafts.append(dict(
            title=title, body=body, products=products, versions=versions or {}, kind=kind, status=status,
            updated_at=_date(self.rng, *days), valid_until=valid_until, tags=tags, metadata=metadata,
            **fields))
        return len(self.drafts) - 1

    def maybe_expiry(self, probability: float) -> dt.date | None:
        """Some pages carry a review date; a few of those have already passed (an expired article)."""
        roll = self.rng.random()
        if roll < probability:
            return AS_OF - dt.timedelta(days=self.rng.randint(10, 240))
        if roll < probability * 2.5:
            return AS_OF + dt.timedelta(days=self.rng.randint(30, 400))
        return None


def _model_articles(b: _Builder, key: str, pid: str, platform: str | None = None) -> None:
    """Version-split articles for one model (and one app platform), with companions and old editions."""
    rng, intent, p = b.rng, INTENTS[key], PRODUCTS[pid]
    line = p["line"]
    breaks = [era for era in p["eras"] if rng.random() < 0.75]
    bounds: list[str | None] = [None, *breaks, None]
    ctx = _context(pid, line, platform)
    platforms = (platform,) if platform else ()
    applies = APPLIES["app" if line == "app" else "firmware"]
    for lo, hi in zip(bounds, bounds[1:]):
        spec = _spec(lo, hi, p["versions"][0])
        era = 0 if lo is None else p["eras"].index(lo) + 1
        paths = SETTINGS_PATHS[line]
        path = paths[min(era, len(paths) - 1)].format(**ctx)
        lead = (rng.choice(applies).format(**ctx, range=_range_text(p["versions"], lo, hi)),)
        add = partial(b.add, intent=key, line=line, scope="version", products=(pid,), versions={pid: spec},
                      platforms=platforms)
        main = add(kind=intent["kind"],
                     title=_title(rng, intent["kind"], rng.choice(intent["topics"]), ctx),
                     body=_body(rng, intent, ctx, line, lead=lead, path=path))
        if rng.random() < 0.5:
            kind = rng.choice(_OTHER_KIND[intent["kind"]])
            add(kind=kind, title=_title(rng, kind, rng.choice(intent["topics"]), ctx),
                body=_body(rng, intent, ctx, line, lead=lead, path=path), valid_until=b.maybe_expiry(0.12))
        if rng.random() < 0.27:
            add(kind=intent["kind"], status="deprecated", days=(500, 1500),
                title=_title(rng, intent["kind"], rng.choice(intent["topics"]), ctx),
                body=_body(rng, intent, ctx, line, lead=lead, note=DEPRECATED_NOTE),
                metadata={"superseded_by": main})
        if lo is None and rng.random() < 0.25:
            add(kind=intent["kind"], status="archived", days=(700, 1800),
                title=_title(rng, intent["kind"], rng.choice(intent["topics"]), ctx),
                body=_body(rng, intent, ctx, line, lead=lead, note=ARCHIVED_NOTE))


def _issue_range(rng: random.Random, versions: tuple[str, ...]) -> tuple[str, str | None]:
    """An affected stretch of releases: (first affected, first fixed or None while unfixed)."""
    first = rng.randrange(len(versions))
    last = rng.randint(first, min(len(versions) - 1, first + 2))
    return versions[first], versions[last + 1] if last + 1 < len(versions) else None


def _known_issue(b: _Builder, key: str, pid: str, platform: str | None = None) -> None:
    """A known issue for one model, sometimes shared with a sibling model of the same line."""
    rng, intent, p = b.rng, INTENTS[key], PRODUCTS[pid]
    line = p["line"]
    products = [pid]
    siblings = [m for m in intent_models(key, line) if m != pid]
    if siblings and rng.random() < 0.25:
        products.append(rng.choice(siblings))
    versions, texts, fixes = {}, [], []
    for product in products:
        first, fixed = _issue_range(rng, PRODUCTS[product]["versions"])
        versions[product] = f">={_short(first)},<{_short(fixed)}" if fixed else f">={_short(first)}"
        affected = _range_text(PRODUCTS[product]["versions"], first, fixed)
        texts.append(f"{PRODUCTS[product]['short']} {affected}")
        fixes.append((product, fixed))
    ctx = _context(pid, line, platform)
    issue = rng.choice(intent["issues"])
    fixed_in = {prod: fix for prod, fix in fixes if fix}
    fix_texts = [
        f"The fix for the {PRODUCTS[prod]['short']} is included in version {fix}; install it from the app."
        if fix
        else f"Our engineers are working on a fix for the {PRODUCTS[prod]['short']}; this page will be "
        "updated when it is released."
        for prod, fix in fixes
    ]
    until = "Until you can update" if len(fixed_in) == len(fixes) else "Until a fix is available"
    lead = ("We are aware of an issue on " + " and on ".join(texts) + f": {issue}.", *fix_texts,
            f"{until}, {rng.choice(intent['workarounds'])}.")
    old_fix = all(fix and PRODUCTS[prod]["versions"].index(fix) <= len(PRODUCTS[prod]["versions"]) - 3
                  for prod, fix in fixes)
    status = "archived" if old_fix and rng.random() < 0.5 else "active"
    title = _title(rng, "known-issue", "", ctx, issue=issue, range=texts[0].split(" ", 1)[1])
    b.add(intent=key, line=line, scope="known-issue", kind="known-issue", products=tuple(products),
          versions=versions, platforms=(platform,) if platform else (), status=status, days=(20, 600),
          valid_until=b.maybe_expiry(0.2), title=title, body=_body(rng, intent, ctx, line, lead=lead),
          metadata={"fixed_in": fixed_in})


def _line_articles(b: _Builder, key: str, line: str, models: tuple[str, ...]) -> None:
    """Generic articles for every model of a line, plus phone-platform variants for phone-side symptoms."""
    rng, intent = b.rng, INTENTS[key]
    ctx = _context(None, line)
    for kind in (intent["kind"], "faq")[: 1 + (rng.random() < 0.5)]:
        b.add(intent=key, line=line, scope="line", kind=kind, products=models,
              title=_title(rng, "line", rng.choice(intent["topics"]), ctx),
              body=_body(rng, intent, ctx, line))
    if intent.get("mobile") and line != "app":
        for platform in ("ios", "android"):
            pctx = _context(None, line, platform)
            b.add(intent=key, line=line, scope="platform", kind=intent["kind"], products=models,
                  platforms=(platform,), title=_title(rng, "line", rng.choice(intent["topics"]), pctx),
                  body=_body(rng, intent, pctx, line))


def _general_articles(b: _Builder, key: str) -> None:
    rng, intent = b.rng, INTENTS[key]
    ctx = _context(None, None)
    for topic in rng.sample(intent["topics"], 2):
        b.add(intent=key, line=None, scope="general", kind=intent["kind"],
              title=_title(rng, "general", topic, ctx), body=_body(rng, intent, ctx, None))


def _variant_articles(b: _Builder) -> None:
    """Region-, locale- and audience-specific articles from the `VARIANTS` table."""
    rng = b.rng
    for variant in VARIANTS:
        key, target = variant["intent"], variant["target"]
        intent = INTENTS[key]
        regions, locales, audience = variant.get("regions", ()), variant.get("locales", ()), variant.get("audience", ())
        scope = "region" if regions else "locale" if locales else "audience"
        if target in LINES:
            targets: list[str | None] = list(intent_models(key, target))
        else:
            targets = [target or None]
        for pid in targets:
            line = PRODUCTS[pid]["line"] if pid else None
            ctx = _context(pid, line)
            frame = "general" if pid is None else intent["kind"]
            b.add(intent=key, line=line, scope=scope, kind=intent["kind"], products=(pid,) if pid else (),
                  title=_title(rng, frame, variant["topic"], ctx),
                  body=_body(rng, intent, ctx, line, lead=(variant["text"],)), regions=regions, locales=locales,
                  audience=audience)


def _discontinued_articles(b: _Builder, key: str, pid: str) -> None:
    """Pages for a discontinued model: kept, but archived."""
    rng, intent, p = b.rng, INTENTS[key], PRODUCTS[pid]
    ctx = _context(pid, p["line"])
    b.add(intent=key, line=p["line"], scope="version", kind=intent["kind"], products=(pid,),
          versions={pid: f">={_short(p['versions'][0])}"}, status="archived", days=(900, 2000),
          title=_title(rng, intent["kind"], rng.choice(intent["topics"]), ctx),
          body=_body(rng, intent, ctx, p["line"], note=ARCHIVED_NOTE))


def draft_articles(rng: random.Random) -> list[Draft]:
    """Every article as a keyword dict for `Article` (without ``id``/``url``), in generation order."""
    b = _Builder(rng)
    for key, intent in INTENTS.items():
        for line in intent["lines"]:
            models = intent_models(key, line)
            _line_articles(b, key, line, models)
            for pid in models:
                if line == "app":
                    for platform in APP_PLATFORMS.get(key, APP_PLATFORMS["default"]):
                        _model_articles(b, key, pid, platform)
                        if intent["issues"] and rng.random() < 0.3:
                            _known_issue(b, key, pid, platform)
                    continue
                _model_articles(b, key, pid)
                if rng.random() < 0.5:
                    ctx = _context(pid, line)
                    kind = rng.choice(("faq", "reference"))
                    b.add(intent=key, line=line, scope="model", kind=kind, products=(pid,),
                          title=_title(rng, kind, rng.choice(intent["topics"]), ctx),
                          body=_body(rng, intent, ctx, line), valid_until=b.maybe_expiry(0.1))
                issue_rate = 0.45 if intent["kind"] == "troubleshooting" else 0.15
                if intent["issues"] and rng.random() < issue_rate:
                    _known_issue(b, key, pid)
            for pid, p in PRODUCTS.items():
                if p["line"] == line and p["status"] == "discontinued" and rng.random() < 0.8:
                    _discontinued_articles(b, key, pid)
        if intent.get("general"):
            _general_articles(b, key)
    _variant_articles(b)
    return b.drafts


