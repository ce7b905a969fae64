from datetime import UTC, datetime

import dagster as dg

from assets.common import report, stage_versions, tenant_stage
from assets.embeddings import embeddings
from ingest.index.stage import index_stage
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
    description="The tenant's staging collection, brought to exactly the current chunks: points of new and "
    "changed documents upserted with deterministic ids, then points of deleted and old versions removed. "
    "Queries keep reading the published collection until the checks on this one pass.",
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
    tenant = context.partition_key
    return report(context, index_stage(
        tenant, storage.paths(tenant), qdrant.settings(), model_name=embedder.model_name,
        model_key=embedder.model_key(), run_id=context.run.run_id, now=datetime.now(UTC).isoformat(timespec="seconds"),
        versions=stage_versions(storage.registry().get(tenant), parser, redactor, chunker, embedder),
    ))
