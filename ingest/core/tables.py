"""Column schemas of the per-stage parquet files, and conversions from records.

Explicit schemas keep empty stages writable and readers honest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict

import polars as pl

SOURCE_DOCUMENTS = {
    "doc_id": pl.String, "source": pl.String, "path": pl.String, "sha256": pl.String,
    "size": pl.Int64, "modified_at": pl.Float64, "file_type": pl.String, "mime_type": pl.String,
    "parent_id": pl.String, "member": pl.String, "change": pl.String,
}
PARSED_DOCUMENTS = {
    "doc_id": pl.String, "parser": pl.String, "pages": pl.Int64, "ocr_pages": pl.Int64,
    "elements": pl.Int64, "ocr_confidence": pl.Float64, "quarantine_reason": pl.String,
    "strategy": pl.String, "parse_seconds": pl.Float64, "layout_pages": pl.Int64, "fallback_pages": pl.Int64,
    # Non-space characters extracted (text layer or partition; OCR) and pypdf's own count on a PDF's
    # text pages: what the parse-coverage check compares.
    "text_chars": pl.Int64, "ocr_chars": pl.Int64, "text_layer_chars": pl.Int64,
    "language": pl.String,  # ISO 639-1, or 'unknown' (ingest.parsing.language); null when quarantined
}
ELEMENTS = {
    "doc_id": pl.String, "index": pl.Int64, "category": pl.String, "text": pl.String,
    "page": pl.Int64, "depth": pl.Int64, "ocr": pl.Boolean, "ocr_confidence": pl.Float64,
    "extraction": pl.String,
}
# Redacted elements: the element columns plus what was found in each (JSON counts by type).
REDACTED_ELEMENTS = {**ELEMENTS, "entities": pl.String}
REDACTION_AUDIT = {
    "doc_id": pl.String, "fingerprint": pl.String, "policy_version": pl.String, "recognizer_set": pl.String,
    "entities": pl.String, "entities_total": pl.Int64, "elements": pl.Int64,
}
CHUNKS = {
    "doc_id": pl.String, "chunk_index": pl.Int64, "text": pl.String, "start": pl.Int64,
    "end": pl.Int64, "token_count": pl.Int64, "section_path": pl.List(pl.String),
    "pages": pl.List(pl.Int64), "element_types": pl.List(pl.String), "ocr": pl.Boolean,
    "extraction": pl.List(pl.String),
}


FINGERPRINT = {"fingerprint": pl.String}
ENRICHED_CHUNKS = {
    **CHUNKS, "source": pl.String, "source_sha256": pl.String, "file_type": pl.String, "title": pl.String,
    "language": pl.String, "source_modified_at": pl.String, "parser": pl.String, "strategy": pl.String,
    "ocr_confidence": pl.Float64, "tenant": pl.String, "text_sha256": pl.String, "point_id": pl.String,
    "section": pl.String, **FINGERPRINT,
}


def with_fingerprints(frame: pl.DataFrame, fingerprints: Mapping[str, str]) -> pl.DataFrame:
    """The frame with each row's document fingerprint as the `fingerprint` column."""
    values = [fingerprints[doc_id] for doc_id in frame["doc_id"].to_list()]
    return frame.with_columns(pl.Series("fingerprint", values, dtype=pl.String))


def read_or_empty(path, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """A stage's stored table, or an empty one on the first run (or after a schema change)."""
    from pathlib import Path

    if not Path(path).is_file():
        return pl.DataFrame(schema=dict(schema))
    stored = pl.read_parquet(path)
    if set(schema) - set(stored.columns):
        return pl.DataFrame(schema=dict(schema))  # written by an older version: recompute everything
    return stored.select(list(schema))


def frame(records: Iterable, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """A frame of dataclass records (or dicts) with exactly the schema's columns."""
    rows = [record if isinstance(record, dict) else asdict(record) for record in records]
    rows = [{name: row.get(name) for name in schema} for row in rows]
    return pl.DataFrame(rows, schema=dict(schema)) if rows else pl.DataFrame(schema=dict(schema))
