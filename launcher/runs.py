"""Launch one tenant's ingestion run on the persistent Dagster instance.

The `ingest run` command calls this (through launcher.main), so every run it makes also shows in
the Dagster UI opened on the same DAGSTER_HOME.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime

import dagster as dg
from filelock import FileLock, Timeout

from assets.alerts import notify_run
from assets.common import EMBED_POOL, PARSE_POOL
from assets.definitions import INGEST_JOB, defs
from assets.jobs import INGEST_JOB_OPS_CONFIG
from assets.partitions import TENANTS_PARTITION
from ingest.cli.launching import RunOutcome, TenantBusy
from ingest.core.config import run_url
from resources import StorageResource, default_resources


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    """What went wrong in a run, from its event log: a blocking check's own words, else each failed step's
    innermost error (not Dagster's wrapper)."""
    messages = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.asset_check_evaluation_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            messages.append(f"{evaluation.asset_check_key.name} failed: {evaluation.description}")
    if messages:  # a blocking check stopped the run: its own words say more than the step error
        return "; ".join(messages)
    for entry in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_FAILURE,
                                                    dg.DagsterEventType.RUN_FAILURE}):
        event = entry.dagster_event
        error = event.step_failure_data.error if event.is_step_failure else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            messages.append(f"{event.step_key}: {error.message.strip()}")
        elif not event.is_step_failure and event.message and not messages:
            messages.append(event.message.strip())  # the run failed outside any step (its worker died ...)
    return "; ".join(messages) or "the run failed; see the Dagster UI for its event log"


def run_outcome(instance: dg.DagsterInstance, tenant: str, run_id: str, seconds: float) -> RunOutcome:
    """How a finished run ended, read from the instance's event log (wherever the run executed).

    A retry of a run that lost its worker re-executes only the steps that had not finished: the counts
    of the steps its earlier attempts did come from those attempts."""
    run = instance.get_run_by_id(run_id)
    success = run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    metadata, worker = {}, None
    for attempt in retry_chain(instance, run_id):
        for entry in instance.all_logs(attempt, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            materialization = entry.dagster_event.event_specific_data.materialization
            values = {key: value.value for key, value in materialization.metadata.items()}
            if attempt == run_id:
                worker = values.get("worker", worker)
            # The stages' own counts and timings; Dagster's standard keys (dagster/...) describe the files.
            metadata[materialization.asset_key.path[-1]] = {
                key: value for key, value in values.items() if not key.startswith("dagster/") and key != "worker"}
    error = None if success else failure_message(instance, run_id)
    return RunOutcome(tenant, run_id, success, seconds, metadata, error, worker)


def retry_chain(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The run's earlier attempts (the daemon's retries name their parent), oldest first, then the run."""
    chain = [run_id]
    while (parent := instance.get_run_by_id(chain[0]).tags.get("dagster/parent_run_id")) and len(chain) < 20:
        chain.insert(0, parent)
    return chain


def run_config(log_level: str, allow_mass_delete: bool) -> dict:
    """The ingestion job's run config for one run: the job's own default, with these settings."""
    return {
        "loggers": {"console": {"config": {"log_level": log_level}}},
        "ops": {**INGEST_JOB_OPS_CONFIG, "source_documents": {"config": {"allow_mass_delete": allow_mass_delete}}},
    }


def register_tenant_partition(instance: dg.DagsterInstance, tenant: str) -> None:
    if not instance.has_dynamic_partition(TENANTS_PARTITION, tenant):
        instance.add_dynamic_partitions(TENANTS_PARTITION, [tenant])


def run_tenant(tenant: str, *, log_level: str = "INFO", allow_mass_delete: bool = False,
               wait_seconds: float = 0) -> RunOutcome:
    """Materialise every stage for one tenant in this process, recorded on the instance.

    Runs of one tenant serialise: a second one waits up to `wait_seconds` for the first to finish,
    then refuses (TenantBusy)."""
    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    register_tenant_partition(instance, tenant)
    job = defs.resolve_job_def(INGEST_JOB)
    storage = default_resources()["storage"]
    paths = storage.paths(tenant)
    paths.root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(paths.run_lock)
    try:
        try:
            lock.acquire(timeout=0)  # one run per tenant at a time; the UI's runs queue by tenant instead
        except Timeout:
            if wait_seconds <= 0:
                raise
            logging.getLogger("ingest").warning(
                f"another run of tenant {tenant} is in progress: waiting up to {wait_seconds:.0f} s for it")
            lock.acquire(timeout=wait_seconds)
    except Timeout:
        raise TenantBusy(f"another run of tenant {tenant} is in progress; wait for it to finish "
                         "(or give `ingest run --wait SECONDS`)") from None
    try:
        ensure_pool_limits(instance)
        for dead in release_dead_runs(instance, tenant, storage):
            logging.getLogger("ingest").warning(f"run {dead} ended with its process: marked failed, pool slots freed")
        wait_while_tenant_runs_elsewhere(instance, tenant, wait_seconds)
        result = job.execute_in_process(
            partition_key=tenant, instance=instance, raise_on_error=False,
            run_config=run_config(log_level, allow_mass_delete), tags={"tenant": tenant, "launched_by": LAUNCHED_BY})
    finally:
        lock.release()
    _send_alerts(instance, result.run_id)
    return run_outcome(instance, tenant, result.run_id, time.perf_counter() - started)


def submission_url() -> str | None:
    """The Dagster webserver runs are submitted to (INGEST_DAGSTER_URL), or None to execute in this process."""
    return os.environ.get("INGEST_DAGSTER_URL") or None


ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED]


def active_runs(instance: dg.DagsterInstance, tenant: str) -> list[dg.DagsterRun]:
    """The tenant's runs queued or running anywhere this instance knows of (this machine, the queue, workers)."""
    return list(instance.get_runs(dg.RunsFilter(statuses=ACTIVE, tags={"dagster/partition": tenant})))


def wait_while_tenant_runs_elsewhere(instance: dg.DagsterInstance, tenant: str, wait_seconds: float) -> None:
    """Wait up to `wait_seconds` while a run of the tenant from the UI, a schedule or a worker is queued or
    running, then refuse (TenantBusy). The file lock does not see those runs (they may execute on another
    machine); the instance does."""
    deadline = time.monotonic() + wait_seconds
    while others := [run.run_id for run in active_runs(instance, tenant)
                     if run.tags.get("launched_by") != LAUNCHED_BY]:
        if time.monotonic() >= deadline:
            raise TenantBusy(f"run {others[0]} of tenant {tenant} is queued or running on this Dagster instance; "
                             "wait for it to finish (see it in the Dagster UI) or give `ingest run --wait SECONDS`")
        time.sleep(2)


LAUNCHED_BY = "ingest-cli"
POOLS = (PARSE_POOL, EMBED_POOL)
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def ensure_pool_limits(instance: dg.DagsterInstance) -> None:
    """Create the concurrency pools' limits (dagster.yaml's default) before any step claims a slot.

    Dagster creates a pool's limit on its first claim; two runs starting together (two tenants on
    PostgreSQL, or two machines) would both insert it and one would fail on the unique key. Here a
    second insert that loses the race is harmless: the limit is there either way."""
    for pool in POOLS:
        if pool in instance.event_log_storage.get_concurrency_keys():
            continue
        try:
            instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
        except Exception:
            if pool not in instance.event_log_storage.get_concurrency_keys():
                raise


def release_dead_runs(instance: dg.DagsterInstance, tenant: str, storage: StorageResource) -> list[str]:
    """Runs that `ingest run` started whose process died (killed, or the machine lost): marked failed and
    their concurrency-pool slots freed, so no later run waits for a slot nobody will give back.

    Called with `tenant`'s lock held, so no run of `tenant` is alive; a run of another tenant is dead when
    that tenant's lock is free. Runs launched by the daemon are left to its run monitoring."""
    released = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED, tags={"launched_by": LAUNCHED_BY})):
        run = record.dagster_run
        owner = run.tags.get("tenant")
        if owner is None:
            continue
        if owner != tenant and storage.paths(owner).root.is_dir():
            other = FileLock(storage.paths(owner).run_lock)
            try:
                other.acquire(timeout=0)
            except Timeout:
                continue  # that tenant's run is alive
            other.release()
        instance.report_run_failed(run, "the process running it ended before the run finished (killed or crashed)")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released


def _send_alerts(instance: dg.DagsterInstance, run_id: str) -> None:
    """Alerts for this run now, in case no Dagster daemon is running (the sensors do it otherwise)."""
    notifier = default_resources()["notifier"].process_config_and_initialize()
    try:
        for alert in notify_run(instance, instance.get_run_by_id(run_id), notifier):
            logging.getLogger("ingest").warning(f"alert {alert.action}: {alert.key}: {alert.summary}")
    except Exception as error:  # a broken alert channel must not hide the run's own outcome
        logging.getLogger("ingest").error(f"could not deliver alerts: {error}")


def describe_run(run_id: str) -> dict:
    """A run's status and times from the instance, with its address in the UI."""
    instance = dg.DagsterInstance.get()
    url = run_url(run_id)
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return {"run_id": run_id, "status": "unknown to this Dagster instance", "started": None, "ended": None,
                "url": url}

    def when(timestamp: float | None) -> str | None:
        return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds") if timestamp else None

    return {"run_id": run_id, "status": record.dagster_run.status.value, "started": when(record.start_time),
            "ended": when(record.end_time), "url": url}
