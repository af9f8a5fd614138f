"""kbrank: personalized knowledge-base search.

The data flows one way::

    articles -> analysis -> indexes -> candidates -> fusion -> personalization -> explained results
    (corpus/)   (analysis)  (index/)   (retrieval/)  (retrieval/)  (personalize/)    (results)

Importing kbrank does nothing but define names: heavy dependencies load when first used.
"""

from ._version import __version__
from .analysis import Analyzer
from .corpus import Article, Corpus
from .errors import (
    CorpusError,
    IndexFormatError,
    InputError,
    KBRankError,
    NotFittedError,
    ParameterError,
    UnknownArticleError,
    VersionSpecError,
)
from .index.bm25 import BM25Index
from .retrieval import Candidates

__all__ = [
    "__version__",
    "Analyzer",
    "Article",
    "BM25Index",
    "Candidates",
    "Corpus",
    "CorpusError",
    "IndexFormatError",
    "InputError",
    "KBRankError",
    "NotFittedError",
    "ParameterError",
    "UnknownArticleError",
    "VersionSpecError",
]
