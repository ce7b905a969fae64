"""The one place document ids and point ids are made: deterministic, so re-runs overwrite."""

from __future__ import annotations

import hashlib
import uuid

from ingest.core.config import validate_tenant


def make_doc_id(tenant: str, source: str) -> str:
    """A document's stable identity: its tenant and path inside the source folder."""
    return hashlib.sha256(f"{tenant}\x00{source}".encode()).hexdigest()[:32]


POINT_ID_NAMESPACE = uuid.UUID("6f1c1f7e-3f0a-4a43-9a55-5b7c9d2e8a10")


def point_id(tenant: str, doc_id: str, chunk_index: int, text_sha256: str) -> str:
    return str(uuid.uuid5(POINT_ID_NAMESPACE, f"{validate_tenant(tenant)}/{doc_id}/{chunk_index}/{text_sha256}"))
