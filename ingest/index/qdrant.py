"""The per-tenant vector index in Qdrant: naming, point ids, writes and reads.

One function names a tenant's collection and one makes point ids, so retries and
re-runs overwrite points instead of duplicating them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ingest.core.config import validate_tenant
from ingest.core.models import SearchHit

COLORS = ("a", "b")  # two physical collections per model: one serves while the other is staged
UPSERT_BATCH = 256


class IndexUnavailable(RuntimeError):
    """Qdrant cannot be opened; the message says why and what to do."""


def collection_name(tenant: str) -> str:
    """The only place a tenant becomes a collection name."""
    return f"tenant_{validate_tenant(tenant)}"


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
        return f"Qdrant server {self.url}" if self.url else f"embedded Qdrant under {self.path}"

    def local_path(self, tenant: str) -> Path:
        """Each tenant's embedded store is a folder of its own: runs of different tenants never wait
        for each other's lock, and one tenant's process never opens another's vectors."""
        return self.path / validate_tenant(tenant)


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
def open_qdrant(settings: QdrantSettings, tenant: str) -> Iterator:
    """A client for the tenant's index for the duration of the block; an embedded store is locked
    meanwhile (the tenant's own: see `QdrantSettings.local_path`)."""
    from qdrant_client import QdrantClient

    path = settings.local_path(tenant)
    try:
        if settings.is_local:
            path.mkdir(parents=True, exist_ok=True)
            client = QdrantClient(path=str(path))
        else:
            # Reachability is checked below, with an error that says what to fix.
            client = QdrantClient(url=settings.url, api_key=settings.api_key, check_compatibility=False)
            _check_server(client, settings)
    except RuntimeError as error:
        if "already accessed by another instance" in str(error):
            raise IndexUnavailable(
                f"the embedded Qdrant store at {path} is in use by another process "
                "(a running `ingest run` or the Dagster UI executing a run); wait for it to finish, "
                "or point QDRANT_URL at a Qdrant server for concurrent access"
            ) from error
        raise
    if settings.is_local:
        for connection in _local_connections(client).values():
            _append_only_commits(connection)
    try:
        yield client
    finally:
        client.close()


def _local_connections(client) -> dict[str, sqlite3.Connection]:
    """collection -> the SQLite connection of an embedded store's collection; {} for a server.

    Reaches into qdrant-client's local mode, which offers no setting for this; if its internals
    change, this finds nothing and writes are only slower.
    """
    collections = getattr(getattr(client, "_client", None), "collections", None)
    if not isinstance(collections, dict):
        return {}
    found = {}
    for name, collection in collections.items():
        connection = getattr(getattr(collection, "storage", None), "storage", None)
        if isinstance(connection, sqlite3.Connection):
            found[name] = connection
    return found


def _append_only_commits(connection: sqlite3.Connection) -> None:
    """Write-ahead log with synchronous=NORMAL: a commit appends without waiting for the disk.

    qdrant-client's local mode commits every point in its own transaction; with SQLite's default
    rollback journal each commit waits for an fsync (about 20 ms here: 50 points a second). In WAL
    mode the file stays consistent after a crash or power loss; `_make_durable` syncs once at the
    end of each batch of writes, so what a stage reports written is on disk.
    """
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")


def _make_durable(client) -> None:
    """Checkpoint an embedded store's write-ahead logs into their files (synced): one wait per batch."""
    for connection in _local_connections(client).values():
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@dataclass(frozen=True, slots=True)
class IndexPoint:
    point_id: str
    vector: Sequence[float]
    payload: dict


class TenantIndex:
    """One tenant's index. Every read and write names the tenant.

    Queries read the alias `tenant_<name>`; the vectors live in a physical
    collection per embedding model, `tenant_<name>__<model key>`. A new model is
    built into a new physical collection and published by moving the alias in
    one step, so queries never see a half-built index.
    """

    def __init__(self, client, tenant: str) -> None:
        self._client = client
        self.tenant = validate_tenant(tenant)
        self.collection = collection_name(tenant)  # the alias queries use

    def physical_collection(self, model_key: str, color: str) -> str:
        name = f"{self.collection}__{model_key}__{color}"
        if not self._is_physical(name):
            raise ValueError(f"invalid model key {model_key!r} (want '<name>-<8 hex digits>') or color {color!r}")
        return name

    def exists(self) -> bool:
        return self._client.collection_exists(self.collection)

    def serving_collection(self) -> str | None:
        """The physical collection queries read now, if any."""
        for alias in self._client.get_aliases().aliases:
            if alias.alias_name == self.collection:
                return alias.collection_name
        return None

    def serving_model(self) -> str | None:
        """The embedding model the serving collection was built with (from its points)."""
        for hit in self.scroll():
            return hit.payload.get("embedding_model")
        return None

    def _is_physical(self, name: str) -> bool:
        # Matched by the whole shape: a prefix alone would also match another tenant's collections.
        shape = re.escape(self.collection) + r"__[a-z0-9-]+-[0-9a-f]{8}__[" + "".join(COLORS) + "]"
        return re.fullmatch(shape, name) is not None

    def _physical_collections(self) -> list[str]:
        return [c.name for c in self._client.get_collections().collections if self._is_physical(c.name)]

    def _own(self, collection: str | None) -> str:
        """The tenant's alias, or one of its physical collections: never another tenant's."""
        collection = collection or self.collection
        if collection != self.collection and not self._is_physical(collection):
            raise ValueError(f"collection {collection!r} is not one of tenant {self.tenant}'s")
        return collection

    def _only_this_tenant(self, *conditions) -> object:
        """A filter that also requires the point's tenant: a second wall behind the collection name."""
        from qdrant_client import models

        return models.Filter(must=[models.FieldCondition(key="tenant", match=models.MatchValue(value=self.tenant)),
                                   *conditions])

    def staging_collection(self, model_key: str) -> str:
        """Where a run writes: the model's collection that is not serving (blue/green)."""
        serving = self.serving_collection()
        first = self.physical_collection(model_key, COLORS[0])
        return self.physical_collection(model_key, COLORS[1]) if serving == first else first

    def prepare_staging(self, model_key: str, dimension: int) -> str:
        """The staging collection, created when missing; its vector size must match the model."""
        from qdrant_client import models

        target = self.staging_collection(model_key)
        if self._client.collection_exists(target):
            size = self._client.get_collection(target).config.params.vectors.size
            if size != dimension:
                raise IndexUnavailable(
                    f"collection {target} holds {size}-dimensional vectors but the embedding model makes "
                    f"{dimension}: the model at that name changed; give it a new name in INGEST_EMBED_MODEL"
                )
        else:
            self._client.create_collection(
                target, vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE))
            connection = _local_connections(self._client).get(target)
            if connection is not None:
                _append_only_commits(connection)
        return target

    def vector_size(self, collection: str) -> int:
        return self._client.get_collection(collection).config.params.vectors.size

    def publish(self, target: str) -> list[str]:
        """Point the alias at `target` in one step; drop collections of other models.

        The other color of the same model stays: it holds the previous version,
        which `rollback` can bring back, and it is the next run's staging.
        """
        from qdrant_client import models

        if self.serving_collection() is None and self._client.collection_exists(self.collection):
            raise IndexUnavailable(
                f"a collection named {self.collection} exists where tenant {self.tenant}'s alias must go; it is "
                "not this pipeline's (or belongs to a tenant named like another's collection): rename one")
        operations = []
        if self.serving_collection() is not None:
            operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self.collection)))
        operations.append(models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=target, alias_name=self.collection)))
        self._client.update_collection_aliases(change_aliases_operations=operations)
        family = target.rsplit("__", 1)[0] + "__"
        dropped = [name for name in self._physical_collections() if not name.startswith(family)]
        for name in dropped:
            self._client.delete_collection(name)
        return dropped

    def previous_collection(self) -> str | None:
        """The other color of the serving model, if it exists: the version published before."""
        serving = self.serving_collection()
        if serving is None:
            return None
        family, color = serving.rsplit("__", 1)
        other = f"{family}__{COLORS[1] if color == COLORS[0] else COLORS[0]}"
        return other if self._client.collection_exists(other) else None

    def document_fingerprints(self, collection: str) -> dict[str, str]:
        """point id -> the fingerprint of the document version the point was written for."""
        return {hit.point_id: hit.payload.get("doc_fingerprint", "")
                for hit in self.scroll(collection, with_payload=["doc_fingerprint"])}

    def upsert(self, points: Iterable[IndexPoint], collection: str | None = None,
               after_batch: Callable[[int], None] | None = None) -> int:
        from qdrant_client import models

        collection = self._own(collection)
        batch: list = []
        written = 0

        def flush() -> None:
            nonlocal batch, written
            self._client.upsert(collection, points=batch, wait=True)
            written += len(batch)
            batch = []
            if after_batch is not None:
                after_batch(written)

        for point in points:
            if point.payload.get("tenant") != self.tenant:
                raise ValueError(f"point {point.point_id} is not tenant {self.tenant}'s: refusing to write it")
            batch.append(models.PointStruct(id=point.point_id, vector=list(map(float, point.vector)),
                                            payload=point.payload))
            if len(batch) >= UPSERT_BATCH:
                flush()
        if batch:
            flush()
        _make_durable(self._client)
        return written

    def point_ids(self, collection: str | None = None) -> set[str]:
        return {hit.point_id for hit in self.scroll(collection, with_payload=False)}

    def delete(self, ids: Iterable[str], collection: str | None = None) -> int:
        from qdrant_client import models

        ids = list(ids)
        for first in range(0, len(ids), UPSERT_BATCH):
            self._client.delete(self._own(collection), wait=True,
                                points_selector=models.PointIdsList(points=ids[first:first + UPSERT_BATCH]))
        if ids:
            _make_durable(self._client)
        return len(ids)

    def delete_document(self, doc_id: str) -> int:
        """Remove every point of one document from every collection of the tenant."""
        from qdrant_client import models

        selector = models.FilterSelector(filter=models.Filter(must=[
            models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))]))
        removed = 0
        for name in self._physical_collections():
            removed += self._client.count(name, count_filter=selector.filter, exact=True).count
            self._client.delete(name, points_selector=selector, wait=True)
        return removed

    def count(self) -> int:
        if not self.exists():
            return 0
        return self._client.count(self.collection, exact=True).count

    def search(self, vector: Sequence[float], top_k: int, collection: str | None = None) -> list[SearchHit]:
        collection = self._own(collection)
        if not self._client.collection_exists(collection):
            return []
        # The embedded store evaluates a payload filter in Python on every point (28 ms against 2 ms
        # at 1,000 points, growing with the store), and each tenant has a store of its own: there the
        # tenant is checked on the hits instead, and only a foreign hit costs the filtered query.
        embedded = bool(_local_connections(self._client))
        hits = self._query(collection, vector, top_k, None if embedded else self._only_this_tenant())
        if any(hit.payload.get("tenant") != self.tenant for hit in hits):
            hits = self._query(collection, vector, top_k, self._only_this_tenant())
        return hits

    def _query(self, collection: str, vector: Sequence[float], top_k: int, only: object) -> list[SearchHit]:
        response = self._client.query_points(collection, query=list(map(float, vector)), limit=top_k,
                                             query_filter=only, with_payload=True)
        return [SearchHit(point_id=str(point.id), score=float(point.score),
                          text=(point.payload or {}).get("text", ""), payload=dict(point.payload or {}))
                for point in response.points]

    def retrieve(self, point_id: str) -> SearchHit | None:
        if not self.exists():
            return None
        records = self._client.retrieve(self.collection, ids=[point_id], with_payload=True)
        if not records or (records[0].payload or {}).get("tenant") != self.tenant:
            return None
        payload = dict(records[0].payload or {})
        return SearchHit(point_id=str(records[0].id), score=0.0, text=payload.get("text", ""), payload=payload)

    def scroll(self, collection: str | None = None, *, with_payload: bool | list[str] = True,
               doc_id: str | None = None) -> Iterator[SearchHit]:
        """Every point (of one document, if doc_id is given), in id order."""
        from qdrant_client import models

        collection = self._own(collection)
        if not self._client.collection_exists(collection):
            return
        only = self._only_this_tenant(*([] if doc_id is None else [
            models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))]))
        offset = None
        while True:
            records, offset = self._client.scroll(collection, limit=512, offset=offset, scroll_filter=only,
                                                  with_payload=with_payload, with_vectors=False)
            for record in records:
                payload = dict(record.payload or {})
                yield SearchHit(point_id=str(record.id), score=0.0, text=payload.get("text", ""),
                                payload=payload)
            if offset is None:
                return


PAYLOAD_COLUMNS = (
    "tenant", "doc_id", "source", "source_sha256", "chunk_index", "text", "text_sha256", "start", "end",
    "token_count", "pages", "section_path", "section", "title", "element_types", "file_type", "language",
    "source_modified_at", "parser", "strategy", "ocr", "ocr_confidence",
)


def build_points(enriched: pl.DataFrame, vectors: Mapping[str, Sequence[float]],
                 per_document: Mapping[str, dict], extra: dict) -> list[IndexPoint]:
    """Points for enriched chunks: the vector by text hash, the chunk's metadata as payload."""
    points = []
    for row in enriched.iter_rows(named=True):
        payload = {name: row[name] for name in PAYLOAD_COLUMNS}
        payload["page"] = row["pages"][0] if row["pages"] else None
        payload.update(per_document.get(row["doc_id"], {}))
        payload.update(extra)
        points.append(IndexPoint(row["point_id"], vectors[row["text_sha256"]], payload))
    return points


def compact_local_store(path: Path) -> None:
    """Rewrite the embedded store's files so deleted points leave no bytes behind.

    qdrant-client's local mode keeps points in SQLite files, where deleted rows
    linger in free pages until VACUUM. Call with no client open on the store.
    """
    import sqlite3

    for storage in sorted(path.glob("collection/*/storage.sqlite")):
        connection = sqlite3.connect(storage)
        try:
            connection.execute("VACUUM")
        finally:
            connection.close()
