"""Metadata that makes chunks filterable and citable."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import PurePosixPath

import polars as pl

from ingest.core.ids import point_id
from ingest.core.models import Element
from ingest.parsing.language import UNKNOWN


def document_title(elements: list[Element], source: str) -> str:
    for element in elements:
        if element.category == "Title":
            return element.text
    return PurePosixPath(source.rsplit("#", 1)[-1]).stem  # an attachment's own name, not its message's


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def enrich_chunks(
    tenant: str,
    chunks: pl.DataFrame,
    documents: pl.DataFrame,
    parsed: pl.DataFrame,
    elements_by_doc: dict[str, list[Element]],
) -> pl.DataFrame:
    """Chunks joined with their document's metadata, plus point ids and text hashes."""
    doc_meta = []
    for row in documents.join(parsed, on="doc_id", how="inner").iter_rows(named=True):
        elements = elements_by_doc.get(row["doc_id"], [])
        doc_meta.append({
            "doc_id": row["doc_id"],
            "source": row["source"],
            "source_sha256": row["sha256"],
            "file_type": row["file_type"],
            "title": document_title(elements, row["source"]),
            "language": row["language"] or UNKNOWN,  # detected when the document was parsed
            "source_modified_at": datetime.fromtimestamp(row["modified_at"], UTC).isoformat(),
            "parser": row["parser"],
            "strategy": row["strategy"],
            "ocr_confidence": row["ocr_confidence"],
        })
    meta = pl.DataFrame(doc_meta, schema={
        "doc_id": pl.String, "source": pl.String, "source_sha256": pl.String, "file_type": pl.String,
        "title": pl.String, "language": pl.String, "source_modified_at": pl.String, "parser": pl.String,
        "strategy": pl.String, "ocr_confidence": pl.Float64,
    })
    enriched = chunks.drop("fingerprint", strict=False).join(meta, on="doc_id", how="inner")
    hashes = [text_sha256(text) for text in enriched["text"].to_list()]
    ids = [point_id(tenant, doc_id, index, digest) for doc_id, index, digest in
           zip(enriched["doc_id"].to_list(), enriched["chunk_index"].to_list(), hashes, strict=True)]
    return enriched.with_columns(
        pl.lit(tenant).alias("tenant"),
        pl.Series("text_sha256", hashes, dtype=pl.String),
        pl.Series("point_id", ids, dtype=pl.String),
        pl.col("section_path").list.last().fill_null("").alias("section"),
    ).sort(["source", "chunk_index"])
