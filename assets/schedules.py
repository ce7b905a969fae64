"""Schedules: the nightly refresh of every tenant, and the hourly freshness check."""

from datetime import UTC, datetime

import dagster as dg

from assets.jobs import FRESHNESS_JOB, INGEST_JOB
from resources import StorageResource


@dg.schedule(
    job_name=INGEST_JOB,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour, refreshes the tenants whose refresh_hour (UTC, default 2) is this hour; "
    "set refresh_hour per tenant in the configuration file, or leave it out to refresh nightly at 02:00.",
)
def nightly_refresh(context: dg.ScheduleEvaluationContext, storage: StorageResource):
    hour = (context.scheduled_execution_time or datetime.now(UTC)).astimezone(UTC).hour
    due = [tenant for tenant in storage.registry().all().values() if tenant.refresh_hour == hour]
    if not due:
        return dg.SkipReason(f"no tenant refreshes at {hour:02d}:00 UTC")
    stamp = (context.scheduled_execution_time or datetime.now(UTC)).strftime("%Y-%m-%dT%H")
    return [dg.RunRequest(run_key=f"{tenant.name}:{stamp}", partition_key=tenant.name,
                          tags={"tenant": tenant.name, "trigger": "nightly_refresh"}) for tenant in due]


@dg.schedule(
    job_name=FRESHNESS_JOB,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour, checks how long ago each tenant's index was published.",
)
def hourly_freshness(context: dg.ScheduleEvaluationContext):
    stamp = (context.scheduled_execution_time or datetime.now(UTC)).strftime("%Y-%m-%dT%H")
    return dg.RunRequest(run_key=stamp)
