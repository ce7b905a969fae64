"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

import dagster as dg

import ingest  # noqa: F401  (switches off phoning home before any heavy import)
from assets.alerts import alerts_on_failure, alerts_on_success
from assets.jobs import INGEST_JOB, ingest_tenant_job, ingestion_assets, ingestion_checks, tenant_freshness_job
from assets.schedules import hourly_freshness, nightly_refresh
from assets.sensors import source_change_sensor, tenant_registry_sensor
from resources import default_resources

__all__ = ["INGEST_JOB", "defs", "ingestion_assets"]

defs = dg.Definitions(
    assets=ingestion_assets,
    asset_checks=ingestion_checks,
    jobs=[ingest_tenant_job, tenant_freshness_job],
    schedules=[nightly_refresh, hourly_freshness],
    sensors=[tenant_registry_sensor, source_change_sensor, alerts_on_success, alerts_on_failure],
    resources=default_resources(),
)
