"""Lineage: from a point in the index back to its chunk, document version, file and run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl

from ingest.core.errors import ConfigError
from ingest.core.files import file_sha256, read_parquet
from ingest.core.storage import TenantPaths
from ingest.index.erase import find_document
from ingest.index.qdrant import QdrantSettings, TenantIndex, open_qdrant

POINT_FIELDS = ("chunk_index", "start", "end", "pages", "section_path", "text_sha256", "parser", "strategy",
                "ocr", "ocr_confidence", "doc_version", "redaction_entities", "redaction_policy", "ingested_at")


def trace(tenant: str, source_root: Path, paths: TenantPaths, qdrant: QdrantSettings, *,
          point_id: str | None = None, source: str | None = None,
          describe_run: Callable[[str], dict]) -> list[dict]:
    """One chain per point: point and chunk, document version, source file, run."""
    with open_qdrant(qdrant, tenant) as client:
        index = TenantIndex(client, tenant)
        if point_id is not None:
            hit = index.retrieve(point_id)
            if hit is None:
                raise ConfigError(f"no point {point_id} in tenant {tenant}'s index")
            hits = [hit]
        else:
            document = find_document(paths, source=source)
            hits = sorted(index.scroll(doc_id=document["doc_id"]), key=lambda h: h.payload["chunk_index"])
        collection = index.serving_collection() or index.collection
    audit = _audit_rows(paths)
    attachments = _attachments(paths)
    chains = []
    for hit in hits:
        payload = hit.payload
        document = find_document(paths, doc_id=payload["doc_id"])
        attachment = attachments.get(payload["doc_id"])
        chains.append({
            "point": {"id": hit.point_id, "collection": collection,
                      **{name: payload.get(name) for name in POINT_FIELDS}},
            "document": document,
            "redaction": audit.get(payload["doc_id"]),
            "source": (_source_file(source_root / payload["source"], payload) if attachment is None
                       else _source_attachment(source_root, payload, attachment)),
            "run": describe_run(payload["run_id"]),
        })
    return chains


def _source_file(path: Path, payload: dict) -> dict:
    exists = path.is_file()
    return {"path": payload["source"], "absolute_path": str(path), "exists": exists,
            "sha256": payload["source_sha256"], "unchanged": exists and file_sha256(path) == payload["source_sha256"]}


def _source_attachment(source_root: Path, payload: dict, attachment: dict) -> dict:
    """An e-mail attachment's source: the message file it is in, and whether it still holds it unchanged."""
    from ingest.parsing.attachments import message_attachments, message_kind
    from ingest.parsing.limits import Quarantine

    path = source_root / attachment["message"]
    exists = path.is_file()
    unchanged = False
    if exists:
        data = path.read_bytes()
        try:
            held = {item.member: item.data for item in message_attachments(data, message_kind(data))}
        except Quarantine:
            held = {}
        unchanged = attachment["member"] in held and \
            hashlib.sha256(held[attachment["member"]]).hexdigest() == payload["source_sha256"]
    return {"path": payload["source"], "message": attachment["message"], "absolute_path": str(path),
            "exists": exists, "sha256": payload["source_sha256"], "unchanged": unchanged}


def _attachments(paths: TenantPaths) -> dict[str, dict]:
    """doc id -> {message (its source), member} of each e-mail attachment the source stage listed."""
    if not paths.source_documents.is_file():
        return {}
    sources = read_parquet(paths.source_documents)
    if "parent_id" not in sources.columns:
        return {}
    by_id = dict(zip(sources["doc_id"].to_list(), sources["source"].to_list(), strict=True))
    return {row["doc_id"]: {"message": by_id.get(row["parent_id"], ""), "member": row["member"]}
            for row in sources.filter(pl.col("parent_id").fill_null("") != "").iter_rows(named=True)}


def _audit_rows(paths: TenantPaths) -> dict[str, dict]:
    """doc id -> the redaction audit of its current version: counts by type, policy, recognisers."""
    if not paths.redaction_audit.is_file():
        return {}
    rows = read_parquet(paths.redaction_audit).iter_rows(named=True)
    return {row["doc_id"]: {**row, "entities": json.loads(row["entities"])} for row in rows}
