"""The symptoms and tasks customers ask about (the "intents"), with the wording used for articles and queries.

Each intent lists the product ``lines`` it applies to (empty for account topics), its usual article
``kind``, a popularity ``weight`` for query sampling and several wordings of everything: ``topics`` for
titles, ``open``/``causes``/``line_causes``/``steps``/``line_steps`` for bodies, ``queries``/``subj_queries``
for what customers type (colloquial, never a title), and ``issues``/``workarounds`` for known issues.
``battery=True`` limits the intent to battery-powered models; ``mobile=True`` adds per-phone-platform
(iOS/Android) articles; ``general=True`` adds account articles that name no product.
"""

from __future__ import annotations

from ._helpcentre_catalog import Intent
from ._helpcentre_intents_devices import DEVICE_INTENTS
from ._helpcentre_intents_features import FEATURE_AND_ACCOUNT_INTENTS

__all__ = ["APP_PLATFORMS", "INTENTS", "Intent"]

#: App platforms that get their own article per intent (``default`` for intents not listed).
APP_PLATFORMS: dict[str, tuple[str, ...]] = {
    "default": ("ios", "android", "windows", "macos"),
    "login": ("ios", "android", "windows", "macos", "web"),
    "password-reset": ("ios", "android", "web"),
    "notifications": ("ios", "android"),
    "battery-drain": ("ios", "android"),
    "parental-controls": ("ios", "android"),
    "live-view": ("ios", "android", "web"),
    "setup": ("ios", "android", "windows", "macos"),
}

#: The symptoms and tasks customers ask about, in generation order. ``lines`` empty means a general (account)
#: topic.
INTENTS: dict[str, Intent] = {**DEVICE_INTENTS, **FEATURE_AND_ACCOUNT_INTENTS}
