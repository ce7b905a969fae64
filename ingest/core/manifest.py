"""The manifest: what each tenant's index holds, document by document.

It decides what a run's documents are (new, changed, unchanged, deleted)
relative to the last successful run, records the settings each document was
processed with and the run that indexed it, and is rewritten atomically at the
end of each run, after the index is up to date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

from ingest.core.files import write_parquet
from ingest.core.models import Change, DocStatus

VERSION_COLUMNS = ("parser_version", "redaction_policy", "chunker_version", "embedding_model")
MANIFEST = {
    "doc_id": pl.String, "source": pl.String, "sha256": pl.String, "size": pl.Int64, "status": pl.String,
    "reason": pl.String, "chunks": pl.Int64, "version": pl.Int64, "fingerprint": pl.String,
    "run_id": pl.String, "indexed_at": pl.String, "deleted_at": pl.String,
    **{column: pl.String for column in VERSION_COLUMNS},
}


def read_manifest(path: Path) -> pl.DataFrame:
    if not path.is_file():
        return pl.DataFrame(schema=MANIFEST)
    stored = pl.read_parquet(path)
    for column, dtype in MANIFEST.items():  # manifests written before a column existed
        if column not in stored.columns:
            stored = stored.with_columns(pl.lit(None, dtype=dtype).alias(column))
    return stored.select(list(MANIFEST))


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
    chunk_counts: Iterable[tuple[str, int]],
    previous: pl.DataFrame,
    fingerprints: Mapping[str, str],
    *,
    doc_versions: Mapping[str, int],
    indexed_by: Mapping[str, Mapping[str, str]],
    run_id: str,
    now: str,
    versions: Mapping[str, str],
) -> pl.DataFrame:
    """The manifest after a publish: current documents, plus tombstones for deleted ones.

    An indexed document records the run, time and settings that wrote its points
    in the published collection (`indexed_by`, read from the points themselves,
    so the manifest and lineage agree). A quarantined document keeps the run that
    first quarantined this version of it.
    """
    reasons = dict(zip(parsed["doc_id"].to_list(), parsed["quarantine_reason"].to_list(), strict=True))
    counts = dict(chunk_counts)
    before = {row["doc_id"]: row for row in previous.iter_rows(named=True)}
    rows = []
    for row in documents.iter_rows(named=True):
        doc_id = row["doc_id"]
        reason = reasons.get(doc_id)
        old = before.get(doc_id)
        if reason is None and doc_id in indexed_by:
            written = indexed_by[doc_id]
        elif reason is not None and old is not None and old["status"] == DocStatus.QUARANTINED \
                and old["sha256"] == row["sha256"]:
            written = {"run_id": old["run_id"], "indexed_at": old["indexed_at"],
                       **{column: old[column] for column in VERSION_COLUMNS}}
        else:
            written = {"run_id": run_id, "indexed_at": now, **versions}
        rows.append({
            "doc_id": doc_id, "source": row["source"], "sha256": row["sha256"], "size": row["size"],
            "status": (DocStatus.QUARANTINED if reason else DocStatus.INDEXED).value, "reason": reason,
            "chunks": counts.get(doc_id, 0), "version": doc_versions.get(doc_id, 1),
            "fingerprint": fingerprints.get(doc_id),
            "run_id": written.get("run_id"), "indexed_at": written.get("indexed_at"), "deleted_at": None,
            **{column: written.get(column) for column in VERSION_COLUMNS},
        })
    current_ids = set(documents["doc_id"].to_list())
    for doc_id, row in before.items():
        if doc_id in current_ids:
            continue
        if row["status"] != DocStatus.DELETED:
            row = {**row, "status": DocStatus.DELETED.value, "chunks": 0, "fingerprint": None,
                   "run_id": run_id, "deleted_at": now}
        rows.append(row)
    return pl.DataFrame(rows, schema=MANIFEST).sort("source") if rows else pl.DataFrame(schema=MANIFEST)


def write_manifest(manifest: pl.DataFrame, path: Path) -> None:
    write_parquet(manifest, path)
