"""The index and publish stages: stage the tenant's collection, then move the alias."""

from __future__ import annotations

import json
import os
import sys
import time

import polars as pl

from ingest.core.files import atomic_write_text, read_parquet, write_parquet
from ingest.core.fingerprints import fingerprint, fingerprints_of
from ingest.core.manifest import VERSION_COLUMNS, build_manifest, read_manifest, write_manifest
from ingest.core.models import DocStatus
from ingest.core.stage import StageResult, elapsed
from ingest.core.storage import TenantPaths
from ingest.embedding.embed import embedding_model_key
from ingest.index.qdrant import QdrantSettings, TenantIndex, build_points, open_qdrant
from ingest.pii.redact import entity_counts_by_document

FAULT_VARIABLE = "INGEST_TEST_FAULT"  # crash-safety tests inject failures inside the index stage
HOLD_VARIABLE = "INGEST_TEST_HOLD"  # ... or hold the run there, for a test to kill it at that exact point


class InjectedFault(RuntimeError):
    """Raised where INGEST_TEST_FAULT asks, to prove that an interrupted run converges."""


def _fault(point: str, value: int = 0) -> None:
    for variable in (FAULT_VARIABLE, HOLD_VARIABLE):
        wanted = os.environ.get(variable, "")
        if wanted == point or (wanted.startswith(point + "=") and value >= int(wanted.split("=", 1)[1])):
            if variable == FAULT_VARIABLE:
                raise InjectedFault(f"{FAULT_VARIABLE}={wanted}: interrupted on purpose")
            print(f"{HOLD_VARIABLE}={wanted}: holding after {value} until killed", file=sys.stderr, flush=True)
            while True:
                time.sleep(60)


def index_stage(tenant: str, paths: TenantPaths, qdrant: QdrantSettings, *, model_name: str, run_id: str,
                now: str, versions: dict[str, str], model_key: str | None = None) -> StageResult:
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
    model_key = model_key or embedding_model_key(model_name)  # the vectors' model and precision
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
        if upserted or deleted:
            index.finish_writes(staging)  # saves the term table too
        else:
            index.repair_term_table(staging)  # left stale by an interrupted run, or from before term tables
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
        "seconds": elapsed(started),
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
        "seconds": elapsed(started),
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
