"""Data sets that ship with kbrank: the demo help centre, generated on first use (nothing is downloaded).

>>> from kbrank.datasets import load_helpcentre
>>> hc = load_helpcentre()          # doctest: +SKIP
>>> hc.corpus, hc.queries[0].text   # doctest: +SKIP
"""

from ._helpcentre_conversations import ConversationTurn, DemoConversation, chat_catalogue, generate_conversations
from .beir import BeirDataset, load_beir, read_beir_queries
from .helpcentre import AS_OF, DemoQuery, HelpCentre, generate_helpcentre, load_helpcentre, write_helpcentre

__all__ = ["AS_OF", "BeirDataset", "load_beir", "read_beir_queries", "DemoQuery", "HelpCentre", "generate_helpcentre", "load_helpcentre", "write_helpcentre",
           "ConversationTurn", "DemoConversation", "chat_catalogue", "generate_conversations"]
