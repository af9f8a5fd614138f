"""Data tables for the demo help centre (see `kbrank.datasets.helpcentre` for the model of the world).

Products, regions, locales, segments, title frames, body phrases shared by all intents, query subjects and
the region-, locale- and audience-specific article variants. The intents themselves (symptoms with their
wording) live in `kbrank.datasets._helpcentre_intents`. Nothing here is random: the generator draws from
these tables with a seeded ``random.Random``. Text placeholders are filled with ``str.format``: ``{name}``
("Lumio Router X200"), ``{short}`` ("X200"), ``{noun}`` ("router"), ``{plural}`` ("routers"), ``{app}``
("Lumio Home app"), ``{brand}`` and, in queries, ``{subj}``.
"""

from __future__ import annotations

import datetime as dt
from typing import NotRequired, TypedDict


class Product(TypedDict):
    """One row of `PRODUCTS`."""

    line: str
    name: str
    short: str
    status: str
    versions: tuple[str, ...]
    eras: tuple[str, ...]
    regions: tuple[str, ...]
    weight: int
    battery: bool
    features: tuple[str, ...]


class Intent(TypedDict):
    """One intent of `kbrank.datasets._helpcentre_intents.INTENTS` (its docstring explains the fields)."""

    lines: tuple[str, ...]
    kind: str
    weight: int
    tags: tuple[str, ...]
    topics: tuple[str, ...]
    open: tuple[str, ...]
    causes: tuple[str, ...]
    steps: tuple[str, ...]
    line_steps: dict[str, tuple[str, ...]]
    queries: tuple[str, ...]
    subj_queries: tuple[str, ...]
    issues: tuple[str, ...]
    workarounds: tuple[str, ...]
    line_causes: NotRequired[dict[str, tuple[str, ...]]]
    battery: NotRequired[bool]
    mobile: NotRequired[bool]
    general: NotRequired[bool]


class Variant(TypedDict):
    """One row of `VARIANTS`: an article restricted by exactly one of regions, locales or audience."""

    intent: str
    target: str
    topic: str
    text: str
    regions: NotRequired[tuple[str, ...]]
    locales: NotRequired[tuple[str, ...]]
    audience: NotRequired[tuple[str, ...]]


#: The fixed "today" of the demo world; every date is relative to it, never to the clock.
AS_OF = dt.date(2026, 11, 1)
BRAND = "Lumio"
APP_NAME = "Lumio Home app"
REGIONS = ("eu", "us", "uk", "apac")
PLATFORMS = ("ios", "android", "windows", "macos", "web")
MOBILE = ("ios", "android")
REGION_WEIGHTS = {"eu": 35, "us": 30, "uk": 20, "apac": 15}
LOCALES = {"eu": {"de-DE": 40, "fr-FR": 30, "nl-NL": 20, "en-GB": 10}, "uk": {"en-GB": 100},
           "us": {"en-US": 85, "es-US": 15}, "apac": {"en-AU": 60, "ja-JP": 40}}
SEGMENTS = {"consumer": 68, "pro": 22, "business": 10}
#: How many products a customer of each segment owns: (counts, weights).
OWNED_COUNTS = {"consumer": ((1, 2, 3, 4), (45, 32, 16, 7)), "pro": ((1, 2, 3, 4, 5), (20, 30, 25, 15, 10)),
                "business": ((2, 3, 4, 5, 6), (20, 25, 25, 20, 10))}
PLATFORM_NAMES = {"ios": "iOS", "android": "Android", "windows": "Windows", "macos": "Mac", "web": "web"}
#: Fictional phone ranges (reserved for drama/testing) per region: (prefix, number of random digits).
PHONE_NUMBERS = {"eu": ("+4915550", 4), "uk": ("+447700900", 3), "us": ("+155555501", 2),
                 "apac": ("+61491570", 3)}

LINES = {
    "router": {"noun": "router", "plural": "routers"},
    "camera": {"noun": "camera", "plural": "cameras"},
    "thermostat": {"noun": "thermostat", "plural": "thermostats"},
    "doorbell": {"noun": "doorbell", "plural": "video doorbells"},
    "app": {"noun": "app", "plural": "apps"},
}

#: Product id -> description. ``eras`` are the releases where the settings screens changed, so articles
#: are split there; ``weight`` is relative popularity; ``battery`` says whether battery questions apply.
PRODUCTS: dict[str, Product] = {
    "router-x100": Product(line="router", name="Lumio Router X100", short="X100", status="discontinued",
                        versions=("1.4.2", "1.5.0", "1.6.3"), eras=("1.5",), regions=REGIONS, weight=0,
                        battery=False, features=("guest-network",)),
    "router-x200": Product(line="router", name="Lumio Router X200", short="X200", status="current",
                        versions=("1.9.4", "2.0.0", "2.0.3", "2.1.0", "2.2.2", "2.3.1", "2.4.0", "2.5.1"),
                        eras=("2.0", "2.4"), regions=REGIONS, weight=30, battery=False,
                        features=("parental-controls", "guest-network", "speed-test", "port-forwarding")),
    "router-x300": Product(line="router", name="Lumio Router X300", short="X300", status="current",
                        versions=("3.0.0", "3.0.2", "3.1.0", "3.1.4", "3.2.0", "3.3.1"), eras=("3.1", "3.3"),
                        regions=REGIONS, weight=18, battery=False,
                        features=("parental-controls", "guest-network", "speed-test", "vpn-server")),
    "router-m10": Product(line="router", name="Lumio Mesh M10", short="M10", status="current",
                       versions=("1.0.0", "1.1.0", "1.2.1", "1.3.0", "2.0.0", "2.1.2"), eras=("1.2", "2.0"),
                       regions=("eu", "us", "uk"), weight=14, battery=False,
                       features=("mesh-points", "parental-controls", "speed-test")),
    "cam-c10": Product(line="camera", name="Lumio Cam C10", short="C10", status="current",
                    versions=("4.0.1", "4.1.0", "4.2.0", "4.3.2", "4.4.0"), eras=("4.2",), regions=REGIONS,
                    weight=24, battery=True, features=("live-view", "motion-alerts", "night-vision")),
    "cam-c20": Product(line="camera", name="Lumio Cam C20", short="C20", status="current",
                    versions=("1.0.0", "1.2.0", "1.3.1", "2.0.0", "2.1.0"), eras=("1.3", "2.0"),
                    regions=REGIONS,
                    weight=20, battery=False,
                    features=("live-view", "motion-alerts", "cloud-recording", "night-vision")),
    "cam-c30": Product(line="camera", name="Lumio Cam C30 Outdoor", short="C30", status="current",
                    versions=("1.0.2", "1.1.0", "1.2.0", "1.3.0"), eras=("1.2",), regions=("eu", "us", "uk"),
                    weight=12, battery=True, features=("live-view", "motion-alerts", "lte-backup")),
    "thermo-t1": Product(line="thermostat", name="Lumio Thermostat T1", short="T1", status="current",
                      versions=("3.2.0", "3.3.0", "3.4.1", "3.5.0"), eras=("3.4",), regions=REGIONS,
                      weight=16,
                      battery=True, features=("schedules", "eco-mode")),
    "thermo-t2": Product(line="thermostat", name="Lumio Thermostat T2", short="T2", status="current",
                      versions=("1.0.0", "1.1.0", "1.2.0", "2.0.1", "2.1.0"), eras=("1.2", "2.0"),
                      regions=("eu", "uk", "us"), weight=12, battery=False,
                      features=("schedules", "eco-mode", "geofencing")),
    "bell-d1": Product(line="doorbell", name="Lumio Doorbell D1", short="D1", status="current",
                    versions=("2.0.0", "2.1.3", "2.2.0", "2.3.0"), eras=("2.2",), regions=REGIONS, weight=14,
                    battery=True, features=("live-view", "chime", "motion-alerts")),
    "bell-d2": Product(line="doorbell", name="Lumio Doorbell D2 Wired", short="D2", status="current",
                    versions=("1.0.0", "1.1.1", "1.2.0"), eras=("1.1",), regions=("eu", "uk", "us"), weight=9,
                    battery=False, features=("live-view", "chime", "quick-replies")),
    "app-home": Product(line="app", name="Lumio Home app", short="Lumio app", status="current",
                     versions=("4.8.0", "4.9.2", "5.0.0", "5.1.0", "5.2.0", "5.2.3", "5.3.0"),
                     eras=("5.0", "5.2"),
                     regions=REGIONS, weight=0, battery=False, features=("notifications", "automations")),
}

#: Where settings live, per line and era index (older firmware first).
SETTINGS_PATHS = {
    "router": ("the classic web console at http://192.168.1.1", "Settings > Network in the admin page",
               "the Lumio app under Devices > {short} > Wi-Fi"),
    "camera": ("the camera tab of the app (gear icon)", "Devices > {short} > Camera settings"),
    "thermostat": ("the menu on the thermostat itself", "Devices > {short} > Heating & cooling"),
    "doorbell": ("Device settings in the app", "Devices > {short} > Doorbell & chime"),
    "app": ("the Profile tab", "Settings in the side menu", "Account & settings (person icon)"),
}

#: Usage feature -> the intent a customer who uses it is more likely to ask about.
FEATURE_INTENTS = {"parental-controls": "parental-controls", "speed-test": "slow-speed",
                   "live-view": "live-view", "motion-alerts": "notifications", "night-vision": "night-vision",
                   "schedules": "temperature", "eco-mode": "temperature", "chime": "chime",
                   "notifications": "notifications", "mesh-points": "disconnects", "lte-backup": "offline",
                   "cloud-recording": "live-view", "quick-replies": "notifications",
                   "geofencing": "temperature"}

TITLE_FRAMES = {
    "troubleshooting": ("{Topic} on the {name}", "{short}: {topic}", "Troubleshooting {topic} ({name})",
                        "{name} - {topic}", "Fixing {topic} on your {short}"),
    "how-to": ("How to deal with {topic} on your {name}", "Step by step: {topic} on the {short}",
               "Guide: {topic} with the {name}"),
    "faq": ("FAQ: {topic} on the {name}", "Questions about {topic} ({short})",
            "{name}: common questions about {topic}"),
    "reference": ("{name} reference: {topic}", "{short} settings related to {topic}"),
    "known-issue": ("Known issue: {issue} on {short} {range}", "{short} {range}: {issue}",
                    "Known issue - {name}: {issue}"),
    "line": ("{Topic} on {brand} {plural}", "All {brand} {plural}: {topic}",
             "{Topic}: general checks for {plural}"),
    "general": ("{Topic}", "Help with {topic}", "{brand} account: {topic}"),
}

APPLIES = {
    "firmware": ("This article applies to {name} firmware {range}.", "Applies to: {short}, firmware {range}.",
                 "These steps are written for firmware {range} on the {name}."),
    "app": ("This article applies to the {app} {range}.", "Applies to app version {range}."),
}
CLOSINGS = (
    "If nothing helps, contact support with the serial number from the label on the {noun}.",
    "Still stuck? Open a chat from the app and mention the steps you have already tried.",
    "If the problem keeps coming back, send us a diagnostic report from Settings > Help.",
    "Our support team can look at the device logs remotely once you give permission in the app.",
)
COMPANION_NOTES = (
    "The screenshots in this guide show the current layout of the settings screens.",
    "Most customers fix this within ten minutes without any tools.",
    "You do not need to remove the {noun} from its mount to follow these steps.",
)
DEPRECATED_NOTE = "This page describes an older procedure and has been replaced by a newer article."
ARCHIVED_NOTE = "This article is kept for reference only and is no longer maintained."

#: Prefixes for queries that name a product the customer does not own (pre-sales, gifts, family).
PRESALES_SUBJECTS = ("the {short} I'm thinking of buying", "my dad's {short}", "the {short} I got as a gift",
                     "a {short}", "my sister's {name}", "the {name} (not bought yet)")
OWNED_SUBJECTS = ("my {short}", "the {short}", "my {name}")
UNNAMED_SUBJECTS = ("it", "my device", "the thing", "mine")

#: Extra articles restricted by region, locale or audience. ``target`` is a product id or a line name
#: (one article per current model of the line) or "" for a general article.
VARIANTS: tuple[Variant, ...] = (
    Variant(intent="disconnects", target="router", regions=("eu", "uk"),
         topic="drop-outs when radar (DFS) channels switch",
         text=("In Europe the router must leave DFS channels when radar is detected, which drops devices "
               "for up to a minute.")),
    Variant(intent="wifi-connect", target="router", regions=("eu", "uk"),
         topic="5 GHz network missing on EU channel plans",
         text=("European channel rules hide channels 149-165, so older client devices may not see the 5 "
               "GHz network.")),
    Variant(intent="setup", target="router", regions=("apac",),
         topic="PPPoE and VLAN settings for APAC providers",
         text=("Several providers in Australia and Japan require VLAN tagging or PPPoE credentials "
               "during setup.")),
    Variant(intent="offline", target="cam-c30", regions=("us",),
         topic="LTE backup not connecting on US carriers",
         text=("A carrier network change in the US stops the LTE backup from registering on older SIM "
               "profiles.")),
    Variant(intent="disconnects", target="cam-c30", regions=("us",),
         topic="LTE fallback drops on US carriers",
         text=("On some US carriers the camera switches between Wi-Fi and LTE too eagerly and drops the "
               "stream.")),
    Variant(intent="temperature", target="thermostat", regions=("eu",),
         topic="eco limits under EU energy rules",
         text=("EU energy regulations cap the eco setpoint; the thermostat may override very high "
               "targets in eco mode.")),
    Variant(intent="temperature", target="thermo-t2", regions=("us",),
         topic="utility demand response events",
         text=("US utilities can adjust the setpoint during demand response events if you joined a "
               "rebate program.")),
    Variant(intent="setup", target="bell-d2", regions=("uk",),
         topic="UK transformer and chime wiring",
         text=("UK homes often have 8 V bell transformers; the D2 needs 12-24 V AC, so replace the "
               "transformer.")),
    Variant(intent="setup", target="thermostat", locales=("de-DE",),
         topic="Schnellstart: installation in German",
         text="This is the German-language quick start with wiring diagrams for common German boilers."),
    Variant(intent="setup", target="camera", locales=("fr-FR",),
         topic="guide d'installation in French",
         text=("This is the French-language installation guide, including mounting tips for French "
               "window frames.")),
    Variant(intent="setup", target="router", locales=("ja-JP",),
         topic="Japanese provider setup guide",
         text="This guide covers IPv6 IPoE setup used by most Japanese fiber providers."),
    Variant(intent="update-failed", target="router", audience=("business",),
         topic="fleet updates in the Business Console",
         text=("Business customers can schedule firmware updates for all sites in the Lumio Business "
               "Console.")),
    Variant(intent="setup", target="router", audience=("pro", "business"),
         topic="advanced setup with VLANs and static routes",
         text="Pro and business plans unlock VLANs, static routes and a second WAN port for failover."),
    Variant(intent="setup", target="camera", audience=("business",),
         topic="multi-camera installations for business sites",
         text="Business sites can add up to 64 cameras to one location and assign viewers per camera."),
    Variant(intent="billing", target="", regions=("eu", "uk"),
         topic="VAT on subscriptions",
         text=("Prices in the EU and UK include VAT at your country's rate; VAT invoices are in the "
               "billing history.")),
    Variant(intent="billing", target="", regions=("us",),
         topic="sales tax on subscriptions",
         text="US prices exclude sales tax, which is added at checkout according to your state."),
    Variant(intent="billing", target="", regions=("apac",),
         topic="GST and local currency billing",
         text="In Australia GST is included; in Japan consumption tax is shown on the invoice."),
    Variant(intent="billing", target="", audience=("business",),
         topic="invoices for business accounts",
         text=("Business accounts are billed monthly by invoice with net 30 terms and a purchase order "
               "field.")),
    Variant(intent="privacy-request", target="", regions=("eu", "uk"),
         topic="GDPR data access and erasure",
         text=("Under the GDPR you may access, correct, export or erase your data; we answer within one "
               "month.")),
    Variant(intent="privacy-request", target="", regions=("us",),
         topic="CCPA and US state privacy rights",
         text="California and other US state laws give you the right to know, delete and opt out of sale."),
    Variant(intent="privacy-request", target="", regions=("apac",),
         topic="privacy requests in Australia and Japan",
         text="We follow the Australian Privacy Principles and Japan's APPI when we answer data requests."),
    Variant(intent="login", target="", audience=("business",),
         topic="single sign-on for business accounts",
         text="Business accounts can sign in with SAML single sign-on; contact your administrator first."),
)
