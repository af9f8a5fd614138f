"""The inputs of a chat retrieval, checked: the conversation's turns and the profile view.

A conversation is a list of ``{"speaker": ..., "text": ...}`` mappings, oldest first. The customer speaks as
``"customer"`` or ``"user"``; kbrank's side as ``"assistant"``, ``"agent"`` or ``"bot"``. An assistant
turn may carry ``"options"``, the product ids of a clarifying question (`Clarification.as_turn` writes it).
The last turn must be the customer's. The profile is a `ProfileView` read for the ``chat`` purpose, or
``None``; a view read for any other purpose is refused, never used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ParameterError

__all__ = ["ASSISTANT_SPEAKERS", "CUSTOMER_SPEAKERS", "Conversation", "check_chat_view", "read_turns"]

CUSTOMER_SPEAKERS = ("customer", "user")
ASSISTANT_SPEAKERS = ("assistant", "agent", "bot")
_MAX_TEXT = 20_000


@dataclass(frozen=True)
class Conversation:
    """The checked turns: the customer's ``texts`` (oldest first) and, per customer turn index, the
    ``options`` of a clarifying question asked right before it."""

    texts: tuple[str, ...]
    options: Mapping[int, tuple[str, ...]]
    asked_last: bool  # the turn before the last one is an assistant turn that asked a question

    @property
    def last(self) -> str:
        return self.texts[-1]


def read_turns(turns: Any) -> Conversation:
    """Check ``turns`` and split them into the customer's texts and the questions asked between them."""
    if isinstance(turns, (str, bytes, Mapping)) or not isinstance(turns, Sequence):
        raise ParameterError("turns", 'a list of {"speaker": ..., "text": ...} mappings, oldest first',
                             type(turns).__name__)
    texts: list[str] = []
    options: dict[int, tuple[str, ...]] = {}
    pending: tuple[str, ...] = ()
    last_speaker = None
    for i, turn in enumerate(turns):
        where = f"turns[{i}]"
        if not isinstance(turn, Mapping):
            raise ParameterError(where, 'a mapping {"speaker": ..., "text": ...}', type(turn).__name__)
        speaker, text = turn.get("speaker"), turn.get("text")
        if speaker not in CUSTOMER_SPEAKERS + ASSISTANT_SPEAKERS:
            speakers = ", ".join(CUSTOMER_SPEAKERS + ASSISTANT_SPEAKERS)
            raise ParameterError(f"{where}['speaker']", f"one of {speakers}", speaker)
        if not isinstance(text, str):
            raise ParameterError(f"{where}['text']", "a string", type(text).__name__)
        if len(text) > _MAX_TEXT:
            raise ParameterError(f"{where}['text']", f"at most {_MAX_TEXT:,} characters",
                                 f"{len(text):,} characters",
                                 hint="pass the customer's message, not a document")
        if speaker in ASSISTANT_SPEAKERS:
            offered = turn.get("options", ())
            if isinstance(offered, str) or not isinstance(offered, Sequence) or not all(
                    isinstance(p, str) for p in offered):
                raise ParameterError(f"{where}['options']", "a list of product id strings", offered)
            pending = tuple(offered)
        else:
            if pending:
                options[len(texts)] = pending
            texts.append(text)
            pending = ()
        last_speaker = speaker
    if not texts or last_speaker not in CUSTOMER_SPEAKERS:
        got = f"{len(turns)} turns, the last by {last_speaker!r}" if len(turns) else "no turns"
        raise ParameterError("turns", "a conversation whose last turn is the customer's", got,
                             hint="append the customer's message before retrieving")
    asked_last = len(texts) - 1 in options
    return Conversation(tuple(texts), options, asked_last)


def check_chat_view(profile: Any) -> Any:
    """``profile`` if it is ``None`` or a `ProfileView` read for ``chat``; else a `ParameterError`."""
    if profile is None:
        return None
    from ..privacy import ProfileView

    fix = "read it through the gateway for this purpose: gateway.read(customer_id, 'chat', degrade=True)"
    if not isinstance(profile, ProfileView):
        raise ParameterError("profile", "a ProfileView read for the 'chat' purpose, or None",
                             type(profile).__name__, hint=f"Fix: {fix}")
    if profile.purpose != "chat":
        raise ParameterError("profile", "a ProfileView read for the 'chat' purpose, or None",
                             f"a view read for {profile.purpose!r}",
                             hint=f"The chat retriever uses only chat views. Fix: {fix}")
    return profile
