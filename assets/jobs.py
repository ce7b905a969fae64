"""Jobs: a tenant's whole ingestion, and its freshness check alone."""

import dagster as dg

from assets.checks import index_freshness, ingestion_checks
from assets.chunks import chunks
from assets.embeddings import embeddings
from assets.enriched_chunks import enriched_chunks
from assets.parsed_documents import parse_and_redact
from assets.published_index import published_index
from assets.qdrant_index import qdrant_index
from assets.source_documents import source_documents

INGEST_JOB = "ingest_tenant"
FRESHNESS_JOB = "tenant_freshness"

# The job's default config; `ingest run` adds its own settings to it (launcher.runs.run_config).
INGEST_JOB_OPS_CONFIG = {"parse_and_redact": {"config": {"load_embedder_early": True}}}

ingestion_assets = [
    source_documents, parse_and_redact, chunks, enriched_chunks, embeddings, qdrant_index,
    published_index,
]

ingest_tenant_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.assets(*ingestion_assets),
    description="Runs one tenant's documents through every stage and its checks, and publishes the index "
    "when the blocking checks pass.",
    # One process per run, wherever the run launcher puts it (this machine, a Celery worker, a pod): the
    # stages parallelise inside (parse workers, embedding threads), and the embedding model loads while
    # documents parse instead of once more in a step process of its own.
    executor_def=dg.in_process_executor,
    config={"ops": INGEST_JOB_OPS_CONFIG},
)

tenant_freshness_job = dg.define_asset_job(
    FRESHNESS_JOB,
    selection=dg.AssetSelection.checks(index_freshness),
    description="Checks how long ago one tenant's index was published.",
)

__all__ = ["FRESHNESS_JOB", "INGEST_JOB", "INGEST_JOB_OPS_CONFIG", "ingestion_assets", "ingestion_checks", "ingest_tenant_job",
           "tenant_freshness_job"]
