import dagster as dg

from assets.common import Stopwatch, tenant_stage
from ingest.manifest import read_manifest
from ingest.sources import source_frame
from ingest.storage import write_parquet
from resources import StorageResource


@tenant_stage(
    kinds={"python", "parquet"},
    description="Every visible file in the tenant's source folder: sha256, type, size, modified time, "
    "and whether it is new, changed or unchanged since the last run.",
)
def source_documents(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    watch = Stopwatch()
    tenant = context.partition_key
    config = storage.registry().get(tenant)
    paths = storage.paths(tenant)
    documents, deleted = source_frame(tenant, config.source, read_manifest(paths.manifest))
    write_parquet(documents, paths.source_documents)
    changes = documents["change"].value_counts()
    counts = dict(zip(changes["change"].to_list(), changes["count"].to_list(), strict=True))
    by_type = documents["file_type"].value_counts().sort("file_type")
    context.log.info(f"{tenant}: {documents.height} documents in {config.source}, {len(deleted)} deleted")
    return dg.MaterializeResult(metadata={
        "source": dg.MetadataValue.path(str(config.source)),
        "seen": documents.height,
        "new": counts.get("new", 0),
        "changed": counts.get("changed", 0),
        "unchanged": counts.get("unchanged", 0),
        "deleted": len(deleted),
        "bytes": int(documents["size"].sum() or 0),
        "file_types": dg.MetadataValue.md(
            "\n".join(f"- {kind}: {n}" for kind, n in by_type.iter_rows()) or "none"),
        "seconds": watch.seconds,
    })
