"""Shared settings and helpers of the ingestion assets."""

import functools
import inspect
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl

from assets.partitions import tenants_partitions
from ingest.core.config import TenantConfig, retry_delay_seconds
from ingest.core.errors import ConfigError, ModelNotAvailable
from ingest.core.stage import StageResult
from ingest.index.stage import InjectedFault
from ingest.parsing.ocr import OcrUnavailable
from ingest.parsing.stage import MassDeleteRefused
from resources import ChunkerResource, EmbedderResource, ParserResource, RedactorResource

INGESTION_GROUP = "ingestion"
OWNERS = ["team:ingestion"]
# Concurrency pools (limits in dagster.yaml, `concurrency: pools`): the steps that keep both cores busy.
# Runs of different tenants proceed side by side, but never parse or embed at the same time.
PARSE_POOL = "parse_and_redact"
EMBED_POOL = "embed"
# A tenant's partition added to the instance (by `ingest run`, or the registry sensor for tenants in the
# configuration file) is materialised by Dagster's automation sensor: every stage is missing, and the
# whole graph is requested in one run. Later refreshes come from the schedule and the source sensor.
NEW_TENANT = dg.AutomationCondition.on_missing()


# Transient failures (a Qdrant server restarting, a full disk freed) are retried with backoff, first after
# INGEST_RETRY_DELAY_SECONDS (default 10). Documents that cannot be parsed never fail a step: they are
# quarantined.
TRANSIENT_RETRIES = dg.RetryPolicy(max_retries=2, delay=retry_delay_seconds(), backoff=dg.Backoff.EXPONENTIAL,
                                   jitter=dg.Jitter.PLUS_MINUS)
# Failures that a retry cannot fix: wrong settings, a refused mass deletion, a missing model or tool;
# and the test hook's simulated crash, which stands for a killed process (nothing retries that).
PERMANENT_ERRORS = (ConfigError, MassDeleteRefused, ModelNotAvailable, OcrUnavailable, FileNotFoundError,
                    InjectedFault)


@contextmanager
def _permanent_errors_fail_for_good() -> Iterator[None]:
    try:
        yield
    except PERMANENT_ERRORS as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error


def tenant_stage(*, specs: list[dg.AssetSpec] | None = None,
                 **asset_arguments) -> Callable[[Callable], dg.AssetsDefinition]:
    """@dg.asset for a pipeline stage (@dg.multi_asset when given specs): partitioned by tenant, in the
    ingestion group, retried on transient failures only."""

    def decorate(compute: Callable) -> dg.AssetsDefinition:
        if inspect.isgeneratorfunction(compute):  # a multi-asset yields its results
            @functools.wraps(compute)
            def guarded(*args, **kwargs):
                with _permanent_errors_fail_for_good():
                    yield from compute(*args, **kwargs)
        else:
            @functools.wraps(compute)
            def guarded(*args, **kwargs):
                with _permanent_errors_fail_for_good():
                    return compute(*args, **kwargs)

        if specs is not None:
            owned = [spec.replace_attributes(owners=OWNERS, automation_condition=NEW_TENANT) for spec in specs]
            return dg.multi_asset(specs=owned, partitions_def=tenants_partitions, group_name=INGESTION_GROUP,
                                  retry_policy=TRANSIENT_RETRIES, **asset_arguments)(guarded)
        return dg.asset(partitions_def=tenants_partitions, group_name=INGESTION_GROUP, owners=OWNERS,
                        automation_condition=NEW_TENANT, retry_policy=TRANSIENT_RETRIES,
                        **asset_arguments)(guarded)

    return decorate


def report(context: dg.AssetExecutionContext, result: StageResult, asset_key: dg.AssetKey | None = None, *,
           table: Path | None = None) -> dg.MaterializeResult:
    """Log a stage's lines and return its counts and timings as asset metadata (of `asset_key` when
    one step materialises several assets), with Dagster's standard keys for the stage's `table`."""
    for line in result.log:
        context.log.info(line)
    metadata = {key: dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
                for key, value in result.metadata.items()}
    if table is not None and table.is_file():
        metadata.update(table_metadata(table))
    # Which process executed the step: this machine's `ingest run`, or a worker of a cluster.
    metadata["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return dg.MaterializeResult(asset_key=asset_key, metadata=metadata)


def table_metadata(path: Path) -> dict[str, object]:
    """The partition's row count and the column schema of a stage's parquet file, under Dagster's standard
    metadata keys (the UI shows them on the asset's page), and where the file is."""
    schema = pl.read_parquet_schema(path)
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    return {
        "dagster/partition_row_count": int(rows),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in schema.items()]),
        "dagster/uri": path.resolve().as_uri(),
    }


def stage_versions(tenant: TenantConfig, parser: ParserResource, redactor: RedactorResource,
                   chunker: ChunkerResource, embedder: EmbedderResource) -> dict[str, str]:
    """The settings versions every point and manifest row records."""
    return {
        "parser_version": f"{parser.settings().version}/{parser.limits().version}",
        "redaction_policy": redactor.policy(tenant).version,
        "chunker_version": chunker.settings().version(embedder.model_name),
        "embedding_model": embedder.model_name,
    }
