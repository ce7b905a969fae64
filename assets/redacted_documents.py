import dagster as dg

from assets.common import report, tenant_stage
from assets.parsed_documents import parsed_documents
from ingest.stages import redact_stage
from resources import RedactorResource, StorageResource


@tenant_stage(
    deps=[parsed_documents],
    kinds={"python", "parquet"},
    description="Elements with PII replaced under the tenant's redaction policy (typed placeholders such "
    "as <PERSON>, masks, salted hashes or nothing); the audit per document: counts by entity type, policy "
    "version and recogniser set (never the values).",
)
def redacted_documents(
    context: dg.AssetExecutionContext, storage: StorageResource, redactor: RedactorResource
) -> dg.MaterializeResult:
    tenant = context.partition_key
    policy = redactor.policy(storage.registry().get(tenant))
    return report(context, redact_stage(storage.paths(tenant), policy.version, lambda: redactor.get(policy),
                                        recognizer_set=policy.recognizer_set))
