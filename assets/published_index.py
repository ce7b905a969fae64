from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.common import report, stage_versions, tenant_stage
from assets.qdrant_index import qdrant_index
from ingest.index.stage import publish_stage
from resources import (
    ChunkerResource,
    EmbedderResource,
    ParserResource,
    QdrantResource,
    RedactorResource,
    StorageResource,
)

# The nightly refresh runs every 24 hours: warn when a tenant's index is older than a day and
# two hours, fail at a day and a half. Per-tenant staleness is the index_freshness check.
INDEX_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=36), warn_window=timedelta(hours=26))


@tenant_stage(
    deps=[qdrant_index],
    kinds={"qdrant"},
    freshness_policy=INDEX_FRESHNESS,
    description="The index queries read: the alias tenant_<name> moved, in one step, to the staging "
    "collection once its blocking checks (consistency, retrieval quality) passed. A failed check leaves "
    "the previous index serving. The manifest is written here.",
)
def published_index(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    qdrant: QdrantResource,
    embedder: EmbedderResource,
    parser: ParserResource,
    redactor: RedactorResource,
    chunker: ChunkerResource,
) -> dg.MaterializeResult:
    tenant = context.partition_key
    return report(context, publish_stage(
        tenant, storage.paths(tenant), qdrant.settings(), run_id=context.run.run_id,
        now=datetime.now(UTC).isoformat(timespec="seconds"),
        versions=stage_versions(storage.registry().get(tenant), parser, redactor, chunker, embedder),
    ))
