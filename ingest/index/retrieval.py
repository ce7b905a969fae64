"""How a question is matched: dense (the embedding model), sparse (BM25 keywords) or both fused.

Sparse vectors are BM25 term weights made by Qdrant's own BM25 embedder (from the `qdrant-edge-py`
package, in Rust): the same tokens, stemming and stop words on the embedded store and on a server.
Term ids are hashes, so there is no vocabulary to keep. The inverse document frequency is not in the
stored vectors: the engine computes it at query time from the points present (Qdrant's IDF modifier),
so adding or deleting a document never re-weights the chunks of the others.

Hybrid search leaves a question's most common terms out of its sparse side (`prune_query`): their
posting lists are what makes the sparse search slow on a large collection, and their IDF makes them
weigh little. How many chunks hold each term comes from the index's term table (terms.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache

from ingest.core.errors import ConfigError

MODES = ("hybrid", "dense", "sparse")
FUSIONS = ("dbsf", "rrf")
DENSE_VECTOR = "dense"  # names of the two vectors each point carries
SPARSE_VECTOR = "bm25"
# Whatever the collection's size, a sparse search over this many postings is cheap next to the dense one:
# pruning never cuts a question below it (and so never touches a collection of this size or smaller).
SPARSE_BUDGET_FLOOR = 20_000


@dataclass(frozen=True, slots=True)
class SparseVector:
    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    """A tenant's `[tenants.NAME.retrieval]` table: the default mode and how hybrid fuses.

    Hybrid takes the best `prefetch` chunks by each vector and fuses the two lists in the engine:
    `dbsf` (the default) normalises each list's scores by their spread (mean +- 3 standard deviations)
    and adds them; `rrf` adds a share per list that falls with the chunk's rank there (rrf_k flattens
    it, the weights scale each list's share). DBSF measured best on the public set, with the same
    ranking for the same question every time (docs/INDEX_ENGINES.md#retrieval).
    """

    mode: str = "hybrid"
    fusion: str = "dbsf"
    rrf_k: int = 60
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    prefetch: int = 50  # flat from 30 to 500 on the public set (docs/INDEX_ENGINES.md); each one costs time
    # Hybrid's sparse side keeps the question's rarest terms while the chunks holding them add up to at
    # most this share of the collection (prune_query; 0: every term). 0.05 brings hybrid's p95 to 1.1-1.2x
    # dense at 1,000,000 chunks on claim-like questions, against 2.3x, for nDCG@10 1.085x the bare model on
    # the public set instead of 1.103x (docs/INDEX_ENGINES.md#leaving-common-terms-out).
    sparse_budget: float = 0.05

    @classmethod
    def from_table(cls, table: Mapping[str, object], tenant: str = "") -> RetrievalSettings:
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(table) - known)
        where = f"[tenants.{tenant}.retrieval]" if tenant else "retrieval settings"
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        settings = cls(**table)  # type: ignore[arg-type]
        settings.validate(where)
        return settings

    def validate(self, where: str = "retrieval settings") -> None:
        if self.mode not in MODES:
            raise ConfigError(f"{where}: mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.fusion not in FUSIONS:
            raise ConfigError(f"{where}: fusion must be one of {', '.join(FUSIONS)}, not {self.fusion!r}")
        if not isinstance(self.rrf_k, int) or self.rrf_k < 1:
            raise ConfigError(f"{where}: rrf_k must be a whole number of at least 1")
        if not isinstance(self.prefetch, int) or self.prefetch < 1:
            raise ConfigError(f"{where}: prefetch must be a whole number of at least 1")
        for name in ("dense_weight", "sparse_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{where}: {name} must be a number of at least 0")
        if not isinstance(self.sparse_budget, int | float) or self.sparse_budget < 0:
            raise ConfigError(f"{where}: sparse_budget must be a number of at least 0 (0: every term)")
        if self.dense_weight == 0 and self.sparse_weight == 0:
            raise ConfigError(f"{where}: dense_weight and sparse_weight cannot both be 0")

    def with_mode(self, mode: str | None) -> RetrievalSettings:
        if mode is None or mode == self.mode:
            return self
        changed = replace(self, mode=mode)
        changed.validate()
        return changed


@cache
def _bm25():
    from qdrant_edge import Bm25

    return Bm25()  # k 1.2, b 0.75, English stop words and stemming: Qdrant's defaults


def _sparse(vector) -> SparseVector:
    return SparseVector(tuple(vector.indices), tuple(float(value) for value in vector.values))


def sparse_document(text: str) -> SparseVector:
    """A chunk's BM25 term weights (term frequency, saturated and length-normalised)."""
    return _sparse(_bm25().embed_document(text))


def sparse_query(text: str) -> SparseVector:
    """A question's terms, each weighted 1: the engine multiplies in each term's IDF."""
    return _sparse(_bm25().embed_query(text))


def prune_query(query: SparseVector, frequencies: Sequence[int], points: int, budget: float,
                floor: int | None = None) -> SparseVector:
    """The question's rarest terms while the chunks holding them (`frequencies`, one per term) add up to
    at most `budget` of the collection's `points`, or `floor` chunks (SPARSE_BUDGET_FLOOR) if that is more.

    The sparse search walks each term's posting list, so this bounds its work; the terms left out are
    the most common ones, whose IDF is the lowest. The rarest term always stays; budget 0 keeps all."""
    if budget <= 0 or not query.indices:
        return query
    allowed = max(budget * points, SPARSE_BUDGET_FLOOR if floor is None else floor)
    kept: list[int] = []
    total = 0
    for position in sorted(range(len(query.indices)), key=lambda at: (frequencies[at], query.indices[at])):
        total += frequencies[position]
        if kept and total > allowed:
            break
        kept.append(position)
    if len(kept) == len(query.indices):
        return query
    kept.sort()
    return SparseVector(tuple(query.indices[at] for at in kept), tuple(query.values[at] for at in kept))
