"""Multi-turn support conversations for the demo help centre, with graded, customer-dependent ground truth
per turn: the dev set of `kbrank.chat`.

>>> from kbrank.datasets import generate_conversations, load_helpcentre
>>> conversations = generate_conversations(load_helpcentre(), seed=0)        # doctest: +SKIP
>>> [t.kind for t in conversations[0].turns]                                  # doctest: +SKIP
['opener', 'follow-up', 'follow-up']

Each conversation is one customer's (among those who consented to ``chat``), about one *scenario*:

============  ================================================================================================
scenario      turns
============  ================================================================================================
named         an opener naming one of their products (``opener``), then follow-ups that name none
typo          the same, the model number or line word typed with one slip (``typo``): "X20O", "thermostst"
switch        an opener, a follow-up, then another of their products (``switch``, sometimes with a typo, or
              "the same on my C10"), then a follow-up about that one
ambiguous     an opener naming nothing, about a symptom that two or more of their products have
              (``ambiguous``: asking is right), the answer to the question (``answer``: "the camera",
              "my X200"), then follow-ups
unambiguous   an opener naming nothing, about a symptom only one of their products has, or an account topic
              (``unambiguous``: asking would be wrong), then follow-ups
presales      an opener about a product they do not own ("before I buy the C30: ...", ``presales``), then
              follow-ups
============  ================================================================================================

A follow-up (``follow-up``) either adds detail to the same symptom in words that name neither product nor
topic ("tried that already, no luck") or asks about another symptom of the same product ("also, how do I
reset it?"). Every turn's ``qrels`` come from the help centre's own relevance judge, asked about the turn's
symptom (``intent``) and the product the conversation is about (``product``: the one named last, or the
answer; ``None`` before any is named, which judges every active product of the customer). ``should_ask`` is
true exactly on ambiguous openers. ``names`` is the product the turn's own text names. Line words (router,
camera, thermostat, doorbell) are kept out of every turn that should name no product.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..corpus import Corpus
from ..errors import ParameterError
from ._helpcentre_catalog import LINES, OWNED_SUBJECTS, PRESALES_SUBJECTS, PRODUCTS, UNNAMED_SUBJECTS
from ._helpcentre_intents import INTENTS
from ._helpcentre_people import Customer, _noise, intents_for
from ._helpcentre_typos import one_edit, slip
from .helpcentre import HelpCentre, _Judge

__all__ = [
    "SCENARIOS",
    "TURN_KINDS",
    "ConversationTurn",
    "DemoConversation",
    "chat_catalogue",
    "generate_conversations",
]

SCENARIOS = {"named": 28, "typo": 15, "switch": 15, "ambiguous": 17, "unambiguous": 15, "presales": 10}
TURN_KINDS = ("opener", "typo", "switch", "ambiguous", "answer", "unambiguous", "presales", "follow-up")
_LINE_WORDS = re.compile(
    r"\b(router|routers|cam|camera|cameras|thermostat|thermostats|doorbell|doorbells|"
    r"mesh|app)\b",
    re.IGNORECASE,
)
_DETAILS = (
    "still happening after I restarted it",
    "I already tried that, no luck",
    "what else can I try?",
    "tried all of that, still the same",
    "any other ideas?",
    "it's doing it again this morning",
    "that didn't fix it",
    "nope, same problem",
    "ok did that, nothing changed",
    "still no luck, sorry",
)
_NEW_TOPIC = ("also, {q}", "one more thing: {q}", "and {q}", "another question: {q}", "{q}")
_SAME_ON = ("and the same on my {short}", "my {short} does the same", "same problem with the {name}")
_ANSWERS_LINE = ("the {noun}", "it's the {noun}", "my {noun}")
_ANSWERS_MODEL = ("my {short}", "the {name}", "it's the {short}")


@dataclass(frozen=True)
class ConversationTurn:
    """One customer turn: ``text``, its ``kind`` (`TURN_KINDS`), the symptom ``intent``, the ``product`` the
    conversation is about (``None`` when none is named yet), the product the turn ``names`` itself (or
    ``None``), ``should_ask`` (a clarifying question is the right move), the ``typo`` typed (or ``None``)
    and ``qrels`` (article id -> grade 1 or 2)."""

    text: str
    kind: str
    intent: str
    product: str | None
    names: str | None
    should_ask: bool
    qrels: Mapping[str, int]
    typo: str | None = None


@dataclass(frozen=True)
class DemoConversation:
    id: str
    customer_id: str
    scenario: str
    turns: tuple[ConversationTurn, ...]


def chat_catalogue(helpcentre: HelpCentre) -> dict[str, list[str]]:
    """The demo catalogue in the form `kbrank.chat.ChatRetriever` takes: each product's name, short name
    and line word ("camera"); the app's line word is left out (customers say "in the app" of every device)."""
    out = {}
    for pid, entry in helpcentre.catalog.items():
        names = [entry["name"], entry["short_name"]]
        if entry["line"] != "app":
            names.append(LINES[entry["line"]]["noun"])
        out[pid] = names
    return out


class _Writer:
    """Draws the turns of one conversation (a fresh one per attempt)."""

    def __init__(self, rng: random.Random, customer: Customer, judge: _Judge, corpus: Corpus) -> None:
        self.rng, self.customer, self.judge, self.corpus = rng, customer, judge, corpus
        self.active = {o["product"]: o["platform"] for o in customer["owned"] if o["status"] == "active"}
        self.hardware = [p for p in self.active if PRODUCTS[p]["line"] != "app"]
        self.details = list(_DETAILS)
        rng.shuffle(self.details)

    def detail(self) -> str:
        """A detail that names neither product nor topic, never twice in one conversation."""
        return self.details.pop()

    # -- ground truth ----------------------------------------------------------------------------------
    def grades(self, intent: str, product: str | None) -> dict[str, int]:
        return dict(sorted(self.judge(self.customer, intent, product).items()))

    def supporting(self, intent: str) -> list[str]:
        """The customer's active products that have articles of their own for ``intent``."""
        found = []
        for pid in self.active:
            grades = self.judge(self.customer, intent, pid)
            if any(pid in self.corpus.get(a).products for a in grades):
                found.append(pid)
        return found

    def turn(
        self,
        text: str,
        kind: str,
        intent: str,
        product: str | None,
        names: str | None,
        should_ask: bool = False,
        typo: str | None = None,
    ) -> ConversationTurn:
        grades = self.grades(intent, product)
        if not grades:
            raise LookupError("no relevant article")
        return ConversationTurn(
            text, kind, intent, product, names, should_ask, MappingProxyType(grades), typo
        )

    # -- wording ---------------------------------------------------------------------------------------
    def intent_for(self, pid: str, exclude: tuple[str, ...] = ()) -> str:
        choices = [k for k in intents_for(pid, self.active.get(pid)) if k not in exclude]
        if not choices:
            raise LookupError("no intent")
        return self.rng.choices(choices, [INTENTS[k]["weight"] for k in choices])[0]

    def bare(self, intent: str) -> str:
        plain = [q for q in INTENTS[intent]["queries"] if not _LINE_WORDS.search(q)]
        if not plain:
            raise LookupError("every wording names a line")
        return self.rng.choice(plain)

    def named_text(self, intent: str, subject: str, short: str) -> str:
        subj = [q for q in INTENTS[intent]["subj_queries"] if not _LINE_WORDS.search(q)]
        if subj and self.rng.random() < 0.5:
            return _noise(self.rng, self.rng.choice(subj).format(subj=subject))
        bare = self.bare(intent)
        return _noise(
            self.rng, self.rng.choice((f"{short}: {bare}", f"{bare} on my {short}", f"{subject} - {bare}"))
        )

    def unnamed_text(self, intent: str) -> str:
        subj = [q for q in INTENTS[intent]["subj_queries"] if not _LINE_WORDS.search(q)]
        if subj and self.rng.random() < 0.4:
            return _noise(self.rng, self.rng.choice(subj).format(subj=self.rng.choice(UNNAMED_SUBJECTS)))
        return _noise(self.rng, self.bare(intent))

    def subject(self, pid: str) -> tuple[str, str]:
        """(a subject naming the product, its short form) for an owned product."""
        p = PRODUCTS[pid]
        return self.rng.choice(OWNED_SUBJECTS).format(**p), p["short"]

    def typo(self, pid: str) -> tuple[str, str, str] | None:
        """(subject with a typo, short form with it, the typo) or None when no safe typo exists."""
        p = PRODUCTS[pid]
        taken = {q["short"].lower() for q in PRODUCTS.values()} | {
            LINES[q["line"]]["noun"] for q in PRODUCTS.values()
        }
        if len(p["short"]) >= 3 and any(c.isdigit() for c in p["short"]):
            word = p["short"]
        else:
            noun = LINES[p["line"]]["noun"]
            same_line = [q for q in self.active if PRODUCTS[q]["line"] == p["line"]]
            if len(same_line) != 1 or len(noun) < 5:
                return None
            word = noun
        others = [t for t in taken if t != word.lower()]
        for _ in range(20):
            slipped = slip(self.rng, word)
            if (
                len(slipped) >= 3
                and slipped.lower() != word.lower()
                and not any(one_edit(slipped.lower(), t) for t in others)
            ):  # one reading only, as a person would see it
                return f"my {slipped}", slipped, slipped
        return None


def _follow_ups(w: _Writer, intent: str, product: str | None, count: int) -> list[ConversationTurn]:
    turns = []
    for _ in range(count):
        if product is not None and w.rng.random() < 0.4:
            new = w.intent_for(product, exclude=(intent,))
            text = w.rng.choice(_NEW_TOPIC).format(q=w.bare(new))
            turns.append(w.turn(_noise(w.rng, text), "follow-up", new, product, None))
            intent = new
        else:
            turns.append(w.turn(w.detail(), "follow-up", intent, product, None))
    return turns


def _named(w: _Writer, typo: bool) -> list[ConversationTurn]:
    pid = w.rng.choice(w.hardware)
    intent = w.intent_for(pid)
    if typo:
        slipped = w.typo(pid)
        if slipped is None:
            raise LookupError("no typo")
        subject, short, typed = slipped
        first = w.turn(w.named_text(intent, subject, short), "typo", intent, pid, pid, typo=typed)
    else:
        subject, short = w.subject(pid)
        first = w.turn(w.named_text(intent, subject, short), "opener", intent, pid, pid)
    return [first, *_follow_ups(w, intent, pid, w.rng.randint(1, 3))]


def _switch(w: _Writer) -> list[ConversationTurn]:
    if len(w.hardware) < 2:
        raise LookupError("one product")
    first, second = w.rng.sample(w.hardware, 2)
    opening = w.intent_for(first)
    turns = [w.turn(w.named_text(opening, *w.subject(first)), "opener", opening, first, first)]
    turns += _follow_ups(w, opening, first, 1)
    last_intent = turns[-1].intent
    if last_intent in intents_for(second, w.active.get(second)) and w.rng.random() < 0.35:
        p = PRODUCTS[second]
        text, intent, typed = w.rng.choice(_SAME_ON).format(**p), last_intent, None
    else:
        intent = w.intent_for(second)
        slipped = w.typo(second) if w.rng.random() < 0.3 else None
        subject, short, typed = slipped if slipped else (*w.subject(second), None)
        text = w.rng.choice(("also ", "and ", "", "another thing, ")) + w.named_text(intent, subject, short)
    turns.append(w.turn(text, "switch", intent, second, second, typo=typed))
    return turns + _follow_ups(w, intent, second, w.rng.randint(1, 2))


def _ambiguous(w: _Writer) -> list[ConversationTurn]:
    candidates = {k for p in w.active for k in intents_for(p, w.active[p])}
    intents = [k for k in sorted(candidates) if len(w.supporting(k)) >= 2]
    if not intents:
        raise LookupError("nothing ambiguous")
    intent = w.rng.choices(intents, [INTENTS[k]["weight"] for k in intents])[0]
    first = w.turn(w.unnamed_text(intent), "ambiguous", intent, None, None, should_ask=True)
    chosen = w.rng.choice(w.supporting(intent))
    p = PRODUCTS[chosen]
    same_line = [q for q in w.active if PRODUCTS[q]["line"] == p["line"]]
    frames = (
        _ANSWERS_LINE
        if len(same_line) == 1 and p["line"] != "app" and w.rng.random() < 0.6
        else _ANSWERS_MODEL
    )
    text = w.rng.choice(frames).format(noun=LINES[p["line"]]["noun"], **p)
    answer = w.turn(text, "answer", intent, chosen, chosen)
    return [first, answer, *_follow_ups(w, intent, chosen, w.rng.randint(1, 2))]


def _unambiguous(w: _Writer) -> list[ConversationTurn]:
    candidates = {k for p in w.active for k in intents_for(p, w.active[p])}
    general = [k for k, i in INTENTS.items() if not i["lines"]]
    single = [k for k in sorted(candidates) if len(w.supporting(k)) == 1 and w.supporting(k)[0] in w.hardware]
    pool = single + (general if w.rng.random() < 0.2 or not single else [])
    if not pool:
        raise LookupError("nothing unambiguous")
    intent = w.rng.choice(pool)
    first = w.turn(w.unnamed_text(intent), "unambiguous", intent, None, None)
    rest = [w.turn(w.detail(), "follow-up", intent, None, None) for _ in range(w.rng.randint(1, 2))]
    return [first, *rest]


def _presales(w: _Writer) -> list[ConversationTurn]:
    ever = {o["product"] for o in w.customer["owned"]}
    options = [
        p for p, d in PRODUCTS.items() if d["status"] == "current" and d["line"] != "app" and p not in ever
    ]
    if not options:
        raise LookupError("owns everything")
    pid = w.rng.choice(options)
    p = PRODUCTS[pid]
    intent = w.intent_for(pid)
    subject = w.rng.choice(PRESALES_SUBJECTS).format(**p)
    framings = (
        f"before I buy the {p['short']}: {w.bare(intent)}",
        f"question about the {p['name']}, {w.bare(intent)}",
    )
    text = (
        w.named_text(intent, subject, p["short"])
        if w.rng.random() < 0.4
        else _noise(w.rng, w.rng.choice(framings))
    )
    first = w.turn(text, "presales", intent, pid, pid)
    return [first, *_follow_ups(w, intent, pid, w.rng.randint(1, 2))]


_SCENARIO_WRITERS = {
    "named": lambda w: _named(w, False),
    "typo": lambda w: _named(w, True),
    "switch": _switch,
    "ambiguous": _ambiguous,
    "unambiguous": _unambiguous,
    "presales": _presales,
}


def generate_conversations(
    helpcentre: HelpCentre, *, seed: int = 0, n_conversations: int = 160
) -> tuple[DemoConversation, ...]:
    """``n_conversations`` conversations of the help centre's chat-consenting customers, the same for the same
    help centre and ``seed`` on every run (their own random stream; articles, customers and queries are
    untouched)."""
    for name, value, low in (("seed", seed, 0), ("n_conversations", n_conversations, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParameterError(name, f"an integer >= {low}", value)
    rng = random.Random(f"kbrank-helpcentre/{seed}/conversations")
    judge = _Judge(helpcentre.corpus, helpcentre.as_of)
    customers = [
        c
        for c in helpcentre.customers
        if c["consents"]["chat"]
        and any(o["status"] == "active" and PRODUCTS[o["product"]]["line"] != "app" for o in c["owned"])
    ]
    if not customers:
        raise ParameterError("helpcentre", "a help centre with customers who consented to chat", helpcentre)
    scenarios = list(SCENARIOS)
    out: list[DemoConversation] = []
    while len(out) < n_conversations:
        scenario = rng.choices(scenarios, [SCENARIOS[s] for s in scenarios])[0]
        for _ in range(50):
            customer = rng.choice(customers)
            try:
                turns = _SCENARIO_WRITERS[scenario](_Writer(rng, customer, judge, helpcentre.corpus))
            except LookupError:
                continue
            out.append(
                DemoConversation(f"conv-{len(out) + 1:04d}", customer["customer_id"], scenario, tuple(turns))
            )
            break
    return tuple(out)
