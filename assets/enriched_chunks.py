import dagster as dg
import polars as pl

from assets.chunks import chunks
from assets.common import Stopwatch, tenant_stage
from ingest.enrich import enrich_chunks
from ingest.parse import elements_by_document
from ingest.storage import read_parquet, write_parquet
from resources import StorageResource


@tenant_stage(
    deps=[chunks],
    kinds={"python", "parquet"},
    description="Chunks with metadata for filtering and citation: title, section, pages, file type, "
    "language, source modified time, OCR flag; plus deterministic point ids.",
)
def enriched_chunks(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    watch = Stopwatch()
    tenant = context.partition_key
    paths = storage.paths(tenant)
    enriched = enrich_chunks(
        tenant,
        read_parquet(paths.chunks),
        read_parquet(paths.source_documents),
        read_parquet(paths.parsed_documents),
        elements_by_document(read_parquet(paths.redacted_elements)),
    )
    write_parquet(enriched, paths.enriched_chunks)
    languages = enriched.group_by("doc_id").agg(pl.col("language").first())["language"].value_counts()
    return dg.MaterializeResult(metadata={
        "chunks": enriched.height,
        "ocr_chunks": int(enriched["ocr"].sum() or 0),
        "languages": dg.MetadataValue.json(dict(languages.iter_rows())),
        "seconds": watch.seconds,
    })
