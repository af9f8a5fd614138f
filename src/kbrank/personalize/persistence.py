"""The personalizer as a component of an index directory, so a loaded searcher ranks exactly as the saved one.

The ``"personalizer"`` component records the policy (every rule), the product aliases, ``today`` (when it was
fixed), the usage half-life and the cache bound; a `LearnedPersonalizer` also stores its fitted model as
``personalizer.model`` (the JSON file `LearnedReranker.save` writes, checksummed like every index file).
What is learned from the corpus (the compiled applicability, the alias table) is rebuilt on load.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from .._cache import ByteBoundedCache
from ..errors import IndexFormatError, KBRankError
from .personalizer import Personalizer
from .policy import Policy

__all__ = ["write_personalizer", "read_personalizer"]

_COMPONENT = "personalizer"
_MODEL = "personalizer.model"


def write_personalizer(writer: Any, personalizer: Personalizer) -> None:
    """Add the personalizer's settings (and learned model, if any) to an `IndexWriter`."""
    from .learned import LearnedPersonalizer

    record: dict[str, Any] = {
        "class": type(personalizer).__name__,
        "policy": personalizer.policy_.to_records(),
        "product_aliases": {p: list(names) for p, names in (personalizer.product_aliases or {}).items()},
        "today": None if personalizer.today is None else personalizer.today.isoformat(),
        "usage_half_life_days": personalizer.usage_half_life_days,
        "cache_bytes": personalizer.cache_bytes,
    }
    if isinstance(personalizer, LearnedPersonalizer):
        writer.add_blob(_MODEL, "json", personalizer.reranker.save)
    elif type(personalizer) is not Personalizer:
        raise IndexFormatError(f"cannot save a {type(personalizer).__name__}: only Personalizer and "
                               "LearnedPersonalizer settings have a saved form",
                               fix="save the searcher with a Personalizer, and pass your own one to Searcher.load")
    writer.components[_COMPONENT] = record


def read_personalizer(reader: Any) -> Personalizer | None:
    """The unfitted personalizer recorded in the directory, or ``None`` if the index predates the component."""
    from .learned import LearnedPersonalizer, LearnedReranker

    record = reader.components.get(_COMPONENT)
    if record is None:
        return None
    where = str(reader.path)
    try:
        if not isinstance(record, Mapping):
            raise ValueError("the component is not an object")
        today = None if record["today"] is None else dt.date.fromisoformat(record["today"])
        options = dict(policy=Policy.from_records(record["policy"]), today=today,
                       product_aliases=record["product_aliases"] or None,
                       usage_half_life_days=record["usage_half_life_days"], cache_bytes=record["cache_bytes"])
        if record["class"] == "LearnedPersonalizer":
            personalizer: Personalizer = LearnedPersonalizer(reranker=LearnedReranker.load(reader.file(_MODEL)),
                                                             **options)
        elif record["class"] == "Personalizer":
            personalizer = Personalizer(**options)
        else:
            raise ValueError(f"unknown class {record['class']!r}")
        personalizer._check_params()
        ByteBoundedCache(personalizer.cache_bytes)  # the bound fit() will build: checked now, at load
    except (KeyError, TypeError, ValueError, KBRankError) as exc:
        if isinstance(exc, IndexFormatError):
            raise
        raise IndexFormatError(f"the personalizer settings are invalid ({exc})", path=where,
                               fix="rebuild and save the index again") from None
    return personalizer
