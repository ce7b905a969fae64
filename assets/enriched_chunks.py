import dagster as dg

from assets.chunks import chunks
from assets.common import report, tenant_stage
from ingest.chunking.stage import enrich_stage
from resources import StorageResource


@tenant_stage(
    deps=[chunks],
    kinds={"python", "parquet"},
    description="Chunks with metadata for filtering and citation: title, section, pages, file type, "
    "language, source modified time, OCR flag; plus deterministic point ids.",
)
def enriched_chunks(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    tenant = context.partition_key
    paths = storage.paths(tenant)
    return report(context, enrich_stage(tenant, paths), table=paths.enriched_chunks)
