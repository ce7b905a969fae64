import dagster as dg
import polars as pl

from assets.common import Stopwatch, tenant_stage
from assets.parsed_documents import parsed_documents
from ingest.redact import redact_elements
from ingest.storage import read_parquet, write_parquet
from resources import RedactorResource, StorageResource


@tenant_stage(
    deps=[parsed_documents],
    kinds={"python", "parquet"},
    description="Elements with PII replaced by typed placeholders such as <PERSON>; counts per entity "
    "type per document (never the values).",
)
def redacted_documents(
    context: dg.AssetExecutionContext, storage: StorageResource, redactor: RedactorResource
) -> dg.MaterializeResult:
    watch = Stopwatch()
    paths = storage.paths(context.partition_key)
    elements = read_parquet(paths.elements)
    characters = int(elements["text"].str.len_chars().sum() or 0)
    context.log.info(f"redacting {elements.height} elements ({characters} characters)")
    redacted, counts = redact_elements(elements, redactor.get())
    write_parquet(redacted, paths.redacted_elements)
    write_parquet(counts, paths.redactions)
    totals = counts.group_by("entity_type").agg(pl.col("count").sum()).sort("entity_type")
    seconds = watch.seconds
    return dg.MaterializeResult(metadata={
        "elements": redacted.height,
        "characters": characters,
        "characters_per_second": round(characters / seconds, 1) if seconds else 0.0,
        "entities_redacted": int(counts["count"].sum() or 0),
        "entities_by_type": dg.MetadataValue.json(
            {row["entity_type"]: row["count"] for row in totals.iter_rows(named=True)}),
        "documents_with_pii": counts["doc_id"].n_unique() if counts.height else 0,
        "policy_version": redactor.policy().version,
        "seconds": seconds,
    })
