"""Sensors: tenant partitions from the registry, and runs when a source folder changes."""

import json

import dagster as dg

from assets.partitions import TENANTS_PARTITION, tenants_partitions
from ingest.parsing.sources import folder_signature
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


@dg.sensor(
    job_name="ingest_tenant",
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Notices new, changed or deleted files in each tenant's source folder (names, sizes and "
    "modification times) and launches a run for that tenant only. A new tenant's first run comes from "
    "Declarative Automation (on_missing), not from this sensor.",
)
def source_change_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
    seen = json.loads(context.cursor) if context.cursor else {}
    requests = []
    for name, tenant in storage.registry().all().items():
        if not tenant.source.is_dir():
            context.log.warning(f"tenant {name}: source folder {tenant.source} is not reachable")
            continue
        signature = folder_signature(tenant.source)
        # A tenant seen for the first time sets the baseline; its first run comes from its partition's
        # automation condition (on_missing), so the sensor launches only on a change after that.
        if name in seen and seen[name] != signature:
            requests.append(dg.RunRequest(run_key=f"{name}:{signature}", partition_key=name,
                                          tags={"tenant": name, "trigger": "source_change"}))
        seen[name] = signature
    context.update_cursor(json.dumps(seen, sort_keys=True))
    return requests or dg.SkipReason("no source folder changed")
