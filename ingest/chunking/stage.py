"""The chunk and enrich stages over a tenant's files, incrementally."""

from __future__ import annotations

import time
from collections.abc import Callable

import polars as pl

from ingest.chunking.chunk import Chunker, chunk_documents
from ingest.chunking.enrich import enrich_chunks
from ingest.core import tables
from ingest.core.files import read_parquet, write_parquet
from ingest.core.fingerprints import apply_plan, fingerprint, fingerprints_of, plan_stage
from ingest.core.stage import StageResult, elapsed
from ingest.core.storage import TenantPaths
from ingest.parsing.parse import elements_by_document


def chunk_stage(paths: TenantPaths, chunker_version: str, chunker: Callable[[], Chunker]) -> StageResult:
    started = time.perf_counter()
    redacted = read_parquet(paths.redacted_elements)
    expected = {doc_id: fingerprint("chunk", upstream, chunker_version)
                for doc_id, upstream in fingerprints_of(redacted).items()}
    stored = tables.read_or_empty(paths.chunks, tables.CHUNKS | tables.FINGERPRINT)
    plan = plan_stage(expected, stored)
    todo = redacted.filter(pl.col("doc_id").is_in(list(plan.compute))).drop("fingerprint", "entities")
    made = chunk_documents(elements_by_document(todo), chunker()) if todo.height else []
    chunks = apply_plan(stored, plan, tables.with_fingerprints(tables.frame(made, tables.CHUNKS), expected))
    write_parquet(chunks, paths.chunks)
    tokens = chunks["token_count"]
    return StageResult(metadata={
        "chunks": chunks.height,
        "documents_chunked": len(plan.compute),
        "tokens_mean": round(float(tokens.mean() or 0), 1),
        "tokens_max": int(tokens.max() or 0),
        "chunker_version": chunker_version,
        "seconds": elapsed(started),
    }, log=[f"chunked {len(plan.compute)} documents; {chunks.height} chunks in all"])


def enrich_stage(tenant: str, paths: TenantPaths) -> StageResult:
    started = time.perf_counter()
    chunks = read_parquet(paths.chunks)
    sources = read_parquet(paths.source_documents)
    parsed = read_parquet(paths.parsed_documents)
    redacted = read_parquet(paths.redacted_elements)
    described = {row["doc_id"]: f"{row['source']}|{row['sha256']}|{row['modified_at']}|{row['file_type']}"
                 for row in sources.iter_rows(named=True)}
    expected = {doc_id: fingerprint("enrich", upstream, described[doc_id])
                for doc_id, upstream in fingerprints_of(chunks).items()}
    stored = tables.read_or_empty(paths.enriched_chunks, tables.ENRICHED_CHUNKS)
    plan = plan_stage(expected, stored)
    todo = list(plan.compute) + list(plan.reuse)  # enrichment embeds the doc id: reuse means recompute
    computed = enrich_chunks(
        tenant,
        chunks.filter(pl.col("doc_id").is_in(todo)),
        sources.filter(pl.col("doc_id").is_in(todo)),
        parsed,
        elements_by_document(redacted.filter(pl.col("doc_id").is_in(todo)).drop("fingerprint", "entities")),
    )
    computed = tables.with_fingerprints(computed, expected).select(list(tables.ENRICHED_CHUNKS))
    kept = stored.filter(pl.col("doc_id").is_in(list(plan.keep)))
    enriched = pl.concat([kept, computed], how="vertical_relaxed").sort(["source", "chunk_index"])
    write_parquet(enriched, paths.enriched_chunks)
    languages = enriched.group_by("doc_id").agg(pl.col("language").first())["language"].value_counts()
    return StageResult(metadata={
        "chunks": enriched.height,
        "documents_enriched": len(todo),
        "ocr_chunks": int(enriched["ocr"].sum() or 0),
        "languages": dict(languages.iter_rows()),
        "seconds": elapsed(started),
    }, log=[f"enriched the chunks of {len(todo)} documents; {enriched.height} chunks in all"])
