"""What an index store does for `TenantIndex`: named collections of points, one alias, reads and writes.

Two stores implement it: the embedded Qdrant Edge shards (`edge_store.py`, the default) and a Qdrant
server through qdrant-client (`server_store.py`, `QDRANT_URL`). Tenant rules, naming and blue/green
publishing live in `TenantIndex`, once, above both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.core.models import SearchHit
from ingest.index.retrieval import SPARSE_VECTOR, RetrievalSettings, SparseVector
from ingest.index.terms import TermDelta

# Fields with a keyword index in every collection: the tenant (Qdrant's tenant index), and the fields
# deletes and lineage filter on.
INDEXED_FIELDS = ("tenant", "doc_id", "source")
HNSW_M = 16
HNSW_EF_CONSTRUCT = 100
HNSW_EF_SEARCH = 256  # recall@10 0.97 against exact search at 1,000,000 points (docs/INDEX_ENGINES.md)
OVERSAMPLING = 2.0  # int8 candidates re-scored with the original vectors


@dataclass(frozen=True, slots=True)
class IndexPoint:
    point_id: str
    vector: Sequence[float]
    payload: dict
    sparse: SparseVector | None = None


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """One question: its dense vector and sparse terms (each where the mode needs it)."""

    settings: RetrievalSettings
    limit: int
    where: Mapping[str, str]  # payload field -> value every hit must have
    dense: Sequence[float] | None = None
    sparse: SparseVector | None = None


class VectorStore(Protocol):
    """Collections of points with a dense and a sparse vector each, and aliases that name one."""

    def collections(self) -> list[str]: ...

    def exists(self, name: str) -> bool: ...

    def create(self, name: str, dimension: int) -> None: ...

    def drop(self, name: str) -> None: ...

    def alias_target(self, alias: str) -> str | None: ...

    def point_alias(self, alias: str, target: str) -> None:
        """Make `alias` name `target`, in one step that readers see whole."""

    def dimension(self, name: str) -> int | None:
        """The dense vectors' size; None when the collection lacks this pipeline's vectors."""

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None: ...

    def delete(self, name: str, ids: Sequence[str]) -> None: ...

    def delete_where(self, name: str, where: Mapping[str, str]) -> int: ...

    def count(self, name: str) -> int: ...

    def query(self, name: str, spec: QuerySpec) -> list[SearchHit]: ...

    def retrieve(self, name: str, point_id: str) -> dict | None: ...

    def stored_sparse(self, name: str, *, ids: Sequence[str] | None = None,
                      where: Mapping[str, str] | None = None) -> Iterator[SparseVector]:
        """The stored sparse vectors of the points `ids` names (those that exist), or of those matching
        `where` (every point when neither is given)."""

    def term_frequencies(self, name: str, terms: Sequence[int]) -> tuple[int, list[int]] | None:
        """The collection's points and how many of them hold each of `terms`, from its term table
        (terms.py); None while the table is stale or missing."""

    def mark_terms_stale(self, name: str) -> bool:
        """Mark the term table as being changed, on disk; whether it was exact until now."""

    def update_terms(self, name: str, change: TermDelta | None) -> None:
        """Apply `change` to the table as it was before it was marked stale, or (None) count it again
        from the stored sparse vectors; then it is exact again."""

    def scroll(self, name: str, with_payload: bool | list[str], where: Mapping[str, str]) -> Iterator[tuple[str, dict]]:
        ...

    def make_durable(self) -> None:
        """Everything written so far survives a crash once this returns."""

    def finish_writes(self, name: str) -> None:
        """After a run's writes: build what makes queries fast (graph, quantized vectors)."""

    def close(self) -> None: ...


def hit(point_id: object, score: float, payload: dict | None) -> SearchHit:
    payload = dict(payload or {})
    return SearchHit(point_id=str(point_id), score=float(score), text=payload.get("text", ""), payload=payload)


def stored_sparse_vector(record) -> SparseVector:
    """The sparse vector of a record read back from either store (empty when it has none)."""
    stored = (record.vector or {}).get(SPARSE_VECTOR)
    return SparseVector(tuple(stored.indices), tuple(stored.values)) if stored is not None else SparseVector((), ())
