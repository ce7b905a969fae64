"""The per-tenant vector index in Qdrant: naming, point ids, writes and reads.

One function names a tenant's collection and one makes point ids, so retries and
re-runs overwrite points instead of duplicating them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ingest.config import validate_tenant
from ingest.models import SearchHit

POINT_ID_NAMESPACE = uuid.UUID("6f1c1f7e-3f0a-4a43-9a55-5b7c9d2e8a10")
UPSERT_BATCH = 256


class IndexUnavailable(RuntimeError):
    """Qdrant cannot be opened; the message says why and what to do."""


def collection_name(tenant: str) -> str:
    """The only place a tenant becomes a collection name."""
    return f"tenant_{validate_tenant(tenant)}"


def point_id(tenant: str, doc_id: str, chunk_index: int, text_sha256: str) -> str:
    return str(uuid.uuid5(POINT_ID_NAMESPACE, f"{validate_tenant(tenant)}/{doc_id}/{chunk_index}/{text_sha256}"))


@dataclass(frozen=True, slots=True)
class QdrantSettings:
    """Where the index lives: a server (url, api key) or the embedded store (path)."""

    path: Path
    url: str | None = None
    api_key: str | None = None

    @property
    def is_local(self) -> bool:
        return not self.url

    def describe(self) -> str:
        return f"Qdrant server {self.url}" if self.url else f"embedded Qdrant at {self.path}"


def _check_server(client, settings: QdrantSettings) -> None:
    """Fail early, and say what to check, when the server cannot be reached."""
    try:
        client.get_collections()
    except Exception as error:  # connection refused, DNS, TLS, 401/403: all mean the same to the user
        client.close()
        raise IndexUnavailable(
            f"cannot reach the Qdrant server at {settings.url} ({type(error).__name__}); check QDRANT_URL "
            "and QDRANT_API_KEY, or unset QDRANT_URL to use the embedded store"
        ) from None  # the cause can carry request details: keep secrets out of logs


@contextmanager
def open_qdrant(settings: QdrantSettings) -> Iterator:
    """A client for the duration of the block; the embedded store is locked meanwhile."""
    from qdrant_client import QdrantClient

    try:
        if settings.is_local:
            settings.path.mkdir(parents=True, exist_ok=True)
            client = QdrantClient(path=str(settings.path))
        else:
            # Reachability is checked below, with an error that says what to fix.
            client = QdrantClient(url=settings.url, api_key=settings.api_key, check_compatibility=False)
            _check_server(client, settings)
    except RuntimeError as error:
        if "already accessed by another instance" in str(error):
            raise IndexUnavailable(
                f"the embedded Qdrant store at {settings.path} is in use by another process "
                "(a running `ingest run` or the Dagster UI executing a run); wait for it to finish, "
                "or point QDRANT_URL at a Qdrant server for concurrent access"
            ) from error
        raise
    try:
        yield client
    finally:
        client.close()


@dataclass(frozen=True, slots=True)
class IndexPoint:
    point_id: str
    vector: Sequence[float]
    payload: dict


class TenantIndex:
    """One tenant's collection. Every read and write names the tenant."""

    def __init__(self, client, tenant: str) -> None:
        self._client = client
        self.tenant = validate_tenant(tenant)
        self.collection = collection_name(tenant)

    def exists(self) -> bool:
        return self._client.collection_exists(self.collection)

    def ensure_collection(self, dimension: int) -> bool:
        """Create the collection (cosine distance) if needed; True when created."""
        from qdrant_client import models

        if self.exists():
            info = self._client.get_collection(self.collection)
            size = info.config.params.vectors.size
            if size != dimension:
                raise IndexUnavailable(
                    f"collection {self.collection} holds {size}-dimensional vectors but the embedding "
                    f"model makes {dimension}: the model changed; rebuild the tenant's index"
                )
            return False
        self._client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
        )
        return True

    def upsert(self, points: Iterable[IndexPoint]) -> int:
        from qdrant_client import models

        batch: list = []
        written = 0
        for point in points:
            batch.append(models.PointStruct(id=point.point_id, vector=list(map(float, point.vector)),
                                            payload=point.payload))
            if len(batch) >= UPSERT_BATCH:
                self._client.upsert(self.collection, points=batch, wait=True)
                written += len(batch)
                batch = []
        if batch:
            self._client.upsert(self.collection, points=batch, wait=True)
            written += len(batch)
        return written

    def point_ids(self) -> set[str]:
        ids: set[str] = set()
        offset = None
        while True:
            records, offset = self._client.scroll(self.collection, limit=1024, offset=offset,
                                                  with_payload=False, with_vectors=False)
            ids.update(str(record.id) for record in records)
            if offset is None:
                return ids

    def delete(self, ids: Iterable[str]) -> int:
        from qdrant_client import models

        ids = list(ids)
        for first in range(0, len(ids), UPSERT_BATCH):
            self._client.delete(self.collection, wait=True,
                                points_selector=models.PointIdsList(points=ids[first:first + UPSERT_BATCH]))
        return len(ids)

    def count(self) -> int:
        if not self.exists():
            return 0
        return self._client.count(self.collection, exact=True).count

    def search(self, vector: Sequence[float], top_k: int) -> list[SearchHit]:
        if not self.exists():
            return []
        response = self._client.query_points(self.collection, query=list(map(float, vector)),
                                             limit=top_k, with_payload=True)
        return [SearchHit(point_id=str(point.id), score=float(point.score),
                          text=(point.payload or {}).get("text", ""), payload=dict(point.payload or {}))
                for point in response.points]

    def scroll(self) -> Iterator[SearchHit]:
        """Every point with its payload, in id order."""
        if not self.exists():
            return
        offset = None
        while True:
            records, offset = self._client.scroll(self.collection, limit=512, offset=offset,
                                                  with_payload=True, with_vectors=False)
            for record in records:
                payload = dict(record.payload or {})
                yield SearchHit(point_id=str(record.id), score=0.0, text=payload.get("text", ""),
                                payload=payload)
            if offset is None:
                return


PAYLOAD_COLUMNS = (
    "tenant", "doc_id", "source", "source_sha256", "chunk_index", "text", "text_sha256", "start", "end",
    "token_count", "pages", "section_path", "section", "title", "element_types", "file_type", "language",
    "source_modified_at", "parser", "ocr", "ocr_confidence",
)


def build_points(enriched: pl.DataFrame, vectors: dict[str, Sequence[float]], extra: dict) -> list[IndexPoint]:
    """Points for enriched chunks: the vector by point id, the chunk's metadata as payload."""
    points = []
    for row in enriched.iter_rows(named=True):
        payload = {name: row[name] for name in PAYLOAD_COLUMNS}
        payload["page"] = row["pages"][0] if row["pages"] else None
        payload.update(extra)
        points.append(IndexPoint(row["point_id"], vectors[row["point_id"]], payload))
    return points


def sync_tenant_index(index: TenantIndex, dimension: int, points: Sequence[IndexPoint]) -> tuple[int, int]:
    """Write the points, then delete every other point of the tenant: (upserted, deleted).

    Upserting first means a changed document is never missing from the index;
    deleting afterwards removes old versions and documents gone from the source.
    """
    index.ensure_collection(dimension)
    upserted = index.upsert(points)
    stale = index.point_ids() - {point.point_id for point in points}
    deleted = index.delete(sorted(stale))
    return upserted, deleted
