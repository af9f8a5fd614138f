"""`ChatRetriever`: the passages a chatbot should answer from, tailored to what the customer owns.

One turn, end to end::

    turns + chat view ─► track the product ─► build the query (HQE) ─► personalized search, restricted
        to the product in focus ─► the best passage per article, with receipts
        (or a `Clarification` when no product is named and the top passages split between the customer's)

Hard guarantees, each tested:

* The product restriction *narrows* the profile's hide mask, never replaces it: the search mask is the
  product restriction AND the ownership restriction, and the searcher then ANDs its own hide mask.
* With a personalized view, no passage is about a product the customer neither owns (in any status) nor
  named in the conversation (the products in focus), whatever the policy.
* A masked-out article never appears, not even with score 0; if the profile would hide every match, no
  passage is returned (and ``notice`` says so) rather than unpersonalized ones.
* Conversation text is redacted (`kbrank.privacy.redact`) before anything is logged; conversation state
  holds product ids only and is erased with the customer (`register_erasure`).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NotFittedError, ParameterError
from .clarify import Clarification, ClarificationOption, contenders, question_for
from .passages import ChatPassage, best_passages
from .query import ChatQuery, QueryBuilder, QueryRewriter, TermWeights
from .state import ConversationState, ConversationStore
from .tracking import ProductTracker, Tracking
from .turns import check_chat_view, read_turns

__all__ = ["ChatRetrieval", "ChatRetriever"]

log = logging.getLogger("kbrank.chat")
_WORDS = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class ChatRetrieval:
    """What `ChatRetriever.retrieve` found for the conversation's last turn.

    Either ``passages`` (best first, each with its article, offsets, text, citation id and receipt) or, when
    the chatbot should ask instead of guessing, a ``clarification`` (then ``passages`` is empty; each option
    carries its own). ``tracking`` says which product the conversation is about and why, ``query`` what was
    searched, ``personalized`` whether the customer's profile shaped it, and ``notice`` any caveat.
    """

    passages: tuple[ChatPassage, ...]
    clarification: Clarification | None
    tracking: Tracking
    query: ChatQuery
    personalized: bool = False
    notice: str | None = None

    @property
    def article_ids(self) -> list[str]:
        return [p.article_id for p in self.passages]

    def to_dict(self) -> dict[str, Any]:
        return {"passages": [p.to_dict() for p in self.passages],
                "clarification": None if self.clarification is None else self.clarification.to_dict(),
                "products": list(self.tracking.products), "tracking": self.tracking.how,
                "query": dataclasses.asdict(self.query), "personalized": self.personalized,
                "notice": self.notice}


class _QueryVectors:
    """Each query text of one retrieval encoded once (the search, its passages and every option reuse it)."""

    def __init__(self, searcher: Any) -> None:
        self._dense = getattr(searcher, "dense_", None)
        self._vectors: dict[str, Any] = {}

    def __call__(self, text: str) -> Any:
        if self._dense is None:
            return None
        if text not in self._vectors:
            self._vectors[text] = self._dense.encode_query(text)
        return self._vectors[text]


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(name, f"an integer >= {minimum}", value)
    return value


class ChatRetriever:
    """Conversation-aware, profile-aware passage retrieval over a built `kbrank.searcher.Searcher`.

    Parameters: ``searcher`` (built); keyword-only, stored unchanged: ``catalogue`` (product id -> a display
    name or a list of names and aliases, e.g. ``{"router-x200": ["Lumio Router X200", "X200"]}``; without
    it names come from the corpus's product ids), ``query_builder`` (a `QueryBuilder`, default settings),
    ``rewriter`` (a `QueryRewriter` whose query is fused with HQE's by reciprocal rank fusion, or ``None``),
    ``clarify_depth`` (top results weighed for a clarification, 20), ``clarify_margin`` (``None``: 0.09 cosine
    with a dense index, else 0.25 of the BM25 scale; see `kbrank.chat.clarify`), ``max_options`` (4),
    ``state_bytes`` (the conversation-state bound, 1 MiB). Fitted on first use, or by `fit`.

    >>> retriever = ChatRetriever(searcher, catalogue=catalogue)                        # doctest: +SKIP
    >>> view = gateway.read("cust-0007", "chat", degrade=True)                           # doctest: +SKIP
    >>> found = retriever.retrieve([{"speaker": "customer", "text": "my X200 keeps dropping"}], view, k=5)
    ...                                                                                  # doctest: +SKIP
    """

    def __init__(self, searcher: Any, *, catalogue: Mapping[str, Any] | None = None,
                 query_builder: QueryBuilder | None = None, rewriter: QueryRewriter | None = None,
                 clarify_depth: int = 20, clarify_margin: float | None = None, max_options: int = 4,
                 state_bytes: int = 1 << 20) -> None:
        self.searcher = searcher
        self.catalogue = catalogue
        self.query_builder = query_builder
        self.rewriter = rewriter
        self.clarify_depth = clarify_depth
        self.clarify_margin = clarify_margin
        self.max_options = max_options
        self.state_bytes = state_bytes
        self._fit_lock = threading.Lock()

    # -- fitting -----------------------------------------------------------------------------------------
    def fit(self) -> ChatRetriever:
        searcher = self.searcher
        if not hasattr(searcher, "corpus_") or not hasattr(searcher, "personalizer_"):
            raise NotFittedError("the searcher is not built; call searcher.build(corpus) or "
                                 "Searcher.load(path)")
        _check_int("clarify_depth", self.clarify_depth, 1)
        _check_int("max_options", self.max_options, 2)
        margin = self.clarify_margin
        if margin is not None and (isinstance(margin, bool) or not isinstance(margin, (int, float))
                                   or not 0 <= margin <= 1):
            raise ParameterError("clarify_margin", "None or a number between 0 and 1", margin)
        if self.rewriter is not None and not isinstance(self.rewriter, QueryRewriter):
            raise ParameterError("rewriter", "an object with rewrite(turns) -> str | None",
                                 type(self.rewriter).__name__)
        corpus = searcher.corpus_
        applicability = searcher.personalizer_.applicability_
        vocabulary: set[str] = set()
        for article in corpus:
            vocabulary.update(_WORDS.findall(article.text.lower()))
        tracker = ProductTracker(catalogue=self.catalogue, vocabulary=vocabulary)
        tracker.fit(applicability.vocab["products"])
        weights = TermWeights.from_searcher(searcher)
        name_terms: dict[str, set[str]] = {}
        for alias, owners in tracker.names_.aliases.items():
            for product in owners:
                name_terms.setdefault(product, set()).update(weights.analyzer(alias))
        builder = self.query_builder if self.query_builder is not None else QueryBuilder()
        self.tracker_ = tracker
        self.weights_ = weights
        self.query_builder_ = builder.fit(weights, name_terms)
        self.applicability_ = applicability
        self.general_ = ~applicability.restricted("products")
        self.state_ = ConversationStore(_check_int("state_bytes", self.state_bytes, 0))
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "tracker_"):
            with self._fit_lock:
                if not hasattr(self, "tracker_"):
                    self.fit()

    @property
    def names(self) -> Any:
        """The alias table (`kbrank.chat.names.AliasTable`): display names and aliases per product."""
        self._fitted()
        return self.tracker_.names_

    # -- state and erasure -------------------------------------------------------------------------------
    def register_erasure(self, gateway: Any, name: str = "kbrank.chat") -> None:
        """Have ``gateway.erase(customer)`` also drop that customer's conversation state."""
        self._fitted()
        gateway.register_erasure_hook(name, self.state_.erase_customer)

    def forget(self, conversation: str) -> bool:
        """Drop one conversation's state; whether it was held."""
        self._fitted()
        return self.state_.forget(conversation)

    # -- masks -------------------------------------------------------------------------------------------
    def _about(self, products: Iterable[str]) -> np.ndarray:
        """Articles that apply to any of ``products``: those listing one of them, and general ones."""
        about: np.ndarray = self.applicability_.lists_any("products", list(products)) | self.general_
        return about

    def _allowed(self, products: Collection[str], view: Any, personal: bool) -> np.ndarray | None:
        allowed = self._about(products) if products else None
        if personal:
            mine = {o.product for o in view.owned} | set(products)
            owned = self._about(mine)
            allowed = owned if allowed is None else (allowed & owned)
        return allowed

    # -- retrieval ---------------------------------------------------------------------------------------
    def retrieve(self, turns: Any, profile: Any = None, k: int = 5, *, focus: Iterable[str] | None = None,
                 clarify: bool = True, conversation: str | None = None,
                 customer: str | None = None) -> ChatRetrieval:
        """The passages for the conversation's last turn, or a clarifying question.

        ``turns``: ``{"speaker", "text"}`` mappings, oldest first (see `kbrank.chat.turns`); ``profile``: a
        `ProfileView` read for ``chat``, or ``None``; ``k``: passages wanted. ``focus`` overrides tracking
        with the products the conversation is about (a device picker in the chat window; ``()`` for none);
        ``clarify=False`` never asks. ``conversation`` (an id) with ``customer`` (their pseudonym, from
        `ProfileGateway.pseudonymize`, never the raw id) keeps state between calls, such as the options of a
        question just asked, so plain-text turns can answer it.
        """
        self._fitted()
        _check_int("k", k, 1)
        view = check_chat_view(profile)
        if conversation is not None and (not isinstance(customer, str) or not customer):
            raise ParameterError("customer", "the customer's pseudonym when a conversation id is given",
                                 customer, hint="use gateway.pseudonymize(customer_id); state is erased with "
                                                "the customer")
        chat = read_turns(turns)
        state = self.state_.get(conversation) if conversation is not None else None
        options = dict(chat.options)
        asked_last = chat.asked_last
        if state is not None and state.asked and state.turns == len(chat.texts) - 1:
            options.setdefault(len(chat.texts) - 1, state.asked)
            asked_last = True
        from ..personalize import is_personalized

        personal = is_personalized(view)
        active = (o.product for o in view.owned if o.status == "active") if personal else ()
        owned = tuple(dict.fromkeys(active))
        if focus is not None:
            given = tuple(dict.fromkeys(focus))
            tracking = Tracking(given, "given" if given else "none")
        else:
            tracking = self.tracker_.track(chat.texts, owned=owned, options=options)
        query = self.query_builder_.build(chat.texts, tracking.products)
        if self.rewriter is not None:
            from ..privacy import redact

            redacted = [{"speaker": "customer", "text": redact(t)} for t in chat.texts]
            rewritten = self.rewriter.rewrite(redacted)
            if rewritten is not None and not isinstance(rewritten, str):
                raise ParameterError("rewriter.rewrite()", "a string or None", type(rewritten).__name__)
            query = dataclasses.replace(query, rewritten=rewritten or None)
        self._log(chat.texts, tracking, query)
        vectors = _QueryVectors(self.searcher)
        depth = max(self.clarify_depth, k)
        results, notice = self._search(query, view, personal, tracking.products, depth, vectors)
        focus_line = tracking.describe(self.tracker_.names_)
        out = None
        # ask only about a clear new topic: an ambiguous turn carries the topic (and decision) of earlier ones
        if clarify and personal and len(owned) >= 2 and len(tracking.products) != 1 and not asked_last \
                and not query.ambiguous:
            candidates = [p for p in tracking.products if p in owned] if tracking.products else list(owned)
            out = self._clarification(results, candidates, query, view, k, vectors)
        if out is None:
            restricted = [self.tracker_.names_.name(p) for p in tracking.products]
            passages = best_passages(self.searcher, self.weights_, query.text, results[:k], focus=focus_line,
                                     restricted_to=restricted, query_vector=vectors(query.text))
            retrieval = ChatRetrieval(passages, None, tracking, query, personal, notice)
        else:
            retrieval = ChatRetrieval((), out, tracking, query, personal, notice)
        if conversation is not None and customer is not None:  # checked above: a customer comes with the id
            state = ConversationState(customer, tracking.products, out.products if out else (), len(chat.texts))
            self.state_.put(conversation, state)
        return retrieval

    def _search(self, query: ChatQuery, view: Any, personal: bool, products: tuple[str, ...], depth: int,
                vectors: Callable[[str], Any]) -> tuple[list[Any], str | None]:
        searcher = self.searcher
        allowed = self._allowed(products, view, personal)
        named = products if personal else ()
        texts = [query.text] + ([query.rewritten] if query.rewritten else [])
        runs = [searcher.search(text, depth, profile=view, mask=allowed, named=named,
                                query_vector=vectors(text)) for text in texts]
        if personal and any(not r.personalized and len(r) for r in runs):  # the searcher fell back
            return [], "your profile would hide every match, so no passage is offered"
        if allowed is not None:  # belt and braces: nothing outside the mask, whatever a searcher does
            corpus = searcher.corpus_
            runs = [[r for r in run if allowed[corpus.row(r.article_id)]] for run in runs]
        else:
            runs = [list(run) for run in runs]
        if len(runs) == 1:
            return runs[0], None
        return self._fused(runs, depth), None

    def _fused(self, runs: list[list[Any]], depth: int) -> list[Any]:
        from ..candidates import Candidates
        from ..retrieval.fusion import DEFAULT_RRF_CONSTANT, fuse

        corpus = self.searcher.corpus_
        by_row: dict[int, Any] = {}
        candidates = {}
        for name, run in zip(("hqe", "rewrite"), runs):
            rows = np.array([corpus.row(r.article_id) for r in run], dtype=np.int64)
            for row, result in zip(rows.tolist(), run):
                by_row.setdefault(row, result)
            candidates[name] = Candidates(rows=rows, scores=-np.arange(len(rows), dtype=np.float64))
        constant = (self.searcher.fusion_params or {}).get("constant", DEFAULT_RRF_CONSTANT) \
            if self.searcher.fusion == "rrf" else DEFAULT_RRF_CONSTANT
        fused = fuse(candidates, depth, method="rrf", constant=constant)
        return [dataclasses.replace(by_row[row], rank=i, score=float(score))
                for i, (row, score) in enumerate(zip(fused.rows.tolist(), fused.scores.tolist()), start=1)]

    def _clarification(self, results: list[Any], candidates: list[str], query: ChatQuery, view: Any,
                       k: int, vectors: Callable[[str], Any]) -> Clarification | None:
        corpus = self.searcher.corpus_
        products_of = {r.article_id: corpus.get(r.article_id).products for r in results}
        close, lead, source = contenders(results, products_of, candidates, depth=self.clarify_depth,
                                         margin=self.clarify_margin, max_options=self.max_options)
        if len(close) < 2:
            return None
        names = self.tracker_.names_
        options = []
        for product, similarity in close:
            found, _ = self._search(query, view, True, (product,), k, vectors)
            focus_line = f"about {names.name(product)}, if that is your answer"
            passages = best_passages(self.searcher, self.weights_, query.text, found[:k], focus=focus_line,
                                     restricted_to=[names.name(product)], query_vector=vectors(query.text))
            options.append(ClarificationOption(product, names.name(product), similarity, passages))
        measure = "cosine" if source == "dense" else "relative BM25 score"
        reason = (f"the best articles for {len(options)} of your products are equally close to the question "
                  f"({measure} within {lead - close[-1][1]:.2f} of the best) and the conversation names none")
        return Clarification(question_for([o.label for o in options]), tuple(options), reason)

    def _log(self, texts: tuple[str, ...], tracking: Tracking, query: ChatQuery) -> None:
        if log.isEnabledFor(logging.DEBUG):
            from ..privacy import redact

            log.debug("chat turn %d %r: products %s (%s), query %r", len(texts), redact(texts[-1]),
                      ",".join(tracking.products) or "-", tracking.how, redact(query.text))
