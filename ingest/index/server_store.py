"""A Qdrant server (or cluster) through qdrant-client: the index when QDRANT_URL is set.

Collections carry the same two named vectors as the embedded shards and use the same query API
(prefetch, then reciprocal-rank fusion), with server-side aliases for blue/green publishing. Each
collection's term table (terms.py) is a collection beside it, `<name>__terms`, without vectors: one point
per term (its hashed id, the count in the payload) and one for the table itself; its alias moves with the
collection's, and it is dropped with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

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
from ingest.index.terms import TermDelta, count_terms

SCROLL_PAGE = 512
TERMS_SUFFIX = "__terms"  # never part of a tenant's names, which refuse "__"
TERMS_META_ID = "00000000-0000-0000-0000-000000000000"  # the table's own point: {"points": n, "stale": bool}


def _terms(name: str) -> str:
    return name + TERMS_SUFFIX


def _filter(where: Mapping[str, str]):
    from qdrant_client import models

    if not where:
        return None
    return models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=value))
                               for key, value in where.items()])


def _sparse(vector: SparseVector):
    from qdrant_client import models

    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


class ServerStore:
    """Collections on a Qdrant server, through one qdrant-client client."""

    def __init__(self, client) -> None:
        self.client = client

    def collections(self) -> list[str]:
        return [collection.name for collection in self.client.get_collections().collections
                if not collection.name.endswith(TERMS_SUFFIX)]

    def exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    def create(self, name: str, dimension: int) -> None:
        from qdrant_client import models

        # The full vectors on disk, int8 copies in memory for the graph search, re-scored with the full
        # ones; the sparse index on disk. The same placement as the embedded shards.
        self.client.create_collection(
            name,
            vectors_config={DENSE_VECTOR: models.VectorParams(
                size=dimension, distance=models.Distance.COSINE, on_disk=True,
                hnsw_config=models.HnswConfigDiff(m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT),
                quantization_config=models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=0.99, always_ram=True)))},
            sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(
                modifier=models.Modifier.IDF, index=models.SparseIndexParams(on_disk=True))},
            on_disk_payload=True,
        )
        for field in INDEXED_FIELDS:
            schema = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=field == "tenant")
            self.client.create_payload_index(name, field, field_schema=schema, wait=True)
        self.client.create_collection(_terms(name), vectors_config={})
        self._write_meta(name, 0, stale=False)

    def drop(self, name: str) -> None:
        self.client.delete_collection(name)
        if self.client.collection_exists(_terms(name)):
            self.client.delete_collection(_terms(name))

    def alias_target(self, alias: str) -> str | None:
        for found in self.client.get_aliases().aliases:
            if found.alias_name == alias:
                return found.collection_name
        return None

    def point_alias(self, alias: str, target: str) -> None:
        from qdrant_client import models

        current = {found.alias_name for found in self.client.get_aliases().aliases}
        pairs = [(alias, target)]
        if self.client.collection_exists(_terms(target)):  # the term table's alias moves in the same step
            pairs.append((_terms(alias), _terms(target)))
        operations = []
        for name, collection in pairs:
            if name in current:
                operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=name)))
            operations.append(models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=collection, alias_name=name)))
        if _terms(alias) in current and len(pairs) == 1:  # a table that does not belong to the new target
            operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=_terms(alias))))
        self.client.update_collection_aliases(change_aliases_operations=operations)  # one step on the server

    def dimension(self, name: str) -> int | None:
        params = self.client.get_collection(name).config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else {}
        if DENSE_VECTOR not in vectors or SPARSE_VECTOR not in (params.sparse_vectors or {}):
            return None
        return vectors[DENSE_VECTOR].size

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        from qdrant_client import models

        built = []
        for point in points:
            vectors: dict = {DENSE_VECTOR: list(map(float, point.vector))}
            if point.sparse is not None:
                vectors[SPARSE_VECTOR] = _sparse(point.sparse)
            built.append(models.PointStruct(id=point.point_id, vector=vectors, payload=point.payload))
        self.client.upsert(name, points=built, wait=True)

    def delete(self, name: str, ids: Sequence[str]) -> None:
        from qdrant_client import models

        self.client.delete(name, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def delete_where(self, name: str, where: Mapping[str, str]) -> int:
        from qdrant_client import models

        found = self.client.count(name, count_filter=_filter(where), exact=True).count
        if found:
            self.client.delete(name, points_selector=models.FilterSelector(filter=_filter(where)), wait=True)
        return found

    def count(self, name: str) -> int:
        return self.client.count(name, exact=True).count

    def query(self, name: str, spec: QuerySpec) -> list[SearchHit]:
        from qdrant_client import models

        settings = spec.settings
        only = _filter(spec.where)
        dense_params = models.SearchParams(hnsw_ef=HNSW_EF_SEARCH, quantization=models.QuantizationSearchParams(
            rescore=True, oversampling=OVERSAMPLING))
        dense = list(map(float, spec.dense)) if spec.dense is not None else None
        sparse = _sparse(spec.sparse) if spec.sparse is not None else None
        if settings.mode == "hybrid":
            depth = max(settings.prefetch, spec.limit)
            response = self.client.query_points(
                name, limit=spec.limit, query_filter=only, with_payload=True,
                # As on the embedded shards: the dense candidates keep their int8 scores (edge_store.py says why).
                prefetch=[models.Prefetch(query=dense, using=DENSE_VECTOR, limit=depth, filter=only,
                                          params=models.SearchParams(hnsw_ef=HNSW_EF_SEARCH,
                                                                     quantization=models.QuantizationSearchParams(
                                                                         rescore=False))),
                          models.Prefetch(query=sparse, using=SPARSE_VECTOR, limit=depth, filter=only)],
                query=models.FusionQuery(fusion=models.Fusion.DBSF) if settings.fusion == "dbsf" else
                models.RrfQuery(rrf=models.Rrf(k=settings.rrf_k, weights=[
                    float(settings.dense_weight), float(settings.sparse_weight)])))
        elif settings.mode == "dense":
            response = self.client.query_points(name, query=dense, using=DENSE_VECTOR, limit=spec.limit,
                                                search_params=dense_params, query_filter=only, with_payload=True)
        else:
            response = self.client.query_points(name, query=sparse, using=SPARSE_VECTOR, limit=spec.limit,
                                                query_filter=only, with_payload=True)
        return [hit(point.id, point.score, point.payload) for point in response.points]

    def stored_sparse(self, name: str, *, ids: Sequence[str] | None = None,
                      where: Mapping[str, str] | None = None) -> Iterator[SparseVector]:
        if ids is not None:
            for first in range(0, len(ids), SCROLL_PAGE):
                records = self.client.retrieve(name, ids=list(ids[first:first + SCROLL_PAGE]), with_payload=False,
                                               with_vectors=[SPARSE_VECTOR])
                yield from map(stored_sparse_vector, records)
            return
        offset = None
        while True:
            records, offset = self.client.scroll(name, limit=SCROLL_PAGE, offset=offset,
                                                 scroll_filter=_filter(where or {}), with_payload=False,
                                                 with_vectors=[SPARSE_VECTOR])
            yield from map(stored_sparse_vector, records)
            if offset is None:
                return

    def _write_meta(self, name: str, points: int, *, stale: bool) -> None:
        from qdrant_client import models

        self.client.upsert(_terms(name), points=[models.PointStruct(
            id=TERMS_META_ID, vector={}, payload={"points": points, "stale": stale})], wait=True)

    def _read_counts(self, name: str, terms: Sequence[int]) -> tuple[dict | None, dict[int, int]] | None:
        """The table's own payload and the counts of `terms` (missing: 0); None when there is no table."""
        from qdrant_client.http.exceptions import UnexpectedResponse

        try:
            records = self.client.retrieve(_terms(name), ids=[TERMS_META_ID, *terms], with_payload=True)
        except (UnexpectedResponse, ValueError):  # no such collection (the server, or the in-memory client)
            return None
        meta = next((record.payload for record in records if str(record.id) == TERMS_META_ID), None)
        return meta, {int(record.id): int(record.payload["n"]) for record in records if str(record.id) != TERMS_META_ID}

    def term_frequencies(self, name: str, terms: Sequence[int]) -> tuple[int, list[int]] | None:
        found = self._read_counts(name, terms)  # through the alias's own table alias: one request
        if found is None or found[0] is None or found[0].get("stale"):
            return None
        meta, counts = found
        return int(meta["points"]), [counts.get(int(term), 0) for term in terms]

    def mark_terms_stale(self, name: str) -> bool:
        found = self._read_counts(name, [])
        if found is None:  # a collection from before term tables: make it one, to be counted
            self.client.create_collection(_terms(name), vectors_config={})
        meta = (found or (None, {}))[0]
        self._write_meta(name, int((meta or {}).get("points", 0)), stale=True)
        return meta is not None and not meta.get("stale")

    def update_terms(self, name: str, change: TermDelta | None) -> None:
        from qdrant_client import models

        found = self._read_counts(name, []) if change is not None else None
        if change is None or found is None or found[0] is None:
            table = count_terms(self.stored_sparse(name))
            if self.client.collection_exists(_terms(name)):
                self.client.delete(_terms(name), points_selector=models.FilterSelector(filter=models.Filter()),
                                   wait=True)
            else:  # a collection from before term tables
                self.client.create_collection(_terms(name), vectors_config={})
            self._write_counts(name, table.as_dict(), [])
            self._write_meta(name, table.points, stale=False)
            return
        terms = list(change.terms)
        for first in range(0, len(terms), SCROLL_PAGE):
            page = terms[first:first + SCROLL_PAGE]
            counts = self._read_counts(name, page)[1]
            updated = {term: counts.get(term, 0) + change.terms[term] for term in page}
            self._write_counts(name, {term: n for term, n in updated.items() if n > 0},
                               [term for term, n in updated.items() if n <= 0])
        self._write_meta(name, int(found[0].get("points", 0)) + change.points, stale=False)

    def _write_counts(self, name: str, counts: dict[int, int], gone: list[int]) -> None:
        from qdrant_client import models

        items = list(counts.items())
        for first in range(0, len(items), SCROLL_PAGE):
            page = items[first:first + SCROLL_PAGE]
            self.client.upsert(_terms(name), wait=True, points=[
                models.PointStruct(id=term, vector={}, payload={"n": n}) for term, n in page])
        if gone:
            self.client.delete(_terms(name), points_selector=models.PointIdsList(points=gone), wait=True)

    def retrieve(self, name: str, point_id: str) -> dict | None:
        records = self.client.retrieve(name, ids=[point_id], with_payload=True)
        return dict(records[0].payload or {}) if records else None

    def scroll(self, name: str, with_payload: bool | list[str], where: Mapping[str, str]) -> Iterator[tuple[str, dict]]:
        offset = None
        while True:
            records, offset = self.client.scroll(name, limit=SCROLL_PAGE, offset=offset, scroll_filter=_filter(where),
                                                 with_payload=with_payload, with_vectors=False)
            for record in records:
                yield str(record.id), dict(record.payload or {})
            if offset is None:
                return

    def make_durable(self) -> None:
        """Writes wait for the server's acknowledgement (`wait=True`); its write-ahead log does the rest."""

    def finish_writes(self, name: str) -> None:
        """The server's optimizers index new segments in the background."""

    def close(self) -> None:
        self.client.close()
