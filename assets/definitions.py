"""The one Definitions object: assets, the per-tenant job, sensors and resources."""

import dagster as dg

import ingest  # noqa: F401  (switches off phoning home before any heavy import)
from assets.chunks import chunks
from assets.embeddings import embeddings
from assets.enriched_chunks import enriched_chunks
from assets.parsed_documents import parsed_documents
from assets.qdrant_index import qdrant_index
from assets.redacted_documents import redacted_documents
from assets.sensors import tenant_registry_sensor
from assets.source_documents import source_documents
from resources import default_resources

INGEST_JOB = "ingest_tenant"

ingestion_assets = [
    source_documents, parsed_documents, redacted_documents, chunks, enriched_chunks, embeddings, qdrant_index,
]

ingest_tenant_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.assets(*ingestion_assets),
    description="Runs one tenant's documents through every stage into its Qdrant collection.",
)

defs = dg.Definitions(
    assets=ingestion_assets,
    jobs=[ingest_tenant_job],
    sensors=[tenant_registry_sensor],
    resources=default_resources(),
)
