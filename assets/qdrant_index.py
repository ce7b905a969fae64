from datetime import UTC, datetime

import dagster as dg

from assets.common import Stopwatch, tenant_stage
from assets.embeddings import embeddings
from ingest.index import build_points, sync_tenant_index
from ingest.manifest import build_manifest, read_manifest, write_manifest
from ingest.storage import read_parquet
from resources import (
    ChunkerResource,
    EmbedderResource,
    ParserResource,
    QdrantResource,
    RedactorResource,
    StorageResource,
)


@tenant_stage(
    deps=[embeddings],
    kinds={"qdrant"},
    description="The tenant's Qdrant collection: points upserted with deterministic ids, then points of "
    "deleted or changed documents removed; the manifest records what the index now holds.",
)
def qdrant_index(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    qdrant: QdrantResource,
    embedder: EmbedderResource,
    parser: ParserResource,
    redactor: RedactorResource,
    chunker: ChunkerResource,
) -> dg.MaterializeResult:
    watch = Stopwatch()
    tenant = context.partition_key
    paths = storage.paths(tenant)
    enriched = read_parquet(paths.enriched_chunks)
    vectors = dict(read_parquet(paths.embeddings).iter_rows())
    model = embedder.get()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    versions = {
        "parser_version": parser.settings().version,
        "redaction_policy": redactor.policy().version,
        "chunker_version": chunker.settings().version(model.model_name),
        "embedding_model": model.model_name,
    }
    points = build_points(enriched, vectors, {**versions, "run_id": context.run.run_id, "ingested_at": now})
    with qdrant.tenant_index(tenant) as index:
        upserted, deleted = sync_tenant_index(index, model.dimension, points)
        total = index.count()
        collection = index.collection
    chunk_counts = dict(enriched.group_by("doc_id").len().iter_rows())
    manifest = build_manifest(
        read_parquet(paths.source_documents), read_parquet(paths.parsed_documents), chunk_counts,
        read_manifest(paths.manifest), run_id=context.run.run_id, now=now,
        versions="|".join(f"{key}={value}" for key, value in versions.items()),
    )
    write_manifest(manifest, paths.manifest)
    context.log.info(f"{collection}: {upserted} points upserted, {deleted} stale points deleted, {total} in all")
    return dg.MaterializeResult(metadata={
        "collection": collection,
        "store": qdrant.settings().describe(),
        "upserted": upserted,
        "deleted_points": deleted,
        "points": total,
        "documents_indexed": len(chunk_counts),
        "seconds": watch.seconds,
    })
