"""Replaying scripted conversations through chat systems, and scoring them: the chat benchmark's library.

A conversation here is anything shaped like `kbrank.datasets.DemoConversation`: an ``id``, a
``customer_id`` and ``turns``, each with ``text``, ``kind``, ``product`` (the product the conversation is
about, ``None`` when none is named), ``should_ask`` and ``qrels``. The customer's turns are fed one by one;
each system answers every turn and its own replies (a clarifying question, or the extractive answer) become
the assistant turns of its history.

Systems (`SYSTEMS`):

* ``last-turn``: `Searcher.search` on the last customer turn alone (personalized with the chat view);
* ``concatenated``: the same on all customer turns joined;
* ``chat-no-profile``: `ChatRetriever` without a profile;
* ``chat-profile``: `ChatRetriever` with the customer's chat view;
* ``oracle``: `ChatRetriever` with the view, told the product (``focus``), never asking.

`score_replays` gives nDCG@10 per turn kind and system (`kbrank.evaluation.evaluate`; turns where a system
asked a question are left out of its nDCG, and counted), tracking accuracy (the products in focus equal the
turn's ``product``, or none when it is ``None``) and clarification precision and recall (asked exactly when
``should_ask``).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .answer import Answerer
    from .retriever import ChatRetrieval

__all__ = ["SYSTEMS", "TurnOutcome", "replay", "score_replays", "tracking_speed"]

SYSTEMS = ("last-turn", "concatenated", "chat-no-profile", "chat-profile", "oracle")


@dataclass(frozen=True)
class TurnOutcome:
    """What one system did on one turn: its ranking (article id -> score, best first), whether it asked,
    the products it had in focus and how long it took."""

    system: str
    turn_id: str
    kind: str
    ranking: Mapping[str, float]
    asked: bool
    focus: tuple[str, ...]
    seconds: float


def _ranking(ids: Sequence[str]) -> dict[str, float]:
    return {article_id: float(len(ids) - i) for i, article_id in enumerate(ids)}


def _reply(found: ChatRetrieval, answerer: Answerer) -> dict[str, Any]:
    if found.clarification is not None:
        return found.clarification.as_turn()
    from .context import build_context

    context = build_context(found.passages[:3], 400)
    return {"speaker": "assistant", "text": answerer.answer(found.query.text, context).text}


def replay(retriever: Any, conversations: Iterable[Any], views: Mapping[str, Any], *, k: int = 10,
           systems: Sequence[str] = SYSTEMS) -> list[TurnOutcome]:
    """Run every system of ``systems`` on every customer turn of ``conversations``.

    ``views`` maps a customer id to their chat `ProfileView` (read with ``degrade=True``: a customer without
    consent gets the non-personalized view, as in production).
    """
    from .answer import ExtractiveAnswerer

    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        from ..errors import ParameterError

        raise ParameterError("systems", f"names among {SYSTEMS}", unknown)
    searcher, answerer = retriever.searcher, ExtractiveAnswerer()
    out: list[TurnOutcome] = []
    for conversation in conversations:
        view = views[conversation.customer_id]
        histories: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
        texts: list[str] = []
        for n, turn in enumerate(conversation.turns, start=1):
            turn_id = f"{conversation.id}/{n}"
            texts.append(turn.text)
            for system in systems:
                history = histories[system]
                history.append({"speaker": "customer", "text": turn.text})
                started = time.perf_counter()
                if system in ("last-turn", "concatenated"):
                    query = turn.text if system == "last-turn" else " ".join(texts)
                    ids = searcher.search(query, k, profile=view).ids
                    out.append(TurnOutcome(system, turn_id, turn.kind, _ranking(ids), False, (),
                                           time.perf_counter() - started))
                    continue
                profile = None if system == "chat-no-profile" else view
                extra: dict[str, Any] = {}
                if system == "oracle":
                    extra = {"focus": (turn.product,) if turn.product else (), "clarify": False}
                found = retriever.retrieve(history, profile, k, **extra)
                seconds = time.perf_counter() - started
                out.append(TurnOutcome(system, turn_id, turn.kind, _ranking(found.article_ids),
                                       found.clarification is not None, found.tracking.products, seconds))
                history.append(_reply(found, answerer))
    return out


def _turns(conversations: Iterable[Any]) -> dict[str, Any]:
    return {f"{c.id}/{n}": t for c in conversations for n, t in enumerate(c.turns, start=1)}


def score_replays(conversations: Sequence[Any], outcomes: Sequence[TurnOutcome], *,
                  metric: str = "ndcg_cut_10") -> dict[str, Any]:
    """Per system: ``ndcg`` (turn kind -> mean, with ``"all"``), ``asked`` (kind -> turns asked),
    ``tracking_accuracy``, ``clarification`` (precision, recall, asked, should), ``ms`` (median, p95 per
    turn); plus ``turns`` (kind -> count)."""
    from ..evaluation import evaluate

    turns = _turns(conversations)
    kinds = sorted({t.kind for t in turns.values()})
    counts = {kind: sum(t.kind == kind for t in turns.values()) for kind in kinds}
    report: dict[str, Any] = {"turns": counts, "systems": {}}
    by_system: dict[str, list[TurnOutcome]] = {}
    for outcome in outcomes:
        by_system.setdefault(outcome.system, []).append(outcome)
    for system, items in by_system.items():
        entry: dict[str, Any] = {"ndcg": {}, "asked": {}}
        for kind in [*kinds, "all"]:
            chosen = [o for o in items if kind == "all" or o.kind == kind]
            shown = [o for o in chosen if not o.asked]
            entry["asked"][kind] = len(chosen) - len(shown)
            if shown:
                qrels = {o.turn_id: dict(turns[o.turn_id].qrels) for o in shown}
                run = {o.turn_id: dict(o.ranking) for o in shown}
                entry["ndcg"][kind] = evaluate(qrels, run, [metric], missing="zero").mean(metric)
            else:
                entry["ndcg"][kind] = math.nan
        truth = {o.turn_id: (turns[o.turn_id].product,) if turns[o.turn_id].product else () for o in items}
        correct = [o.focus == truth[o.turn_id] for o in items]
        entry["tracking_accuracy"] = sum(correct) / len(correct)
        asked = sum(o.asked for o in items)
        should = sum(turns[o.turn_id].should_ask for o in items)
        hits = sum(o.asked and turns[o.turn_id].should_ask for o in items)
        entry["clarification"] = {
            "precision": hits / asked if asked else math.nan, "recall": hits / should if should else math.nan,
            "asked": asked, "should": should,
            "wrongly_asked": [o.turn_id for o in items if o.asked and not turns[o.turn_id].should_ask],
            "not_asked": [o.turn_id for o in items if not o.asked and turns[o.turn_id].should_ask]}
        times = sorted(o.seconds * 1000 for o in items)
        entry["ms"] = {"median": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))]}
        report["systems"][system] = entry
    return report


def tracking_speed(tracker: Any, conversations: Sequence[Sequence[str]], *, owned: Sequence[str] = (),
                   repeats: int = 5, clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Microseconds per turn to track ``conversations`` (lists of customer texts), median over ``repeats``
    rounds: ``per_turn_us`` tracks each conversation once (its cost over its turns), ``retrack_us`` re-tracks
    the whole conversation at every turn, as `ChatRetriever.retrieve` does."""
    n_turns = sum(len(texts) for texts in conversations)
    once, again = [], []
    for _ in range(max(repeats, 1)):
        started = clock()
        for texts in conversations:
            tracker.track(texts, owned=owned)
        once.append((clock() - started) / n_turns * 1e6)
        started = clock()
        for texts in conversations:
            for end in range(1, len(texts) + 1):
                tracker.track(texts[:end], owned=owned)
        again.append((clock() - started) / n_turns * 1e6)
    return {"per_turn_us": statistics.median(once), "retrack_us": statistics.median(again), "turns": n_turns}


def chat_latency(retriever: Any, conversations: Sequence[Any], views: Mapping[str, Any], *, k: int = 10,
                 max_turns: int = 150, clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Milliseconds per customer turn of `ChatRetriever.retrieve` and, side by side on the same turns, of a
    plain personalized `Searcher.search` of the turn's text: median, p95 and the ratio of the medians."""
    chat, plain = [], []
    done = 0
    for conversation in conversations:
        view = views[conversation.customer_id]
        history: list[dict[str, Any]] = []
        for turn in conversation.turns:
            if done >= max_turns:
                break
            history.append({"speaker": "customer", "text": turn.text})
            started = clock()
            found = retriever.retrieve(history, view, k)
            chat.append((clock() - started) * 1000)
            started = clock()
            retriever.searcher.search(turn.text, k, profile=view)
            plain.append((clock() - started) * 1000)
            history.append(found.clarification.as_turn() if found.clarification else
                           {"speaker": "assistant", "text": "(answer)"})
            done += 1
    chat.sort()
    plain.sort()

    def p95(values: list[float]) -> float:
        return values[int(0.95 * (len(values) - 1))]

    return {"turns": float(done), "chat_median_ms": statistics.median(chat), "chat_p95_ms": p95(chat),
            "search_median_ms": statistics.median(plain), "search_p95_ms": p95(plain),
            "ratio": statistics.median(chat) / statistics.median(plain)}
