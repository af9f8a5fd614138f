"""`SourceRuns`: retrieve each query once per source, then score each source alone and any fusion setting.

Tuning a hybrid search (fusion method, its parameters, the depth per source) on a dev split would otherwise
run every query again for every setting, encoding included. `SourceRuns.retrieve` keeps each query's BM25 and
dense candidates, ``depth`` deep; `SourceRuns.fused` then gives exactly what ``HybridRetriever(bm25, dense,
fusion=..., depth=..., fusion_params=...).search(query, k)`` returns, for any setting whose ``max(depth, k)``
is within the stored depth: each source cut to ``max(depth, k)``, fused, the best ``k`` kept. `SourceRuns.top`
is one source's own top ``k`` (a prefix of the deeper search: both indexes rank deterministically).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._params import check_int
from ..errors import ParameterError, did_you_mean
from .runs import Run

if TYPE_CHECKING:  # pragma: no cover
    from ..candidates import Candidates

__all__ = ["SourceRuns"]

Found = dict[str, "Candidates"]  # query id -> candidates


class SourceRuns:
    """Each query's candidates per source (``query id -> {"bm25": Candidates, "dense": Candidates}``), all
    retrieved ``depth`` deep, with the corpus ids (``ids[row]``) to turn rows into a `Run`.

    Build it with `retrieve`. The candidates are stored as given (`Candidates` are immutable).
    """

    def __init__(self, candidates: Mapping[str, Mapping[str, Candidates]], *, depth: int,
                 ids: Sequence[str]) -> None:
        check_int("depth", depth, 1)
        self.candidates = MappingProxyType({q: MappingProxyType(dict(c)) for q, c in candidates.items()})
        self.depth = depth
        self.ids = tuple(ids)

    @classmethod
    def retrieve(cls, bm25: Any, dense: Any, queries: Mapping[str, str], depth: int, *,
                 query_vectors: Mapping[str, Any] | None = None) -> SourceRuns:
        """Every query's candidates from a built `BM25Index` and `DenseIndex` over the same corpus, ``depth``
        deep, through `HybridRetriever.runs`. ``query_vectors`` (query id -> vector) skips the encoding, for
        example to share one encoding between several dense indexes."""
        from ..retrieval.hybrid import HybridRetriever

        if query_vectors is not None:
            missing = [query_id for query_id in queries if query_id not in query_vectors]
            if missing:
                raise ParameterError("query_vectors", "a vector for every query id", f"none for {missing[:3]}")
        retriever = HybridRetriever(bm25, dense, depth=depth)
        found = {}
        for query_id, text in queries.items():
            vector = None if query_vectors is None else query_vectors[query_id]
            found[query_id] = retriever.runs(text, depth, query_vector=vector)
        return cls(found, depth=depth, ids=bm25.corpus_.ids)

    def __len__(self) -> int:
        return len(self.candidates)

    def __repr__(self) -> str:
        return f"SourceRuns(queries={len(self)}, depth={self.depth})"

    def _check_deep_enough(self, needed: int, what: str) -> None:
        if needed > self.depth:
            raise ParameterError(what, f"at most the stored depth {self.depth}", needed,
                                 hint=f"retrieve again with SourceRuns.retrieve(..., depth={needed})")

    def top(self, source: str, k: int) -> Found:
        """Each query's top ``k`` from one source (``"bm25"`` or ``"dense"``), as that index's ``search(query, k)``."""
        self._check_deep_enough(k, "k")
        sources = {name for runs in self.candidates.values() for name in runs}
        if source not in sources:
            close = did_you_mean(source, sorted(sources))
            raise ParameterError("source", f"one of {sorted(sources)}", source,
                                 hint=f"did you mean {close!r}?" if close else None)
        return {query_id: runs[source].head(k) for query_id, runs in self.candidates.items()}

    def fused(self, k: int, *, fusion: str, fusion_params: Mapping[str, Any], depth: int) -> Found:
        """What ``HybridRetriever(bm25, dense, fusion=fusion, depth=depth, fusion_params=fusion_params)
        .search(query, k)`` returns for each query, fused from the stored candidates."""
        from ..retrieval.fusion import fuse

        take = max(depth, k)
        self._check_deep_enough(take, "max(depth, k)")
        return {query_id: fuse({name: c.head(take) for name, c in runs.items()}, k, method=fusion, **fusion_params)
                for query_id, runs in self.candidates.items()}

    def to_run(self, found: Mapping[str, Candidates], *, name: str | None = None) -> Run:
        """A `Run` of ``found`` (from `top` or `fused`) that keeps its order exactly (`Run.from_rankings`)."""
        ids = self.ids
        return Run.from_rankings({query_id: [ids[row] for row in c.rows.tolist()] for query_id, c in found.items()},
                                 name=name)
