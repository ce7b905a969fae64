"""Lineage: from a point in the index back to its chunk, document version, file and run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

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
    chains = []
    for hit in hits:
        payload = hit.payload
        document = find_document(paths, doc_id=payload["doc_id"])
        path = source_root / payload["source"]
        exists = path.is_file()
        chains.append({
            "point": {"id": hit.point_id, "collection": collection,
                      **{name: payload.get(name) for name in POINT_FIELDS}},
            "document": document,
            "redaction": audit.get(payload["doc_id"]),
            "source": {"path": payload["source"], "absolute_path": str(path), "exists": exists,
                       "sha256": payload["source_sha256"],
                       "unchanged": exists and file_sha256(path) == payload["source_sha256"]},
            "run": describe_run(payload["run_id"]),
        })
    return chains


def _audit_rows(paths: TenantPaths) -> dict[str, dict]:
    """doc id -> the redaction audit of its current version: counts by type, policy, recognisers."""
    if not paths.redaction_audit.is_file():
        return {}
    rows = read_parquet(paths.redaction_audit).iter_rows(named=True)
    return {row["doc_id"]: {**row, "entities": json.loads(row["entities"])} for row in rows}
