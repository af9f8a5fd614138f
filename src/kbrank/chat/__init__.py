"""Chat retrieval (flow C): the passages a chatbot should answer from, for the products the customer owns.

kbrank calls no language model. It tracks the product a conversation is about, builds the query from the
conversation, searches passages with the customer's profile and a hard restriction to that product, asks a
clarifying question when the conversation is ambiguous between the customer's products, and packs a prompt
context that fits its token budget, with numbered citations it can check::

    from kbrank.chat import ChatRetriever, ExtractiveAnswerer, build_context, check_citations

    retriever = ChatRetriever(searcher, catalogue={"router-x200": ["Lumio Router X200", "X200"]})
    view = gateway.read("cust-0007", "chat", degrade=True)        # the chat purpose, through the gate
    found = retriever.retrieve(turns, view, k=5)
    if found.clarification:
        reply = found.clarification.question                       # append found.clarification.as_turn()
    else:
        context = build_context(found.passages, budget_tokens=800)
        answer = ExtractiveAnswerer().answer(found.query.text, context)   # or your model
        assert check_citations(answer.text, context).ok
"""

from .answer import NO_ANSWER, Answer, Answerer, ExtractiveAnswerer
from .clarify import Clarification, ClarificationOption
from .context import (
    ChatContext,
    CitationCheck,
    ContextCitation,
    DroppedPassage,
    build_context,
    check_citations,
    estimate_tokens,
)
from .names import AliasTable, product_names
from .passages import ChatPassage, PassageReceipt
from .query import ChatQuery, QueryBuilder, QueryRewriter, TermWeights
from .retriever import ChatRetrieval, ChatRetriever
from .state import ConversationState, ConversationStore
from .tracking import Mention, ProductTracker, Tracking
from .turns import ASSISTANT_SPEAKERS, CUSTOMER_SPEAKERS

__all__ = [
    "ASSISTANT_SPEAKERS",
    "CUSTOMER_SPEAKERS",
    "NO_ANSWER",
    "AliasTable",
    "Answer",
    "Answerer",
    "ChatContext",
    "ChatPassage",
    "ChatQuery",
    "ChatRetrieval",
    "ChatRetriever",
    "CitationCheck",
    "Clarification",
    "ClarificationOption",
    "ContextCitation",
    "ConversationState",
    "ConversationStore",
    "DroppedPassage",
    "ExtractiveAnswerer",
    "Mention",
    "PassageReceipt",
    "ProductTracker",
    "QueryBuilder",
    "QueryRewriter",
    "TermWeights",
    "Tracking",
    "build_context",
    "check_citations",
    "estimate_tokens",
    "product_names",
]
