"""Shared settings and helpers of the ingestion assets."""

from collections.abc import Callable

import dagster as dg

from assets.partitions import tenants_partitions
from ingest.stages import StageResult

INGESTION_GROUP = "ingestion"


def tenant_stage(**asset_arguments) -> Callable[[Callable], dg.AssetsDefinition]:
    """@dg.asset for a pipeline stage: partitioned by tenant, in the ingestion group."""
    return dg.asset(partitions_def=tenants_partitions, group_name=INGESTION_GROUP, **asset_arguments)


def report(context: dg.AssetExecutionContext, result: StageResult) -> dg.MaterializeResult:
    """Log a stage's lines and return its counts and timings as asset metadata."""
    for line in result.log:
        context.log.info(line)
    metadata = {key: dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
                for key, value in result.metadata.items()}
    return dg.MaterializeResult(metadata=metadata)
