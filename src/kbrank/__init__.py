"""kbrank: personalized knowledge-base search.

The data flows one way::

    articles -> analysis -> indexes -> candidates -> fusion -> personalization -> explained results
    (corpus/)   (analysis)  (index/)   (candidates)  (retrieval/)  (personalize/)    (results)

with one applicability model (`kbrank.applicability`) under every flow and the privacy gate (`kbrank.privacy`)
as the only way to customer data. The names below are the public surface; everything else is reached
through its subpackage. Importing kbrank does nothing but define names: each one is imported on first use,
so ``import kbrank`` loads neither numpy nor scipy, let alone torch or faiss.

>>> from kbrank import Searcher, Corpus, Article
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    ConsentError,
    CorpusError,
    FieldNotAllowedError,
    IndexFormatError,
    InputError,
    KBRankError,
    MissingDependencyError,
    NotFittedError,
    OutputError,
    ParameterError,
    ProfileError,
    ProfileStoreError,
    UnknownArticleError,
    UnknownCustomerError,
    VersionSpecError,
)

if TYPE_CHECKING:  # the same names, for type checkers and IDEs (re-exported through __all__)
    from .analysis import Analyzer
    from .applicability import Scope
    from .corpus import Article, Corpus
    from .evaluation import Qrels, Run, evaluate
    from .index import BM25Index, DenseIndex, SentenceTransformerEncoder
    from .personalize import Contribution, LearnedPersonalizer, Personalizer, Policy, Rule, default_policy
    from .privacy import CustomerProfile, OwnedProduct, ProfileGateway, ProfileView, UsageEvent, Where
    from .results import HiddenResult, Result, Results
    from .searcher import Searcher

_LAZY = {
    "Analyzer": ".analysis",
    "Scope": ".applicability",
    "Article": ".corpus", "Corpus": ".corpus",
    "Qrels": ".evaluation", "Run": ".evaluation", "evaluate": ".evaluation",
    "BM25Index": ".index", "DenseIndex": ".index", "SentenceTransformerEncoder": ".index",
    "Contribution": ".personalize", "LearnedPersonalizer": ".personalize", "Personalizer": ".personalize",
    "Policy": ".personalize", "Rule": ".personalize", "default_policy": ".personalize",
    "CustomerProfile": ".privacy", "OwnedProduct": ".privacy", "ProfileGateway": ".privacy",
    "ProfileView": ".privacy", "UsageEvent": ".privacy", "Where": ".privacy",
    "HiddenResult": ".results", "Result": ".results", "Results": ".results",
    "Searcher": ".searcher",
}

__all__ = [
    "__version__", "Analyzer", "Article", "BM25Index", "Contribution", "Corpus", "CustomerProfile", "DenseIndex",
    "HiddenResult", "LearnedPersonalizer", "OwnedProduct", "Personalizer", "Policy", "ProfileGateway", "ProfileView",
    "Qrels", "Result", "Results", "Rule", "Run", "Scope", "Searcher", "SentenceTransformerEncoder", "UsageEvent",
    "Where", "default_policy", "evaluate", "ConsentError", "CorpusError", "FieldNotAllowedError", "IndexFormatError",
    "InputError", "KBRankError", "MissingDependencyError", "NotFittedError", "ParameterError", "ProfileError",
    "ProfileStoreError", "OutputError", "UnknownArticleError", "UnknownCustomerError", "VersionSpecError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kbrank' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
