"""The immutable ``query_id -> doc_id -> value`` mapping behind `Qrels` and `Run`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from ..errors import ParameterError

__all__ = ["NestedMapping"]

V = TypeVar("V", int, float)


class NestedMapping(Mapping[str, Mapping[str, V]], Generic[V]):
    """A read-only two-level mapping, validated and copied once at construction.

    Subclasses name themselves in error messages (``_what``) and check each value (``_coerce``). The inner
    mappings are read-only views, so neither the caller's dict nor this object can be changed afterwards.
    """

    __slots__ = ("_data",)
    _what = "mapping"

    def __init__(self, data: Mapping[str, Mapping[str, Any]]) -> None:
        if isinstance(data, NestedMapping) and type(data)._coerce is type(self)._coerce:
            self._data: Mapping[str, Mapping[str, V]] = data._data
            return
        if not isinstance(data, Mapping):
            raise ParameterError(self._what, "a mapping of query id -> {doc id: value}", type(data).__name__)
        copied: dict[str, Mapping[str, V]] = {}
        for query_id, docs in data.items():
            _check_id(f"{self._what} query id", query_id)
            if not isinstance(docs, Mapping):
                raise ParameterError(
                    f"{self._what}[{query_id!r}]", "a mapping of doc id -> value", type(docs).__name__
                )
            inner: dict[str, V] = {}
            for doc_id, value in docs.items():
                _check_id(f"{self._what}[{query_id!r}] doc id", doc_id)
                inner[doc_id] = self._coerce(value, f"{self._what}[{query_id!r}][{doc_id!r}]")
            copied[query_id] = MappingProxyType(inner)
        self._data = MappingProxyType(copied)

    @staticmethod
    def _coerce(value: Any, where: str) -> Any:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def __getitem__(self, query_id: str) -> Mapping[str, V]:
        return self._data[query_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def num_pairs(self) -> int:
        """How many (query, document) pairs the mapping holds."""
        return sum(len(docs) for docs in self._data.values())

    def to_dict(self) -> dict[str, dict[str, V]]:
        """A plain, mutable copy: ``{query_id: {doc_id: value}}``."""
        return {query_id: dict(docs) for query_id, docs in self._data.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(queries={len(self)}, pairs={self.num_pairs})"


def _check_id(kind: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ParameterError(kind, "a non-empty string", value, hint="convert ids with str() first")
