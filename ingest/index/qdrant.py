"""The per-tenant vector index in Qdrant: naming, blue/green publishing, writes and reads.

One function names a tenant's collection and one makes point ids (`ingest.core.ids`), so retries and
re-runs overwrite points instead of duplicating them. The store underneath is Qdrant Edge, embedded
(the default), or a Qdrant server (QDRANT_URL): `store.py` says what each must do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ingest.core.config import validate_tenant
from ingest.core.models import SearchHit
from ingest.index.edge_store import EdgeStore, StoreBusy, lock_store, unlock_store
from ingest.index.retrieval import RetrievalSettings, prune_query, sparse_document, sparse_query
from ingest.index.server_store import ServerStore
from ingest.index.store import IndexPoint, QuerySpec, VectorStore, hit
from ingest.index.terms import TermDelta

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
def open_qdrant(settings: QdrantSettings, tenant: str) -> Iterator[VectorStore]:
    """The tenant's index store for the duration of the block. The embedded store is the tenant's own
    folder of Qdrant Edge shards, locked meanwhile (see `QdrantSettings.local_path`)."""
    if not settings.is_local:
        from qdrant_client import QdrantClient

        # Reachability is checked below, with an error that says what to fix.
        client = QdrantClient(url=settings.url, api_key=settings.api_key, check_compatibility=False)
        _check_server(client, settings)
        store: VectorStore = ServerStore(client)
        try:
            yield store
        finally:
            store.close()
        return
    path = settings.local_path(tenant)
    try:
        lock = lock_store(path)
    except StoreBusy:
        raise IndexUnavailable(
            f"the embedded Qdrant store at {path} is in use by another process "
            "(a running `ingest run` or the Dagster UI executing a run); wait for it to finish, "
            "or point QDRANT_URL at a Qdrant server for concurrent access"
        ) from None
    store = EdgeStore(path)
    try:
        yield store
    finally:
        try:
            store.close()
        finally:
            unlock_store(lock)


class TenantIndex:
    """One tenant's index. Every read and write names the tenant.

    Queries read the alias `tenant_<name>`; the vectors live in a physical
    collection per embedding model and color, `tenant_<name>__<model key>__<a|b>`. A new
    version is built into the color that does not serve and published by moving the
    alias in one step, so queries never see a half-built index.
    """

    def __init__(self, store: VectorStore, tenant: str) -> None:
        self._store = store
        self.tenant = validate_tenant(tenant)
        self.collection = collection_name(tenant)  # the alias queries use
        # Per collection written through this index: the change to its term table so far (terms.py),
        # saved when the writes are finished; None when the table was not exact before, to be recounted.
        self._term_changes: dict[str, TermDelta | None] = {}

    def physical_collection(self, model_key: str, color: str) -> str:
        name = f"{self.collection}__{model_key}__{color}"
        if not self._is_physical(name):
            raise ValueError(f"invalid model key {model_key!r} (want '<name>-<8 hex digits>') or color {color!r}")
        return name

    def exists(self) -> bool:
        return self.serving_collection() is not None

    def serving_collection(self) -> str | None:
        """The physical collection queries read now, if any."""
        return self._store.alias_target(self.collection)

    def serving_model(self) -> str | None:
        """The embedding model the serving collection was built with (from its points)."""
        for found in self.scroll():
            return found.payload.get("embedding_model")
        return None

    def _is_physical(self, name: str) -> bool:
        # Matched by the whole shape: a prefix alone would also match another tenant's collections.
        shape = re.escape(self.collection) + r"__[a-z0-9-]+-[0-9a-f]{8}__[" + "".join(COLORS) + "]"
        return re.fullmatch(shape, name) is not None

    def _physical_collections(self) -> list[str]:
        return [name for name in self._store.collections() if self._is_physical(name)]

    def _own(self, collection: str | None) -> str:
        """The tenant's alias, or one of its physical collections: never another tenant's."""
        collection = collection or self.collection
        if collection != self.collection and not self._is_physical(collection):
            raise ValueError(f"collection {collection!r} is not one of tenant {self.tenant}'s")
        return collection

    def _only_this_tenant(self, **fields: str) -> dict[str, str]:
        """Every read filters on the point's tenant: a second wall behind the collection name."""
        return {"tenant": self.tenant, **fields}

    def staging_collection(self, model_key: str) -> str:
        """Where a run writes: the model's collection that is not serving (blue/green)."""
        serving = self.serving_collection()
        first = self.physical_collection(model_key, COLORS[0])
        return self.physical_collection(model_key, COLORS[1]) if serving == first else first

    def prepare_staging(self, model_key: str, dimension: int) -> str:
        """The staging collection, created when missing; its vector size must match the model.

        A staging collection without this pipeline's two vectors (built by an older release, dense
        only) is made anew: it does not serve, and the run writes every point of it again."""
        target = self.staging_collection(model_key)
        if self._store.exists(target):
            size = self._store.dimension(target)
            if size is None:
                self._store.drop(target)
            elif size != dimension:
                raise IndexUnavailable(
                    f"collection {target} holds {size}-dimensional vectors but the embedding model makes "
                    f"{dimension}: the model at that name changed; give it a new name in INGEST_EMBED_MODEL"
                )
        if not self._store.exists(target):
            self._store.create(target, dimension)
        return target

    def vector_size(self, collection: str) -> int | None:
        return self._store.dimension(self._own(collection))

    def publish(self, target: str) -> list[str]:
        """Point the alias at `target` in one step; drop collections of other models.

        The other color of the same model stays: it holds the previous version,
        which `rollback` can bring back, and it is the next run's staging.
        """
        if self.serving_collection() is None and self._store.exists(self.collection):
            raise IndexUnavailable(
                f"a collection named {self.collection} exists where tenant {self.tenant}'s alias must go; it is "
                "not this pipeline's (or belongs to a tenant named like another's collection): rename one")
        self._store.point_alias(self.collection, self._own(target))
        family = target.rsplit("__", 1)[0] + "__"
        dropped = [name for name in self._physical_collections() if not name.startswith(family)]
        for name in dropped:
            self._store.drop(name)
        return dropped

    def previous_collection(self) -> str | None:
        """The other color of the serving model, if it exists: the version published before."""
        serving = self.serving_collection()
        if serving is None:
            return None
        family, color = serving.rsplit("__", 1)
        other = f"{family}__{COLORS[1] if color == COLORS[0] else COLORS[0]}"
        return other if self._store.exists(other) else None

    def document_fingerprints(self, collection: str) -> dict[str, str]:
        """point id -> the fingerprint of the document version the point was written for."""
        return {found.point_id: found.payload.get("doc_fingerprint", "")
                for found in self.scroll(collection, with_payload=["doc_fingerprint"])}

    def upsert(self, points: Iterable[IndexPoint], collection: str | None = None,
               after_batch: Callable[[int], None] | None = None) -> int:
        """Write points, each with its BM25 sparse vector made from its text; durable on return."""
        collection = self._own(collection)
        batch: list[IndexPoint] = []
        written = 0

        def flush() -> None:
            nonlocal batch, written
            change = self._terms_changing(collection)
            latest = {point.point_id: point for point in batch}  # a point written twice in a batch counts once
            replaced = list(self._store.stored_sparse(collection, ids=list(latest))) if change is not None else []
            self._store.upsert(collection, batch)
            if change is not None:
                change.remove(replaced)
                change.add(point.sparse for point in latest.values())
            self._store.make_durable()
            written += len(batch)
            batch = []
            if after_batch is not None:
                after_batch(written)

        for point in points:
            if point.payload.get("tenant") != self.tenant:
                raise ValueError(f"point {point.point_id} is not tenant {self.tenant}'s: refusing to write it")
            sparse = point.sparse or sparse_document(str(point.payload.get("text", "")))
            batch.append(IndexPoint(point.point_id, point.vector, point.payload, sparse))
            if len(batch) >= UPSERT_BATCH:
                flush()
        if batch:
            flush()
        return written

    def finish_writes(self, collection: str) -> None:
        """After a run's writes: let the store build its graph and quantized vectors; save the term table."""
        collection = self._own(collection)
        self._store.finish_writes(collection)
        self._save_terms(collection)

    def _terms_changing(self, collection: str) -> TermDelta | None:
        """Before the first write to `collection`: mark its term table stale (see terms.py)."""
        if collection not in self._term_changes:
            self._term_changes[collection] = TermDelta() if self._store.mark_terms_stale(collection) else None
        return self._term_changes[collection]

    def _save_terms(self, collection: str) -> None:
        if collection in self._term_changes:
            self._store.update_terms(collection, self._term_changes.pop(collection))

    def repair_term_table(self, collection: str) -> bool:
        """Count the term table of a collection written by an interrupted run (or before term tables
        existed) from its stored vectors; whether it had to."""
        collection = self._own(collection)
        if collection in self._term_changes or not self._store.exists(collection):
            return False
        if self._store.term_frequencies(collection, []) is not None:
            return False
        self._store.update_terms(collection, None)
        return True

    def point_ids(self, collection: str | None = None) -> set[str]:
        return {found.point_id for found in self.scroll(collection, with_payload=False)}

    def delete(self, ids: Iterable[str], collection: str | None = None) -> int:
        ids = list(ids)
        collection = self._own(collection)
        for first in range(0, len(ids), UPSERT_BATCH):
            batch = ids[first:first + UPSERT_BATCH]
            change = self._terms_changing(collection)
            removed = list(self._store.stored_sparse(collection, ids=batch)) if change is not None else []
            self._store.delete(collection, batch)
            if change is not None:
                change.remove(removed)
        if ids:
            self._store.make_durable()
        return len(ids)

    def delete_document(self, doc_id: str) -> int:
        """Remove every point of one document from every collection of the tenant."""
        removed = 0
        collections = self._physical_collections()
        for name in collections:
            where = self._only_this_tenant(doc_id=doc_id)
            change = self._terms_changing(name)
            gone = list(self._store.stored_sparse(name, where=where)) if change is not None else []
            removed += self._store.delete_where(name, where)
            if change is not None:
                change.remove(gone)
        self._store.make_durable()
        for name in collections:  # an erased document's terms leave the tables at once
            self._save_terms(name)
        return removed

    def count(self) -> int:
        if not self.exists():
            return 0
        return self._store.count(self.collection)

    def search(self, vector: Sequence[float] | None, top_k: int, collection: str | None = None, *,
               text: str | None = None, settings: RetrievalSettings | None = None) -> list[SearchHit]:
        """The best `top_k` chunks: by the dense vector, by the BM25 terms of `text`, or both fused,
        as `settings.mode` says (dense when no settings are given)."""
        settings = settings or RetrievalSettings(mode="dense")
        collection = self._own(collection)
        if not self._store.exists(collection):
            return []
        if settings.mode != "dense" and text is None:
            raise ValueError(f"{settings.mode} search needs the question's text")
        if settings.mode != "sparse" and vector is None:
            raise ValueError(f"{settings.mode} search needs the question's vector")
        sparse = None if settings.mode == "dense" else sparse_query(text or "")
        if settings.mode == "hybrid" and settings.sparse_budget and sparse is not None and sparse.indices:
            counted = self._store.term_frequencies(collection, sparse.indices)
            if counted is not None:  # no table (being written, or interrupted): every term is searched
                sparse = prune_query(sparse, counted[1], counted[0], settings.sparse_budget)
        spec = QuerySpec(settings=settings, limit=top_k, where=self._only_this_tenant(),
                         dense=None if settings.mode == "sparse" else vector, sparse=sparse)
        return self._store.query(collection, spec)

    def retrieve(self, point_id: str) -> SearchHit | None:
        if not self.exists():
            return None
        payload = self._store.retrieve(self.collection, point_id)
        if payload is None or payload.get("tenant") != self.tenant:
            return None
        return hit(point_id, 0.0, payload)

    def scroll(self, collection: str | None = None, *, with_payload: bool | list[str] = True,
               doc_id: str | None = None) -> Iterator[SearchHit]:
        """Every point (of one document, if doc_id is given), in id order."""
        collection = self._own(collection)
        if not self._store.exists(collection):
            return
        where = self._only_this_tenant(**({} if doc_id is None else {"doc_id": doc_id}))
        for point_id, payload in self._store.scroll(collection, with_payload, where):
            yield hit(point_id, 0.0, payload)


PAYLOAD_COLUMNS = (
    "tenant", "doc_id", "source", "source_sha256", "chunk_index", "text", "text_sha256", "start", "end",
    "token_count", "pages", "section_path", "section", "title", "element_types", "file_type", "language",
    "source_modified_at", "parser", "strategy", "extraction", "ocr", "ocr_confidence",
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
    """Rewrite the embedded store's shards so deleted points leave no bytes behind.

    Deleting only marks points; their payload and vector bytes stay in the segment files until the
    segment is vacuumed. Call with the tenant's store closed: this takes its lock.
    """
    lock = lock_store(path)
    try:
        EdgeStore(path).vacuum()
    finally:
        unlock_store(lock)
