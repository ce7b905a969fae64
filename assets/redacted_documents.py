import dagster as dg

from assets.common import report, tenant_stage
from assets.parsed_documents import parsed_documents
from ingest.stages import redact_stage
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
    paths = storage.paths(context.partition_key)
    return report(context, redact_stage(paths, redactor.policy().version, redactor.get))
