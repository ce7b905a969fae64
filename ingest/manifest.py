"""The manifest: what each tenant's index holds, document by document.

It decides what a run's documents are (new, changed, unchanged, deleted)
relative to the last successful run, and is rewritten atomically at its end.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ingest.models import Change, DocStatus
from ingest.storage import write_parquet

MANIFEST = {
    "doc_id": pl.String, "source": pl.String, "sha256": pl.String, "size": pl.Int64,
    "status": pl.String, "reason": pl.String, "chunks": pl.Int64, "run_id": pl.String,
    "updated_at": pl.String, "versions": pl.String,
}


def read_manifest(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path) if path.is_file() else pl.DataFrame(schema=MANIFEST)


def classify_changes(current: pl.DataFrame, manifest: pl.DataFrame) -> tuple[list[str], list[str]]:
    """(change of each current document in order, doc ids deleted since the manifest)."""
    live = manifest.filter(pl.col("status") != DocStatus.DELETED)
    previous = dict(zip(live["doc_id"].to_list(), live["sha256"].to_list(), strict=True))
    changes = []
    for doc_id, sha256 in zip(current["doc_id"].to_list(), current["sha256"].to_list(), strict=True):
        if doc_id not in previous:
            changes.append(Change.NEW.value)
        elif previous[doc_id] != sha256:
            changes.append(Change.CHANGED.value)
        else:
            changes.append(Change.UNCHANGED.value)
    deleted = sorted(set(previous) - set(current["doc_id"].to_list()))
    return changes, deleted


def build_manifest(
    documents: pl.DataFrame,
    parsed: pl.DataFrame,
    chunk_counts: dict[str, int],
    previous: pl.DataFrame,
    *,
    run_id: str,
    now: str,
    versions: str,
) -> pl.DataFrame:
    """The manifest after a run: current documents, plus tombstones for deleted ones."""
    reasons = dict(zip(parsed["doc_id"].to_list(), parsed["quarantine_reason"].to_list(), strict=True))
    rows = []
    for row in documents.iter_rows(named=True):
        reason = reasons.get(row["doc_id"])
        rows.append({
            "doc_id": row["doc_id"], "source": row["source"], "sha256": row["sha256"], "size": row["size"],
            "status": (DocStatus.QUARANTINED if reason else DocStatus.INDEXED).value,
            "reason": reason, "chunks": chunk_counts.get(row["doc_id"], 0), "run_id": run_id,
            "updated_at": now, "versions": versions,
        })
    current_ids = set(documents["doc_id"].to_list())
    for row in previous.iter_rows(named=True):
        if row["doc_id"] in current_ids:
            continue
        if row["status"] != DocStatus.DELETED:
            row = {**row, "status": DocStatus.DELETED.value, "chunks": 0, "run_id": run_id, "updated_at": now}
        rows.append(row)
    return pl.DataFrame(rows, schema=MANIFEST).sort("source") if rows else pl.DataFrame(schema=MANIFEST)


def write_manifest(manifest: pl.DataFrame, path: Path) -> None:
    write_parquet(manifest, path)
