"""The embedded index: Qdrant Edge shards in the tenant's folder (docs/INDEX_ENGINES.md says why).

Each collection is one shard directory. Edge has no aliases, so the alias is a small JSON file naming
the serving shard, replaced atomically and synced: readers see the old shard or the new one, never
half of a publish. Edge has no lock between processes either: `open_edge_store` takes one per tenant.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ingest.core.files import atomic_write_bytes, atomic_write_text, unlink_durably
from ingest.core.models import SearchHit
from ingest.index.retrieval import DENSE_VECTOR, SPARSE_VECTOR, SparseVector
from ingest.index.store import (
    HNSW_EF_CONSTRUCT,
    HNSW_EF_SEARCH,
    HNSW_M,
    INDEXED_FIELDS,
    OVERSAMPLING,
    IndexPoint,
    QuerySpec,
    hit,
    stored_sparse_vector,
)
from ingest.index.terms import TermDelta, TermTable, count_terms

ALIASES_FILE = "aliases.json"
# A shard's term table (terms.py) lives in its directory, so it is published, rolled back, dropped and
# erased with it; the stale marker says it is being changed (or a change was interrupted).
TERMS_FILE = "term_counts.npz"
TERMS_STALE_FILE = "term_counts.stale"
LOCK_FILE = ".lock"
SCROLL_PAGE = 512
# Edge's own defaults, written down so that loading a shard after an erasure (which vacuums with a
# zero threshold) puts them back.
DELETED_THRESHOLD = 0.2
VACUUM_MIN_VECTORS = 1000


# The files every query walks: int8 vectors, HNSW links and the sparse inverted index (Edge 0.9's layout,
# pinned; a test checks the names still occur). Read whole before loading, in large sequential reads:
# Cold placement leaves them to page faults, one 4 KiB read each, which made the first queries after
# opening a 1,000,000-point shard take up to 257 ms; read ahead, a 1M shard opens and answers in 0.8-1.5 s.
HOT_FILES = frozenset({"quantized.data", "links_compressed.bin", "links.bin", "inverted_index.dat"})
_READ_BLOCK = 8 << 20


def read_ahead(shard_path: Path) -> int:
    """Bring the shard's HOT_FILES into the page cache; the bytes read."""
    buffer = bytearray(_READ_BLOCK)
    total = 0
    for path in sorted(shard_path.glob("segments/*/*/*")):
        if path.name in HOT_FILES and path.is_file():
            with path.open("rb", buffering=0) as stream:
                while read := stream.readinto(buffer):
                    total += read
    return total


class StoreBusy(RuntimeError):
    """Another process holds the tenant's embedded store."""


def _edge_config(dimension: int, *, vacuum_everything: bool = False):
    import qdrant_edge as qe

    # Placement is fixed when a segment is written. Everything is Cold (memory-mapped, read through the
    # page cache as queries touch it): Edge loads Cached int8 vectors page by page and copies Pinned ones,
    # which made a 1,000,000-point shard take 4-10 s to open against 1.3 s (docs/INDEX_ENGINES.md).
    dense = qe.EdgeVectorParams(
        size=dimension, distance=qe.Distance.Cosine, memory=qe.Memory.Cold,
        quantization_config=qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Cold),
        hnsw_config=qe.HnswIndexConfig(m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT, full_scan_threshold=10_000))
    sparse = qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, memory=qe.Memory.Cold)
    optimizers = qe.EdgeOptimizersConfig(
        deleted_threshold=1e-9 if vacuum_everything else DELETED_THRESHOLD,
        vacuum_min_vector_number=1 if vacuum_everything else VACUUM_MIN_VECTORS)
    # No write-ahead log: each batch is made durable with flush(), and a log would keep the bytes of
    # erased points after their segments are rewritten.
    return qe.EdgeConfig(vectors={DENSE_VECTOR: dense}, sparse_vectors={SPARSE_VECTOR: sparse},
                         optimizers=optimizers, wal_enabled=False)


def _filter(where: Mapping[str, str]):
    import qdrant_edge as qe

    if not where:
        return None
    return qe.Filter(must=[qe.FieldCondition(key, match=qe.MatchValue(value)) for key, value in where.items()])


def _sparse(vector: SparseVector):
    import qdrant_edge as qe

    return qe.SparseVector(list(vector.indices), list(vector.values))


class EdgeStore:
    """One tenant's shards under `root`; open shards are kept until `close`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._shards: dict[str, object] = {}
        self._alias_map: dict[str, str] | None = None  # read once: the store's lock keeps others from writing
        self._term_tables: dict[str, TermTable | None] = {}  # by shard, as read

    def _path(self, name: str) -> Path:
        return self.root / name

    def _shard(self, name: str):
        import qdrant_edge as qe

        if name not in self._shards:
            read_ahead(self._path(name))
            self._shards[name] = qe.EdgeShard.load(str(self._path(name)))
        return self._shards[name]

    def _aliases(self) -> dict[str, str]:
        if self._alias_map is None:
            path = self.root / ALIASES_FILE
            self._alias_map = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        return self._alias_map

    def collections(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir() if (entry / "edge_config.json").is_file())

    def exists(self, name: str) -> bool:
        return name in self._aliases() or (self._path(name) / "edge_config.json").is_file()

    def _resolve(self, name: str) -> str:
        return self._aliases().get(name, name)

    def create(self, name: str, dimension: int) -> None:
        import qdrant_edge as qe

        path = self._path(name)
        if path.exists():  # a shard whose creation was interrupted: nothing in it was ever published
            shutil.rmtree(path)
        shard = qe.EdgeShard.create(str(path), _edge_config(dimension))
        for field in INDEXED_FIELDS:
            # On disk: in memory, Edge rebuilds a keyword index at every load (a third of a 1M shard's load).
            index = qe.KeywordIndexParams(is_tenant=field == "tenant", memory=qe.Memory.Cold)
            shard.update(qe.UpdateOperation.create_field_index(field, index))
        shard.flush()
        self._shards[name] = shard
        self._write_terms(name, TermTable.empty())

    def drop(self, name: str) -> None:
        self._term_tables.pop(name, None)
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self._path(name), ignore_errors=True)

    def alias_target(self, alias: str) -> str | None:
        return self._aliases().get(alias)

    def point_alias(self, alias: str, target: str) -> None:
        for shard in self._shards.values():
            shard.flush()
        aliases = {**self._aliases(), alias: target}
        atomic_write_text(self.root / ALIASES_FILE, json.dumps(aliases, indent=2) + "\n", durable=True)
        self._alias_map = aliases

    def dimension(self, name: str) -> int | None:
        path = self._path(self._resolve(name)) / "edge_config.json"
        if not path.is_file():
            return None
        config = json.loads(path.read_text(encoding="utf-8"))
        if SPARSE_VECTOR not in (config.get("sparse_vectors") or {}):
            return None
        return (config.get("vectors") or {}).get(DENSE_VECTOR, {}).get("size")

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        import qdrant_edge as qe

        built = []
        for point in points:
            vectors: dict = {DENSE_VECTOR: list(map(float, point.vector))}
            if point.sparse is not None:
                vectors[SPARSE_VECTOR] = _sparse(point.sparse)
            built.append(qe.Point(point.point_id, vectors, point.payload))
        self._shard(name).update(qe.UpdateOperation.upsert_points(built))

    def delete(self, name: str, ids: Sequence[str]) -> None:
        import qdrant_edge as qe

        self._shard(name).update(qe.UpdateOperation.delete_points(list(ids)))

    def delete_where(self, name: str, where: Mapping[str, str]) -> int:
        import qdrant_edge as qe

        shard = self._shard(name)
        found = shard.count(qe.CountRequest(exact=True, filter=_filter(where)))
        if found:
            shard.update(qe.UpdateOperation.delete_points_by_filter(_filter(where)))
        return found

    def count(self, name: str) -> int:
        import qdrant_edge as qe

        return self._shard(self._resolve(name)).count(qe.CountRequest(exact=True))

    def query(self, name: str, spec: QuerySpec) -> list[SearchHit]:
        import qdrant_edge as qe

        settings = spec.settings
        only = _filter(spec.where)
        dense_params = qe.SearchParams(hnsw_ef=HNSW_EF_SEARCH, quantization=qe.QuantizationSearchParams(
            rescore=True, oversampling=OVERSAMPLING))
        dense = qe.Query.Nearest(list(map(float, spec.dense)), using=DENSE_VECTOR) if spec.dense is not None else None
        sparse = qe.Query.Nearest(_sparse(spec.sparse), using=SPARSE_VECTOR) if spec.sparse is not None else None
        if settings.mode == "hybrid":
            # The dense candidates keep their int8 scores: re-scoring reads each full vector from disk
            # (Cold), 2 x prefetch reads a query where a dense search makes 2 x top_k.
            rough = qe.SearchParams(hnsw_ef=HNSW_EF_SEARCH, quantization=qe.QuantizationSearchParams(rescore=False))
            prefetches = [qe.Prefetch(limit=max(settings.prefetch, spec.limit), query=dense, params=rough,
                                      filter=only),
                          qe.Prefetch(limit=max(settings.prefetch, spec.limit), query=sparse, filter=only)]
            fusion = qe.Fusion.Dbsf() if settings.fusion == "dbsf" else qe.Fusion.Rrf(
                k=settings.rrf_k, weights=[float(settings.dense_weight), float(settings.sparse_weight)])
            request = qe.QueryRequest(limit=spec.limit, prefetches=prefetches, filter=only, with_payload=True,
                                      query=fusion)
        elif settings.mode == "dense":
            request = qe.QueryRequest(limit=spec.limit, query=dense, params=dense_params, filter=only,
                                      with_payload=True)
        else:
            request = qe.QueryRequest(limit=spec.limit, query=sparse, filter=only, with_payload=True)
        return [hit(point.id, point.score, point.payload) for point in self._shard(self._resolve(name)).query(request)]

    def stored_sparse(self, name: str, *, ids: Sequence[str] | None = None,
                      where: Mapping[str, str] | None = None) -> Iterator[SparseVector]:
        import qdrant_edge as qe

        shard = self._shard(name)
        if ids is not None:
            for first in range(0, len(ids), SCROLL_PAGE):
                for record in shard.retrieve(list(ids[first:first + SCROLL_PAGE]), with_payload=False,
                                             with_vector=[SPARSE_VECTOR]):
                    yield stored_sparse_vector(record)
            return
        offset = None
        while True:
            records, offset = shard.scroll(qe.ScrollRequest(
                offset=offset, limit=SCROLL_PAGE, filter=_filter(where or {}), with_payload=False,
                with_vector=[SPARSE_VECTOR]))
            yield from map(stored_sparse_vector, records)
            if offset is None:
                return

    def _read_terms(self, name: str, *, even_stale: bool = False) -> TermTable | None:
        folder = self._path(name)
        if not even_stale and name in self._term_tables:
            return self._term_tables[name]
        table = None
        if (folder / TERMS_FILE).is_file() and (even_stale or not (folder / TERMS_STALE_FILE).exists()):
            table = TermTable.from_bytes((folder / TERMS_FILE).read_bytes())
        if not even_stale:
            self._term_tables[name] = table
        return table

    def _write_terms(self, name: str, table: TermTable) -> None:
        atomic_write_bytes(self._path(name) / TERMS_FILE, table.to_bytes(), durable=True)
        unlink_durably(self._path(name) / TERMS_STALE_FILE)  # only once the table itself is on disk
        self._term_tables[name] = table

    def term_frequencies(self, name: str, terms: Sequence[int]) -> tuple[int, list[int]] | None:
        table = self._read_terms(self._resolve(name))
        return None if table is None else (table.points, table.frequencies(terms))

    def mark_terms_stale(self, name: str) -> bool:
        counted = self._read_terms(name) is not None
        atomic_write_text(self._path(name) / TERMS_STALE_FILE, "", durable=True)
        self._term_tables[name] = None
        return counted

    def update_terms(self, name: str, change: TermDelta | None) -> None:
        base = None if change is None else self._read_terms(name, even_stale=True)
        self._write_terms(name, base.applied(change) if base is not None else count_terms(self.stored_sparse(name)))

    def retrieve(self, name: str, point_id: str) -> dict | None:
        records = self._shard(self._resolve(name)).retrieve([point_id], with_payload=True, with_vector=False)
        return dict(records[0].payload or {}) if records else None

    def scroll(self, name: str, with_payload: bool | list[str], where: Mapping[str, str]) -> Iterator[tuple[str, dict]]:
        import qdrant_edge as qe

        shard = self._shard(self._resolve(name))
        offset = None
        while True:
            records, offset = shard.scroll(qe.ScrollRequest(offset=offset, limit=SCROLL_PAGE, filter=_filter(where),
                                                            with_payload=with_payload))
            for record in records:
                yield str(record.id), dict(record.payload or {})
            if offset is None:
                return

    def make_durable(self) -> None:
        for shard in self._shards.values():
            shard.flush()

    def finish_writes(self, name: str) -> None:
        shard = self._shard(name)
        shard.flush()
        shard.optimize()  # merges small segments and builds the graph and int8 vectors of large ones
        shard.flush()

    def vacuum(self) -> None:
        """Rewrite every shard that holds deleted points, so that none of their bytes stay on disk."""
        import qdrant_edge as qe

        for name in self.collections():
            dimension = self.dimension(name)
            if dimension is None:
                continue
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.close()
            shard = qe.EdgeShard.load(str(self._path(name)), _edge_config(dimension, vacuum_everything=True))
            shard.optimize()
            shard.flush()
            shard.close()
            # Load again with the usual thresholds, which the shard then keeps for later runs.
            qe.EdgeShard.load(str(self._path(name)), _edge_config(dimension)).close()

    def close(self) -> None:
        shards, self._shards = self._shards, {}
        for shard in shards.values():
            shard.flush()
            shard.close()


def lock_store(root: Path) -> int:
    """An exclusive lock on the tenant's store for this process; StoreBusy when another holds it."""
    root.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise StoreBusy(str(root)) from None
    return descriptor


def unlock_store(descriptor: int) -> None:
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    os.close(descriptor)
