"""How many chunks of a collection hold each BM25 term: a table the index keeps beside each collection.

A question's common terms cost the sparse search the most (their posting lists are the longest) and
weigh the least (their IDF is low), so hybrid search leaves them out (`prune_query`, in retrieval.py).
Qdrant computes IDF from its own posting lists but does not expose them, so the index counts as it
writes: `TenantIndex` reads back the stored sparse vectors of the points a write replaces or deletes and
records the difference (`TermDelta`); the store applies it to the collection's table when the writes are
finished. Only written and deleted points are looked at, never the unchanged ones. A table being changed
is marked stale first, durably, so that a crash leaves it stale (queries then search every term) rather
than wrong; the next write recounts it from the stored vectors. Terms are the BM25 embedder's hashed ids
and the table holds only counts: no text.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ingest.index.retrieval import SparseVector


@dataclass(slots=True)
class TermDelta:
    """What writes did to a table: points added (negative: removed) and, per term, chunks added."""

    points: int = 0
    terms: Counter[int] = field(default_factory=Counter)

    def add(self, vectors: Iterable[SparseVector]) -> None:
        for vector in vectors:
            self.points += 1
            self.terms.update(vector.indices)

    def remove(self, vectors: Iterable[SparseVector]) -> None:
        for vector in vectors:
            self.points -= 1
            self.terms.subtract(vector.indices)


@dataclass(frozen=True, slots=True)
class TermTable:
    """A collection's counts: `terms` sorted, `counts[i]` the chunks holding `terms[i]` (never 0)."""

    points: int
    terms: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls) -> TermTable:
        return cls(0, np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64))

    @classmethod
    def from_counts(cls, points: int, counts: Mapping[int, int]) -> TermTable:
        kept = sorted(term for term, count in counts.items() if count > 0)
        return cls(points, np.asarray(kept, dtype=np.uint32),
                   np.asarray([counts[term] for term in kept], dtype=np.int64))

    def frequencies(self, terms: Iterable[int]) -> list[int]:
        """Chunks holding each of `terms` (0 for a term no chunk holds)."""
        wanted = np.asarray(list(terms), dtype=np.uint32)
        if not len(self.terms):
            return [0] * len(wanted)
        at = np.minimum(np.searchsorted(self.terms, wanted), len(self.terms) - 1)
        return np.where(self.terms[at] == wanted, self.counts[at], 0).tolist()

    def applied(self, delta: TermDelta) -> TermTable:
        """This table with `delta` added; a count falling to 0 (or below, which a correct delta never
        makes) removes its term."""
        if not delta.terms:
            return TermTable(self.points + delta.points, self.terms, self.counts)
        changed = np.asarray(list(delta.terms), dtype=np.uint32)
        change = np.asarray(list(delta.terms.values()), dtype=np.int64)
        terms, position = np.unique(np.concatenate([self.terms, changed]), return_inverse=True)
        counts = np.zeros(len(terms), dtype=np.int64)
        np.add.at(counts, position, np.concatenate([self.counts, change]))
        kept = counts > 0
        return TermTable(self.points + delta.points, terms[kept], counts[kept])

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, points=np.int64(self.points), terms=self.terms, counts=self.counts.astype(np.uint32))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TermTable:
        with np.load(io.BytesIO(data)) as arrays:
            return cls(int(arrays["points"]), arrays["terms"], arrays["counts"].astype(np.int64))

    def as_dict(self) -> dict[int, int]:
        return {int(term): int(count) for term, count in zip(self.terms, self.counts, strict=True)}


def count_terms(vectors: Iterable[SparseVector]) -> TermTable:
    """The table of a collection from all its stored sparse vectors."""
    delta = TermDelta()
    delta.add(vectors)
    return TermTable.from_counts(delta.points, delta.terms)
