import dagster as dg

from assets.common import EMBED_POOL, report, tenant_stage
from assets.enriched_chunks import enriched_chunks
from ingest.embedding.stage import embed_stage
from resources import EmbedderResource, StorageResource


@tenant_stage(
    deps=[enriched_chunks],
    pool=EMBED_POOL,
    kinds={"python", "parquet", "pytorch"},
    description="Unit-length vectors from the sentence-transformers model, cached by (model, chunk text "
    "hash): only text never embedded before is encoded.",
)
def embeddings(
    context: dg.AssetExecutionContext, storage: StorageResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    paths = storage.paths(context.partition_key)

    def progress(embedded: int, total: int) -> None:
        context.log.info(f"embedded {embedded}/{total} new chunk texts")

    return report(context, embed_stage(paths, embedder.model_name, embedder.get, model_key=embedder.model_key(),
                                       on_progress=progress),
                  table=paths.embedding_cache(embedder.model_key()))
