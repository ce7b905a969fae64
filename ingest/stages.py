"""Each pipeline stage over a tenant's state files, incrementally.

A stage reads its upstream table, works out from fingerprints which documents
need work (see ingest.incremental), computes only those, and atomically
rewrites its own table. Heavy clients are passed as factories and built only
when there is work for them, so an unchanged re-run loads no model.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ingest import tables
from ingest.chunk import Chunker, chunk_documents
from ingest.embed import Embedder, embedding_model_key
from ingest.enrich import enrich_chunks
from ingest.incremental import apply_plan, fingerprint, fingerprints_of, plan_stage
from ingest.index import (
    IndexPoint,
    QdrantSettings,
    TenantIndex,
    build_points,
    open_qdrant,
)
from ingest.manifest import VERSION_COLUMNS, build_manifest, classify_changes, read_manifest, write_manifest
from ingest.models import DocStatus, ParsedDocument, SourceDocument
from ingest.limits import ParseLimits
from ingest.parse import ParseSettings, elements_by_document, parse_documents
from ingest.pii_policy import RECOGNIZER_SET_VERSION
from ingest.redact import Redactor, entity_counts_by_document, redact_elements
from ingest.sources import scan_source
from ingest.storage import TenantPaths, atomic_write_text, read_parquet, write_parquet

DEFAULT_MAX_DELETE_FRACTION = 0.5
FAULT_VARIABLE = "INGEST_TEST_FAULT"  # crash-safety tests inject failures inside the index stage


class MassDeleteRefused(RuntimeError):
    """A run would delete more of a tenant's documents than allowed."""


class InjectedFault(RuntimeError):
    """Raised where INGEST_TEST_FAULT asks, to prove that an interrupted run converges."""


@dataclass(frozen=True, slots=True)
class StageResult:
    """Counts and timings a stage reports (as Dagster metadata)."""

    metadata: dict = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def _elapsed(started: float) -> float:
    return round(time.perf_counter() - started, 3)


# --- source documents -----------------------------------------------------------

def read_forgotten(paths: TenantPaths) -> dict[str, str]:
    """doc id -> sha256 of documents erased with `ingest forget`."""
    if not paths.forgotten.is_file():
        return {}
    return json.loads(paths.forgotten.read_text(encoding="utf-8"))


def source_stage(tenant: str, root: Path, paths: TenantPaths, *, max_delete_fraction: float,
                 allow_mass_delete: bool) -> StageResult:
    started = time.perf_counter()
    manifest = read_manifest(paths.manifest)
    forgotten = read_forgotten(paths)
    previous = tables.read_or_empty(paths.source_documents, tables.SOURCE_DOCUMENTS)
    known_types = {sha: (kind, mime) for sha, kind, mime in
                   previous.select("sha256", "file_type", "mime_type").iter_rows()}
    skipped: list[str] = []
    scanned = scan_source(tenant, root, known_types, skipped)
    kept = [doc for doc in scanned if forgotten.get(doc.doc_id) != doc.sha256]
    documents = tables.frame(kept, tables.SOURCE_DOCUMENTS)
    changes, deleted = classify_changes(documents, manifest)
    live_before = manifest.filter(pl.col("status") != DocStatus.DELETED).height
    if deleted and not allow_mass_delete and len(deleted) > max_delete_fraction * live_before:
        raise MassDeleteRefused(
            f"refusing to delete {len(deleted)} of {live_before} documents of tenant {tenant} "
            f"(more than {max_delete_fraction:.0%}): is the source folder {root} mounted and complete? "
            f"Nothing was deleted. If the deletions are intended, run "
            f"`ingest run --tenant {tenant} --allow-mass-delete`."
        )
    documents = documents.with_columns(pl.Series("change", changes, dtype=pl.String))
    write_parquet(documents, paths.source_documents)
    counts = {change: changes.count(change) for change in ("new", "changed", "unchanged")}
    by_type = documents["file_type"].value_counts().sort("file_type")
    return StageResult(
        metadata={
            "seen": documents.height, **counts, "deleted": len(deleted),
            "excluded_forgotten": len(scanned) - len(kept),
            "bytes": int(documents["size"].sum() or 0),
            "file_types": {kind: n for kind, n in by_type.iter_rows()},
            "skipped": len(skipped),
            "skipped_paths": skipped[:100],
            "seconds": _elapsed(started),
        },
        log=[f"{tenant}: {documents.height} documents in {root} ({counts['new']} new, {counts['changed']} "
             f"changed, {counts['unchanged']} unchanged, {len(deleted)} deleted)"]
        + [f"skipped {entry}" for entry in skipped[:100]],
    )


# --- parsing and redaction --------------------------------------------------------

@contextmanager
def loading_beside(load: Callable[[], object] | None) -> Iterator[None]:
    """Call `load` in a background thread while the block runs; wait for it when the block ends.

    A failed load is only logged: the stage that needs what it loads loads it again and fails there,
    in its own step, with its own error."""
    if load is None:
        yield
        return

    def run() -> None:
        try:
            load()
        except Exception as error:  # reported by the stage that needs it
            logging.getLogger(__name__).debug(f"loading in the background failed: {error}")

    thread = threading.Thread(target=run, name="ingest-load-beside")
    thread.start()
    try:
        yield
    finally:
        thread.join()


def parse_and_redact_stage(
    paths: TenantPaths, settings: ParseSettings, policy_version: str, redactor: Callable[[], Redactor], *,
    recognizer_set: str = RECOGNIZER_SET_VERSION, limits: ParseLimits | None = None,
    on_progress: Callable[[int, int, str, ParsedDocument], None] | None = None,
    on_redact_progress: Callable[[int, int], None] | None = None,
    load_beside: Callable[[], object] | None = None,
) -> tuple[StageResult, StageResult]:
    """Parse new and changed documents and redact their text in memory; (parse result, redaction result).

    The unredacted text is never written: only parse metadata (pages, OCR, quarantine), the redacted
    elements and the redaction audit (counts by entity type, policy version, recogniser set) are.
    A document is redone when its file, the parser settings or limits, or the redaction policy
    changed, so a policy change parses again the documents it affects. With `limits`, each document
    is parsed in a worker process under them (`ingest.isolation`); a document that timed out is
    tried again on the next run, the one transient failure.

    `load_beside`, when given and there is a document to parse, is called in a background thread
    while this stage runs: a model that a later stage in this process needs (the embedding model),
    loaded while the worker processes' fork server loads the parsers and one core is idle.
    """
    started = time.perf_counter()
    sources = read_parquet(paths.source_documents)
    parser_version = settings.version + (f"/{limits.version}" if limits else "")
    expected = {row["doc_id"]: fingerprint("redact", fingerprint("parse", row["sha256"], parser_version),
                                           policy_version)
                for row in sources.iter_rows(named=True)}
    stored_documents = tables.read_or_empty(paths.parsed_documents, tables.PARSED_DOCUMENTS | tables.FINGERPRINT)
    stored_redacted = tables.read_or_empty(paths.redacted_elements, tables.REDACTED_ELEMENTS | tables.FINGERPRINT)
    stored_audit = tables.read_or_empty(paths.redaction_audit, tables.REDACTION_AUDIT)
    timed_out = set(stored_documents.filter(pl.col("quarantine_reason").str.starts_with("timeout"))["doc_id"])
    plan = plan_stage(expected, stored_documents.filter(~pl.col("doc_id").is_in(list(timed_out))))
    todo = {row["doc_id"]: row for row in sources.iter_rows(named=True) if row["doc_id"] in set(plan.compute)}
    documents = [SourceDocument(**{k: v for k, v in todo[doc_id].items() if k != "change"})
                 for doc_id in plan.compute]

    def progress(position: int, parsed: ParsedDocument) -> None:
        if on_progress is not None:
            on_progress(position, len(documents), todo[parsed.doc_id]["source"], parsed)

    with loading_beside(load_beside if documents else None):
        parsed, elements = parse_documents(documents, settings, on_progress=progress, limits=limits)
        parse_seconds = _elapsed(started)
        characters = int(elements["text"].str.len_chars().sum() or 0)
        redacted = (redact_elements(elements, redactor(), on_progress=on_redact_progress) if elements.height
                    else pl.DataFrame(schema=tables.REDACTED_ELEMENTS))
        del elements  # the only copy of the unredacted text
        audit = _redaction_audit(redacted, expected, policy_version, recognizer_set)
        parsed = apply_plan(stored_documents, plan, tables.with_fingerprints(parsed, expected))
        redacted = apply_plan(stored_redacted, plan, tables.with_fingerprints(redacted, expected))
        audit = apply_plan(stored_audit, plan, audit)
        write_parquet(parsed, paths.parsed_documents)
        write_parquet(redacted, paths.redacted_elements)
        write_parquet(audit, paths.redaction_audit)
        paths.elements.unlink(missing_ok=True)  # earlier versions kept the unredacted elements there
        redact_seconds = _elapsed(started) - parse_seconds  # not the wait for a background load
    quarantined = parsed.filter(pl.col("quarantine_reason").is_not_null()).join(
        sources.select("doc_id", "source"), on="doc_id")
    parsed_now = parsed.filter(pl.col("doc_id").is_in(list(plan.compute)))  # parsed by this run
    parse_result = StageResult(metadata={
        "parsed": len(plan.compute),
        "reused": len(plan.reuse),
        "unchanged": len(plan.keep),
        "quarantined": quarantined.height,
        "quarantine_reasons": {row["source"]: row["quarantine_reason"] for row in quarantined.iter_rows(named=True)},
        "quarantined_by_category": dict(sorted(Counter(
            reason.split(":", 1)[0] for reason in quarantined["quarantine_reason"].to_list()).items())),
        "elements": redacted.height,
        "pages": int(parsed["pages"].sum() or 0),
        "ocr_pages": int(parsed.filter(pl.col("doc_id").is_in(list(plan.compute)))["ocr_pages"].sum() or 0),
        # Summed per-document worker seconds (workers run side by side), and those of documents with
        # OCR'd pages (render + Tesseract): what `ingest bench` splits the parse time by.
        "parse_worker_seconds": round(float(parsed_now["parse_seconds"].sum() or 0), 3),
        "ocr_seconds": round(float(parsed_now.filter(pl.col("ocr_pages") > 0)["parse_seconds"].sum() or 0), 3),
        "parser_version": parser_version,
        "seconds": parse_seconds,
    })
    found = {row["doc_id"]: json.loads(row["entities"])
             for row in audit.filter(pl.col("doc_id").is_in(list(plan.compute))).iter_rows(named=True)}
    totals: dict[str, int] = {}
    for counts in found.values():
        for entity_type, count in counts.items():
            totals[entity_type] = totals.get(entity_type, 0) + count
    sources_by_id = dict(zip(sources["doc_id"].to_list(), sources["source"].to_list(), strict=True))
    redact_result = StageResult(metadata={
        "documents_redacted": len(found),
        "reused": len(plan.reuse) + len(plan.keep),
        "characters": characters,
        "characters_per_second": round(characters / redact_seconds, 1) if characters and redact_seconds else 0.0,
        "entities_redacted": sum(totals.values()),
        "entities_by_type": dict(sorted(totals.items())),
        "documents_with_pii": sum(1 for counts in found.values() if counts),
        # The audit of this run's documents: counts only, by source path (first 200 documents).
        "audit_by_document": {sources_by_id.get(doc_id, doc_id): counts
                              for doc_id, counts in sorted(found.items())[:200]},
        "policy_version": policy_version,
        "recognizer_set": recognizer_set,
        "seconds": redact_seconds,
    }, log=[f"redacted {len(found)} documents ({characters} characters) under policy {policy_version}"])
    return parse_result, redact_result


def _redaction_audit(redacted: pl.DataFrame, fingerprints: dict[str, str], policy_version: str,
                     recognizer_set: str) -> pl.DataFrame:
    """One audit row per document with elements: counts by entity type, never values."""
    counts = entity_counts_by_document(redacted)
    sizes = redacted.group_by("doc_id").agg(pl.len().alias("elements")).sort("doc_id")
    rows = [{"doc_id": doc_id, "fingerprint": fingerprints[doc_id], "policy_version": policy_version,
             "recognizer_set": recognizer_set, "entities": json.dumps(counts.get(doc_id, {}), sort_keys=True),
             "entities_total": sum(counts.get(doc_id, {}).values()), "elements": int(n)}
            for doc_id, n in sizes.iter_rows()]
    return tables.frame(rows, tables.REDACTION_AUDIT)


# --- chunking -------------------------------------------------------------------

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
        "seconds": _elapsed(started),
    }, log=[f"chunked {len(plan.compute)} documents; {chunks.height} chunks in all"])


# --- enrichment -------------------------------------------------------------------

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
        "seconds": _elapsed(started),
    }, log=[f"enriched the chunks of {len(todo)} documents; {enriched.height} chunks in all"])


# --- embeddings -------------------------------------------------------------------

# Texts per encoding call: a progress line each, about every 20 s on two cores.
EMBED_PROGRESS_TEXTS = 512


def embed_stage(paths: TenantPaths, model_name: str, embedder: Callable[[], Embedder], *,
                on_progress: Callable[[int, int], None] | None = None) -> StageResult:
    """Vectors for every chunk text not yet in the tenant's cache for this model.

    The cache is keyed by chunk text hash, so text that did not change is never
    embedded again, whatever happened to its document; entries no live chunk
    uses are dropped. `on_progress(embedded, total)` follows each EMBED_PROGRESS_TEXTS texts.
    """
    started = time.perf_counter()
    enriched = read_parquet(paths.enriched_chunks)
    cache_path = paths.embedding_cache(embedding_model_key(model_name))
    cache = pl.read_parquet(cache_path) if cache_path.is_file() else None
    wanted = enriched.select("text_sha256", "text").unique("text_sha256", keep="first").sort("text_sha256")
    cached = set(cache["text_sha256"].to_list()) if cache is not None else set()
    missing = wanted.filter(~pl.col("text_sha256").is_in(list(cached)))
    parts = [cache.filter(pl.col("text_sha256").is_in(wanted["text_sha256"].to_list()))] if cache is not None else []
    backend = None  # the model is loaded only when there is something to embed
    if missing.height:
        model = embedder()
        backend = model.backend
        texts = missing["text"].to_list()
        pieces = []
        for start in range(0, len(texts), EMBED_PROGRESS_TEXTS):
            pieces.append(model.encode(texts[start:start + EMBED_PROGRESS_TEXTS]))
            if on_progress is not None:
                on_progress(start + len(pieces[-1]), len(texts))
        vectors = np.concatenate(pieces)
        parts.append(pl.DataFrame({
            "text_sha256": missing["text_sha256"],
            "vector": pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, model.dimension)),
        }))
    if parts:
        write_parquet(pl.concat(parts), cache_path)
    seconds = _elapsed(started)
    return StageResult(metadata={
        "embedded": missing.height,
        "cached": wanted.height - missing.height,
        "model": model_name,
        "backend": backend,
        "chunks_per_second": round(missing.height / seconds, 1) if missing.height and seconds else 0.0,
        "seconds": seconds,
    }, log=[f"embedded {missing.height} new chunk texts with {model_name}; "
            f"{wanted.height - missing.height} came from the cache"])


# --- index --------------------------------------------------------------------------

def _fault(point: str, value: int = 0) -> None:
    wanted = os.environ.get(FAULT_VARIABLE, "")
    if wanted == point or (wanted.startswith(point + "=") and value >= int(wanted.split("=", 1)[1])):
        raise InjectedFault(f"{FAULT_VARIABLE}={wanted}: interrupted on purpose")


def index_stage(tenant: str, paths: TenantPaths, qdrant: QdrantSettings, *, model_name: str, run_id: str,
                now: str, versions: dict[str, str]) -> StageResult:
    """Bring the tenant's staging collection to exactly the current chunks.

    Queries keep reading the serving collection meanwhile; `publish_stage`
    switches them over once the checks pass. Points missing from the staging
    collection or written for another version of their document are upserted
    first; only then are points that no current chunk has deleted. An
    interrupted run leaves the serving collection and the manifest as they
    were, and the next run repeats what was not finished.
    """
    started = time.perf_counter()
    enriched = read_parquet(paths.enriched_chunks)
    sources = read_parquet(paths.source_documents)
    redacted = read_parquet(paths.redacted_elements)
    manifest = read_manifest(paths.manifest)
    model_key = embedding_model_key(model_name)
    cache_path = paths.embedding_cache(model_key)
    vectors: dict[str, list[float]] = {}
    dimension = 0
    if cache_path.is_file():
        cache = pl.read_parquet(cache_path)
        dimension = cache.schema["vector"].size
        vectors = dict(zip(cache["text_sha256"].to_list(), cache["vector"].to_list(), strict=True))
    current = fingerprints_of(enriched)
    doc_versions = _document_versions(sources, manifest)
    entity_counts = entity_counts_by_document(redacted)
    # A point is current when it was written for this version of its document and this model.
    per_document = {doc_id: {"doc_version": doc_versions[doc_id],
                             "doc_fingerprint": fingerprint("index", fingerprint_value, model_name),
                             "redaction_entities": entity_counts.get(doc_id, {})}
                    for doc_id, fingerprint_value in current.items()}
    points = build_points(enriched, vectors, per_document, {**versions, "run_id": run_id, "ingested_at": now})
    with open_qdrant(qdrant, tenant) as client:
        index = TenantIndex(client, tenant)
        wanted = {point.point_id: point.payload["doc_fingerprint"] for point in points}
        serving = index.serving_collection()
        live = index.document_fingerprints(serving) if serving else {}
        going_live = sum(1 for point_id, value in wanted.items() if live.get(point_id) != value)
        leaving = len(set(live) - set(wanted))
        if serving and serving.startswith(index.physical_collection(model_key, "a")[:-1]) and live == wanted:
            staging = serving  # the published index is already exactly right: nothing to stage
        else:
            staging = index.prepare_staging(model_key, dimension or (len(points[0].vector) if points else 384))
            _forget_rollback_target(paths, staging)  # about to overwrite the previous version
        existing = index.document_fingerprints(staging)
        # A document is written whole: after a crash halfway through one, all its points come from one run.
        outdated = {point.payload["doc_id"] for point in points
                    if existing.get(point.point_id) != point.payload["doc_fingerprint"]}
        to_write = [point for point in points if point.payload["doc_id"] in outdated]
        upserted = index.upsert(to_write, staging, after_batch=lambda n: _fault("after-upserts", n))
        _fault("before-delete")
        stale = set(existing) - {point.point_id for point in points}
        deleted = index.delete(sorted(stale), staging)
    atomic_write_text(paths.staging, json.dumps({
        "collection": staging, "model": model_name, "run_id": run_id, "points": len(points), "dimension": dimension,
        "unchanged": staging == serving,
    }, indent=2) + "\n")
    return StageResult(metadata={
        "collection": staging,
        "serving": serving or "",
        "store": qdrant.describe(),
        # Relative to the index that serves now: what publishing this staging collection changes.
        "upserted": going_live,
        "deleted_points": leaving,
        # What this run wrote to and removed from the staging collection itself.
        "written": upserted,
        "removed": deleted,
        "points": len(points),
        "documents": len(current),
        "seconds": _elapsed(started),
    }, log=[f"staged {staging}: {upserted} points written, {deleted} stale points removed, {len(points)} in "
            f"all ({going_live} new or changed and {leaving} gone compared with the published index); "
            f"{serving or 'nothing'} keeps serving until the checks pass"])


def read_staging(paths: TenantPaths) -> dict:
    if not paths.staging.is_file():
        raise FileNotFoundError(f"{paths.staging} does not exist: materialise qdrant_index first")
    return json.loads(paths.staging.read_text(encoding="utf-8"))


def read_published(paths: TenantPaths) -> dict:
    """What serves now: {"at", "run_id", "collection", "previous"}; previous is what rollback restores."""
    if not paths.published.is_file():
        return {}
    return json.loads(paths.published.read_text(encoding="utf-8"))


def _forget_rollback_target(paths: TenantPaths, collection: str) -> None:
    """The previously published collection is about to be overwritten: it can no longer be rolled back to."""
    published = read_published(paths)
    if published.get("previous") == collection:
        atomic_write_text(paths.published, json.dumps({**published, "previous": None}, indent=2) + "\n")
    paths.previous_manifest.unlink(missing_ok=True)


def _indexed_by(index: TenantIndex, collection: str) -> dict[str, dict]:
    """Per document, the run, time and settings that wrote its points in `collection`."""
    fields = ["doc_id", "run_id", "ingested_at", *VERSION_COLUMNS]
    found: dict[str, dict] = {}
    for hit in index.scroll(collection, with_payload=fields):
        found.setdefault(hit.payload["doc_id"], {"run_id": hit.payload.get("run_id"),
                                                  "indexed_at": hit.payload.get("ingested_at"),
                                                  **{c: hit.payload.get(c) for c in VERSION_COLUMNS}})
    return found


def publish_stage(tenant: str, paths: TenantPaths, qdrant: QdrantSettings, *, run_id: str, now: str,
                  versions: dict[str, str]) -> StageResult:
    """Move the tenant's alias to the checked staging collection, then record it in the manifest."""
    started = time.perf_counter()
    staging = read_staging(paths)
    target = staging["collection"]
    sources = read_parquet(paths.source_documents)
    parsed = read_parquet(paths.parsed_documents)
    enriched = read_parquet(paths.enriched_chunks)
    manifest = read_manifest(paths.manifest)
    with open_qdrant(qdrant, tenant) as client:
        index = TenantIndex(client, tenant)
        previous = index.serving_collection()
        indexed_by = _indexed_by(index, target)
        dropped = index.publish(target)
        total = index.count()
    new_manifest = build_manifest(
        sources, parsed, enriched.group_by("doc_id").len().iter_rows(), manifest, fingerprints_of(enriched),
        doc_versions=_document_versions(sources, manifest), indexed_by=indexed_by, run_id=run_id, now=now,
        versions=versions,
    )
    switched = previous != target
    if switched:  # the collection that served until now is what `ingest rollback` restores
        if paths.manifest.is_file():
            write_parquet(manifest, paths.previous_manifest)
        rollback_to = previous
    else:  # the same collection serves on: the rollback target stays what it was
        rollback_to = read_published(paths).get("previous")
    write_manifest(new_manifest, paths.manifest)
    atomic_write_text(paths.published, json.dumps(
        {"at": now, "run_id": run_id, "collection": target, "previous": rollback_to}, indent=2) + "\n")
    if paths.candidate_evaluation.is_file():
        os.replace(paths.candidate_evaluation, paths.published_evaluation)
    changes = dict(sources["change"].value_counts().iter_rows()) if sources.height else {}
    run_documents = {
        "new": changes.get("new", 0), "changed": changes.get("changed", 0),
        "unchanged": changes.get("unchanged", 0),
        "deleted": int(new_manifest.filter((pl.col("status") == DocStatus.DELETED)
                                           & (pl.col("deleted_at") == now)).height),
        "quarantined": int(parsed["quarantine_reason"].is_not_null().sum()),
    }
    return StageResult(metadata={
        "documents_this_run": run_documents,
        "serving": target,
        "previous": previous or "",
        "dropped_collections": dropped,
        "points": total,
        "documents_indexed": int((new_manifest["status"] == DocStatus.INDEXED).sum()),
        "seconds": _elapsed(started),
    }, log=[f"published {target} as {tenant}'s index ({total} points)"
            + (f"; {previous} kept for rollback" if switched and previous else "")])


def rollback(tenant: str, paths: TenantPaths, qdrant: QdrantSettings, *, now: str) -> dict:
    """Serve the previously published collection again, with its manifest."""
    published = read_published(paths)
    previous = published.get("previous")
    with open_qdrant(qdrant, tenant) as client:
        index = TenantIndex(client, tenant)
        current = index.serving_collection()
        if not previous or index.previous_collection() != previous or not paths.previous_manifest.is_file():
            raise FileNotFoundError(
                f"tenant {tenant} has no previous index to roll back to: a later run has already staged into "
                "it, or nothing was published before; fix the cause and re-run instead")
        index.publish(previous)
    rolled_back = read_manifest(paths.manifest)
    os.replace(paths.previous_manifest, paths.manifest)
    write_parquet(rolled_back, paths.previous_manifest)
    atomic_write_text(paths.published, json.dumps(
        {"at": now, "run_id": "rollback", "collection": previous, "previous": current}, indent=2) + "\n")
    return {"tenant": tenant, "serving": previous, "replaced": current}


def _document_versions(sources: pl.DataFrame, manifest: pl.DataFrame) -> dict[str, int]:
    """Each live document's version: 1 when first seen, +1 each time its content changes."""
    previous = {row["doc_id"]: (row["sha256"], row["version"]) for row in manifest.iter_rows(named=True)}
    versions = {}
    for doc_id, sha256 in sources.select("doc_id", "sha256").iter_rows():
        old_sha, old_version = previous.get(doc_id, (None, 0))
        versions[doc_id] = old_version if old_sha == sha256 and old_version else (old_version or 0) + 1
    return versions

