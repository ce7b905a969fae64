"""Which documents a stage must process, and how its table is brought up to date.

Every stage stores, with each row, the fingerprint of what the row was computed
from: a hash of the upstream stage's fingerprint and this stage's settings
version. A document whose expected fingerprint equals the stored one is
skipped; one whose fingerprint matches another document's rows (a renamed or
moved file) reuses those rows; only the rest is computed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl


def fingerprint(*parts: str) -> str:
    """A stable hash of the inputs that determine a stage's output for one document."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class StagePlan:
    """What a stage does with each live document."""

    keep: frozenset[str]  # stored rows are current
    reuse: Mapping[str, str]  # doc id -> doc id whose rows have the same fingerprint
    compute: tuple[str, ...]  # must be processed, in the order given

    @property
    def processed(self) -> int:
        return len(self.reuse) + len(self.compute)


def plan_stage(expected: Mapping[str, str], stored: pl.DataFrame) -> StagePlan:
    """Compare each live document's expected fingerprint with the stage's stored rows.

    `stored` has at least the columns doc_id and fingerprint (one or more rows per
    document); documents absent from `expected` are no longer live.
    """
    current = dict(stored.select("doc_id", "fingerprint").unique("doc_id").iter_rows()) if stored.height else {}
    by_fingerprint: dict[str, str] = {}
    for doc_id, stored_fingerprint in sorted(current.items()):
        by_fingerprint.setdefault(stored_fingerprint, doc_id)
    keep, reuse, compute = set(), {}, []
    for doc_id, wanted in expected.items():
        if current.get(doc_id) == wanted:
            keep.add(doc_id)
        elif wanted in by_fingerprint:
            reuse[doc_id] = by_fingerprint[wanted]
        else:
            compute.append(doc_id)
    return StagePlan(frozenset(keep), reuse, tuple(compute))


def apply_plan(stored: pl.DataFrame, plan: StagePlan, computed: pl.DataFrame) -> pl.DataFrame:
    """The stage's new table: kept rows, reused rows under their new doc id, computed rows."""
    parts = [stored.filter(pl.col("doc_id").is_in(list(plan.keep)))] if stored.height else []
    for doc_id, donor in plan.reuse.items():
        parts.append(stored.filter(pl.col("doc_id") == donor).with_columns(pl.lit(doc_id).alias("doc_id")))
    if computed.height:
        parts.append(computed)
    if not parts:
        return computed.clear()
    return pl.concat([part.select(computed.columns) for part in parts], how="vertical_relaxed")


def fingerprints_of(frame: pl.DataFrame, doc_ids: Iterable[str] | None = None) -> dict[str, str]:
    """doc id -> fingerprint of a stage table (one fingerprint per document)."""
    if not frame.height:
        return {}
    pairs = frame.select("doc_id", "fingerprint").unique("doc_id")
    if doc_ids is not None:
        pairs = pairs.filter(pl.col("doc_id").is_in(list(doc_ids)))
    return dict(pairs.iter_rows())
