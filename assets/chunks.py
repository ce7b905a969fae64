import dagster as dg

from assets.common import report, tenant_stage
from assets.parsed_documents import REDACTED_DOCUMENTS
from ingest.chunking.stage import chunk_stage
from resources import ChunkerResource, EmbedderResource, StorageResource


@tenant_stage(
    deps=[REDACTED_DOCUMENTS],
    kinds={"python", "parquet"},
    description="Title-aware chunks of the redacted text within the embedding model's token limit, "
    "with overlap; each knows its document, section path, pages, span and element types.",
)
def chunks(
    context: dg.AssetExecutionContext, storage: StorageResource, embedder: EmbedderResource,
    chunker: ChunkerResource,
) -> dg.MaterializeResult:
    paths = storage.paths(context.partition_key)
    version = chunker.settings().version(embedder.model_name)
    return report(context, chunk_stage(paths, version, lambda: chunker.get(embedder.get())), table=paths.chunks)
