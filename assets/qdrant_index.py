from datetime import UTC, datetime

import dagster as dg

from assets.common import report, tenant_stage
from assets.embeddings import embeddings
from ingest.stages import index_stage
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
    description="The tenant's Qdrant collection (alias tenant_<name>): points of new and changed documents "
    "upserted with deterministic ids, then points of deleted and changed documents removed; a new "
    "embedding model is built into a new collection and published by moving the alias. The manifest "
    "records what the index now holds.",
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
    versions = {
        "parser_version": parser.settings().version,
        "redaction_policy": redactor.policy().version,
        "chunker_version": chunker.settings().version(embedder.model_name),
        "embedding_model": embedder.model_name,
    }
    return report(context, index_stage(
        tenant, storage.paths(tenant), qdrant.settings(), model_name=embedder.model_name,
        run_id=context.run.run_id, now=datetime.now(UTC).isoformat(timespec="seconds"), versions=versions,
    ))
