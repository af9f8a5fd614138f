"""Purposes: why a profile is read, which consent that needs, and which fields it may hand out.

=====================  ====================  ======================================================  ================
purpose                consent needed        fields handed out                                       with ``usage``
                                                                                                     consent also
=====================  ====================  ======================================================  ================
``personalization``    personalization       owned, region, locale, segment                          usage
``chat``               chat                  owned, region, locale, segment                          usage
``proactive-contact``  proactive-contact     customer, owned, region, locale, segment,               usage
                       + a channel           preferred_channel, channels, addresses
``evaluation``         evaluation            owned, region, locale, segment                          usage
``analytics``          analytics             owned, region, segment                                  usage
=====================  ====================  ======================================================  ================

The defaults follow the principle "owned products yes, behavior only when asked": a purpose's consent
unlocks what the customer owns and where they are, and usage history (what they do with it) needs the
separate ``usage`` consent. Contact is consented per channel (``channel:email``, ``channel:sms``,
``channel:push``): ``channels`` lists the consented ones and ``addresses`` holds only their addresses.
Only ``proactive-contact`` hands out ``customer`` (the pseudonym), because the outbox must key messages by it;
the other purposes are read by the caller who already knows whom they ask about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from ..errors import ParameterError, did_you_mean, suggestion
from .profiles import CHANNELS, CustomerProfile, channel_scope

__all__ = ["DATA_FIELDS", "Purpose", "Decision", "PURPOSES", "resolve_purpose"]

#: Every profile field a view can hold, in display order.
DATA_FIELDS = ("customer", "owned", "usage", "region", "locale", "segment", "preferred_channel", "channels",
               "addresses")
_CONTACT_FIELDS = ("channels", "addresses")
ANY_CHANNEL = "channel:*"


@dataclass(frozen=True)
class Decision:
    """What a read may hand out: ``granted`` or not (then ``missing`` names the consent scope lacking),
    the ``fields`` allowed, and for contact purposes the ``channels`` allowed."""

    granted: bool
    fields: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    missing: str | None = None


@dataclass(frozen=True)
class Purpose:
    """A reason to read profiles.

    ``fields`` are handed out whenever consent ``consent`` (default: the purpose's name) is granted;
    each field in ``conditional`` also needs the consent scope it maps to. A ``contact`` purpose also needs
    consent for at least one channel (or the one asked for) and hands out ``channels`` and ``addresses``
    restricted to the consented channels.
    """

    name: str
    description: str
    fields: tuple[str, ...]
    conditional: Mapping[str, str] = field(default_factory=dict, hash=False)
    contact: bool = False
    consent: str = ""

    def __post_init__(self) -> None:
        if not self.consent:
            object.__setattr__(self, "consent", self.name)
        object.__setattr__(self, "conditional", MappingProxyType(dict(self.conditional)))
        unknown = [f for f in (*self.fields, *self.conditional) if f not in DATA_FIELDS]
        if unknown:
            raise ParameterError("fields", f"names among {', '.join(DATA_FIELDS)}", unknown)
        contact_fields = {f for f in (*self.fields, *self.conditional) if f in _CONTACT_FIELDS}
        if contact_fields != (set(_CONTACT_FIELDS) if self.contact else set()) or (
                set(self.conditional) & set(_CONTACT_FIELDS)):
            raise ParameterError("contact", "True exactly when the purpose hands out channels and addresses",
                                 self.contact)

    @property
    def allowance(self) -> tuple[str, ...]:
        """Every field this purpose may ever hand out (with all its consents), in display order."""
        allowed = set(self.fields) | set(self.conditional)
        return tuple(f for f in DATA_FIELDS if f in allowed)

    def decide(self, profile: CustomerProfile, channel: str | None = None) -> Decision:
        """Check the customer's consents for this purpose (and ``channel``) and say which fields may go out."""
        if channel is not None:
            check_channel(self, channel)
        if not profile.consented(self.consent):
            return Decision(False, missing=self.consent)
        channels: tuple[str, ...] = ()
        if self.contact:
            wanted = (channel,) if channel is not None else CHANNELS
            channels = tuple(c for c in wanted if profile.consented(channel_scope(c)))
            if not channels:
                return Decision(False, missing=channel_scope(channel) if channel else ANY_CHANNEL)
        allowed = set(self.fields) | {f for f, scope in self.conditional.items() if profile.consented(scope)}
        return Decision(True, tuple(f for f in DATA_FIELDS if f in allowed), channels)


def check_channel(purpose: Purpose, channel: str) -> None:
    """Refuse a channel for a non-contact purpose, or an unknown channel (with "did you mean")."""
    if not purpose.contact:
        raise ParameterError("channel", f"None for purpose {purpose.name!r} (only contact purposes use channels)",
                             channel)
    if channel not in CHANNELS:
        raise ParameterError("channel", f"one of {', '.join(CHANNELS)}", channel,
                             hint=suggestion(channel, CHANNELS, cutoff=0.5))


_USAGE = {"usage": "usage"}
_BASE = ("owned", "region", "locale", "segment")

#: The built-in purposes by name. A gateway may be given more (see `ProfileGateway`).
PURPOSES: Mapping[str, Purpose] = MappingProxyType({p.name: p for p in (
    Purpose("personalization", "rank and filter help articles for the customer's products", _BASE, _USAGE),
    Purpose("chat", "answer the customer's questions in a conversation", _BASE, _USAGE),
    Purpose("proactive-contact", "tell affected customers about known issues and fixes",
            ("customer", *_BASE, "preferred_channel", "channels", "addresses"), _USAGE, contact=True),
    Purpose("evaluation", "measure search quality on the customer's own queries", _BASE, _USAGE),
    Purpose("analytics", "aggregate statistics about products and regions", ("owned", "region", "segment"), _USAGE),
)})


def resolve_purpose(purpose: "str | Purpose", registry: Mapping[str, Purpose] = PURPOSES) -> Purpose:
    """The `Purpose` named ``purpose``; `ParameterError` with "did you mean" for an unknown name."""
    if isinstance(purpose, Purpose):
        if registry.get(purpose.name) != purpose:
            raise ParameterError("purpose", "a purpose registered with this gateway", purpose.name)
        return purpose
    if isinstance(purpose, str) and purpose in registry:
        return registry[purpose]
    text = str(purpose).replace("_", "-").replace("personalis", "personaliz").lower()
    close = text if text in registry else did_you_mean(text, registry, cutoff=0.5)
    hint = f"Did you mean {close!r}?" if close else None
    raise ParameterError("purpose", f"one of {', '.join(registry)}", purpose, hint=hint)
