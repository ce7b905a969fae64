import dagster as dg

from assets.common import Stopwatch, tenant_stage
from assets.redacted_documents import redacted_documents
from ingest import tables
from ingest.chunk import chunk_documents
from ingest.parse import elements_by_document
from ingest.storage import read_parquet, write_parquet
from resources import ChunkerResource, EmbedderResource, StorageResource


@tenant_stage(
    deps=[redacted_documents],
    kinds={"python", "parquet"},
    description="Title-aware chunks of the redacted text within the embedding model's token limit, "
    "with overlap; each knows its document, section path, pages, span and element types.",
)
def chunks(
    context: dg.AssetExecutionContext, storage: StorageResource, embedder: EmbedderResource,
    chunker: ChunkerResource,
) -> dg.MaterializeResult:
    watch = Stopwatch()
    paths = storage.paths(context.partition_key)
    model = embedder.get()
    made = chunk_documents(elements_by_document(read_parquet(paths.redacted_elements)), chunker.get(model))
    frame = tables.frame(made, tables.CHUNKS)
    write_parquet(frame, paths.chunks)
    tokens = frame["token_count"]
    return dg.MaterializeResult(metadata={
        "chunks": frame.height,
        "documents": frame["doc_id"].n_unique(),
        "tokens_mean": round(float(tokens.mean() or 0), 1),
        "tokens_max": int(tokens.max() or 0),
        "token_limit": chunker.settings().max_tokens,
        "chunker_version": chunker.settings().version(model.model_name),
        "seconds": watch.seconds,
    })
