import dagster as dg

from assets.common import report, tenant_stage
from ingest.parsing.stage import DEFAULT_MAX_DELETE_FRACTION, source_stage
from resources import EmbedderResource, StorageResource


class SourceDocumentsConfig(dg.Config):
    allow_mass_delete: bool = False
    max_delete_fraction: float = DEFAULT_MAX_DELETE_FRACTION


@tenant_stage(
    kinds={"python", "parquet"},
    description="Every visible file in the tenant's source folder: sha256, type, size, modified time, "
    "and whether it is new, changed or unchanged since the last run. Refuses a run that would delete "
    "more than max_delete_fraction of the tenant's documents unless allow_mass_delete is set.",
)
def source_documents(
    context: dg.AssetExecutionContext, config: SourceDocumentsConfig, storage: StorageResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:
    tenant = context.partition_key
    source = storage.registry().get(tenant).source
    paths = storage.paths(tenant)
    with embedder.model_host() as host:  # `ingest host`, when one runs, has the file type detection loaded
        result = source_stage(tenant, source, paths, max_delete_fraction=config.max_delete_fraction,
                              allow_mass_delete=config.allow_mass_delete,
                              detect_type=host.file_type if host else None)
    return report(context, result, table=paths.source_documents)
