import dagster as dg
import polars as pl

from assets.common import Stopwatch, tenant_stage
from assets.enriched_chunks import enriched_chunks
from ingest.storage import read_parquet, write_parquet
from resources import EmbedderResource, StorageResource


@tenant_stage(
    deps=[enriched_chunks],
    kinds={"python", "parquet", "pytorch"},
    description="One unit-length vector per chunk from the sentence-transformers model, batched.",
)
def embeddings(
    context: dg.AssetExecutionContext, storage: StorageResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    watch = Stopwatch()
    paths = storage.paths(context.partition_key)
    enriched = read_parquet(paths.enriched_chunks)
    model = embedder.get()
    context.log.info(f"embedding {enriched.height} chunks with {model.model_name}")
    vectors = model.encode(enriched["text"].to_list())
    frame = pl.DataFrame({
        "point_id": enriched["point_id"],
        "vector": pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, model.dimension)),
    })
    write_parquet(frame, paths.embeddings)
    seconds = watch.seconds
    return dg.MaterializeResult(metadata={
        "embedded": frame.height,
        "model": model.model_name,
        "dimension": model.dimension,
        "chunks_per_second": round(frame.height / seconds, 1) if seconds else 0.0,
        "seconds": seconds,
    })
