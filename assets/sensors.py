"""Sensors: keep the tenant partitions in step with the tenant registry."""

import dagster as dg

from assets.partitions import TENANTS_PARTITION, tenants_partitions
from resources import StorageResource


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a tenant partition for every tenant in the configuration file (INGEST_CONFIG) or "
    "registered by `ingest run`, so new tenants appear in the UI without a manual step.",
)
def tenant_registry_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    registered = set(storage.registry().all())
    known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION))
    new = sorted(registered - known)
    if new:
        context.log.info(f"registering tenant partitions: {', '.join(new)}")
    return dg.SensorResult(
        dynamic_partitions_requests=[tenants_partitions.build_add_request(new)] if new else [],
        skip_reason=None if new else "every registered tenant already has a partition",
    )
