"""Erasure: remove one document from everything the pipeline keeps, with an audit entry."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from ingest.core.errors import ConfigError
from ingest.core.files import atomic_write_text, write_parquet
from ingest.core.forgotten import read_forgotten
from ingest.core.manifest import read_manifest, write_manifest
from ingest.core.models import DocStatus
from ingest.core.storage import TenantPaths
from ingest.index.qdrant import QdrantSettings, TenantIndex, compact_local_store, open_qdrant


def find_document(paths: TenantPaths, *, doc_id: str | None = None, source: str | None = None) -> dict:
    """The manifest row of a document, by doc id or by its path in the source folder."""
    manifest = read_manifest(paths.manifest)
    rows = manifest.filter(pl.col("doc_id") == doc_id) if doc_id else manifest.filter(pl.col("source") == source)
    if not rows.height:
        what = f"doc id {doc_id}" if doc_id else f"source {source!r}"
        raise ConfigError(f"no document with {what} in {paths.root.name}'s manifest: see `ingest status`")
    return rows.row(0, named=True)


def earlier_paths(paths: TenantPaths, document: dict) -> set[str]:
    """Doc ids the same content had at earlier paths, still in the index that rollback would serve.

    A moved file gets a new doc id (its path is part of it); the previously published collection and its
    manifest keep the old one until the next publish. They are erased with the document, or a rollback
    would serve the forgotten content again. A file with the same content at another live path is a
    document of its own and is kept."""
    if not paths.previous_manifest.is_file():
        return set()
    live = set(read_manifest(paths.manifest).filter(pl.col("status") != DocStatus.DELETED)["doc_id"].to_list())
    previous = read_manifest(paths.previous_manifest).filter(pl.col("sha256") == document["sha256"])
    return set(previous["doc_id"].to_list()) - live - {document["doc_id"]}


def _remove_rows(path: Path, doc_id: str) -> int:
    if not path.is_file():
        return 0
    table = pl.read_parquet(path)
    kept = table.filter(pl.col("doc_id") != doc_id)
    if kept.height != table.height:
        write_parquet(kept, path)
    return table.height - kept.height


def forget_document(tenant: str, paths: TenantPaths, qdrant: QdrantSettings, *, doc_id: str | None = None,
                    source: str | None = None, requested_by: str | None = None) -> dict:
    """Delete a document's points, rows, cached vectors and manifest entry; return what was removed.

    Points and rollback manifest rows the same content has under earlier paths (a moved file) go too,
    and so do an e-mail's attachments (each forgotten as a document of its own, in `attachments`).
    The document stays excluded from later runs while its file is unchanged, so
    a file still in the source folder does not come back by itself.
    """
    document = find_document(paths, doc_id=doc_id, source=source)
    doc_id = document["doc_id"]
    attached = _attachments_of(paths, doc_id)
    erased = {doc_id, *earlier_paths(paths, document)}
    removed: dict[str, int] = {}
    with open_qdrant(qdrant, tenant) as client:
        index = TenantIndex(client, tenant)
        removed["points"] = sum(index.delete_document(erased_id) for erased_id in sorted(erased))
    if qdrant.is_local:
        compact_local_store(qdrant.local_path(tenant))

    enriched = pl.read_parquet(paths.enriched_chunks) if paths.enriched_chunks.is_file() else None
    own_texts = set()
    if enriched is not None:
        own_texts = set(enriched.filter(pl.col("doc_id") == doc_id)["text_sha256"].to_list())
        own_texts -= set(enriched.filter(pl.col("doc_id") != doc_id)["text_sha256"].to_list())  # shared text stays
    for name in ("source_documents", "parsed_documents", "redacted_elements", "redaction_audit", "chunks",
                 "enriched_chunks"):
        removed[name] = _remove_rows(getattr(paths, name), doc_id)
    removed["cached_vectors"] = 0
    for cache in sorted(paths.root.glob("embedding_cache/*.parquet")):
        table = pl.read_parquet(cache)
        kept = table.filter(~pl.col("text_sha256").is_in(list(own_texts)))
        if kept.height != table.height:
            write_parquet(kept, cache)
            removed["cached_vectors"] += table.height - kept.height

    for name, manifest_path in (("manifest_rows", paths.manifest),
                                ("previous_manifest_rows", paths.previous_manifest)):  # rollback's too
        removed[name] = 0
        if manifest_path.is_file():
            manifest = read_manifest(manifest_path)
            kept = manifest.filter(~pl.col("doc_id").is_in(sorted(erased)))
            write_manifest(kept, manifest_path)
            removed[name] = manifest.height - kept.height
    forgotten = read_forgotten(paths) | {erased_id: document["sha256"] for erased_id in erased}
    atomic_write_text(paths.forgotten, json.dumps(forgotten, indent=2, sort_keys=True) + "\n")

    entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "action": "forget", "tenant": tenant,
             "doc_id": doc_id, "requested_by": requested_by or getpass.getuser(), "removed": removed}
    paths.audit_log.parent.mkdir(parents=True, exist_ok=True)
    with paths.audit_log.open("a", encoding="utf-8") as audit:
        audit.write(json.dumps(entry, sort_keys=True) + "\n")
    known = set(read_manifest(paths.manifest)["doc_id"].to_list())
    attachments = [forget_document(tenant, paths, qdrant, doc_id=attachment, requested_by=requested_by)
                   for attachment in attached if attachment in known]
    return {**entry, "attachments": attachments} if attachments else entry


def _attachments_of(paths: TenantPaths, doc_id: str) -> list[str]:
    """The doc ids of a message's attachments (nested ones included), from the source stage's table."""
    if not paths.source_documents.is_file():
        return []
    sources = pl.read_parquet(paths.source_documents)
    if "parent_id" not in sources.columns:
        return []
    return sorted(sources.filter(pl.col("parent_id") == doc_id)["doc_id"].to_list())
