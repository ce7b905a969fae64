"""On-call alerts from finished runs: failed ERROR-severity checks and failed runs.

One alert per failing check per tenant until it recovers, then one resolve
message (the notifier's AlertState remembers which are open). The sensors
below run in the Dagster daemon; `ingest run` calls notify_run too, since a
command-line run may happen with no daemon running. Both are idempotent.
"""

from datetime import UTC, datetime

import dagster as dg

from ingest.alerts.notify import Alert
from ingest.alerts.runbook import next_step
from ingest.core.config import run_url
from resources import NotifierResource

RUN_CHECK = "run"
ALL_TENANTS = "all-tenants"


def _key_numbers(metadata: dict) -> dict:
    numbers = {}
    for key, value in metadata.items():
        raw = getattr(value, "value", value)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            numbers[key] = raw
    return numbers


def run_outcomes(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[tuple[str, str, bool, str, dict]]:
    """(tenant, check, failing, summary, key numbers) for each check evaluated in the run, and the run."""
    tenant = run.tags.get("dagster/partition") or ALL_TENANTS  # the freshness job covers every tenant
    outcomes = []
    for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.get_dagster_event().event_specific_data
        failing = not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        summary = evaluation.description or ("passed" if evaluation.passed else "failed")
        outcomes.append((tenant, evaluation.asset_check_key.name, failing, summary,
                         _key_numbers(evaluation.metadata)))
    if run.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE):
        failed = run.status == dg.DagsterRunStatus.FAILURE
        outcomes.append((tenant, f"{RUN_CHECK}:{run.job_name}", failed,
                         f"run of {run.job_name} {'failed' if failed else 'succeeded'}", {}))
    return outcomes


def notify_run(instance: dg.DagsterInstance, run: dg.DagsterRun, notifier: NotifierResource) -> list[Alert]:
    """Send the alerts and resolutions a finished run calls for; return what was sent."""
    channel, state = notifier.notifier(), notifier.state()
    sent = []
    for tenant, check, failing, summary, numbers in run_outcomes(instance, run):
        runbook_check = RUN_CHECK if check.startswith(f"{RUN_CHECK}:") else check

        def make_alert(action: str, tenant=tenant, check=check, summary=summary, numbers=numbers,
                       runbook_check=runbook_check) -> Alert:
            return Alert(key=f"{tenant}:{check}", action=action, tenant=tenant, check=check,
                         severity="error" if action == "trigger" else "info", summary=summary, details=numbers,
                         run_url=run_url(run.run_id), next_step=next_step(runbook_check, tenant),
                         at=datetime.now(UTC).isoformat(timespec="seconds"))

        alert = state.deliver(channel, f"{tenant}:{check}", failing, make_alert)
        if alert is not None:
            sent.append(alert)
    return sent


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Resolves open alerts when a tenant's checks and runs recover.")
def alerts_on_success(context: dg.RunStatusSensorContext, notifier: NotifierResource) -> None:
    for alert in notify_run(context.instance, context.dagster_run, notifier):
        context.log.info(f"{alert.action} {alert.key}")


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Alerts on-call for failed runs and failed ERROR-severity checks.")
def alerts_on_failure(context: dg.RunFailureSensorContext, notifier: NotifierResource) -> None:
    for alert in notify_run(context.instance, context.dagster_run, notifier):
        context.log.info(f"{alert.action} {alert.key}")
