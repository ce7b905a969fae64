"""Submit one tenant's run to a Dagster deployment and wait for it.

The run goes where runs from the UI, schedules and sensors go: the webserver's GraphQL API queues it,
the daemon dequeues it under the instance's concurrency limits (one run per tenant), and the instance's
run launcher places it on a worker (a Celery worker of deploy/local-cluster.sh, a Kubernetes pod). This
process only reads the run's progress and outcome from the instance's storage (PostgreSQL).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from urllib.parse import urlsplit

import dagster as dg

from assets.definitions import INGEST_JOB
from ingest.cli.launching import LaunchFailed, RunOutcome, TenantBusy
from launcher.runs import active_runs, ensure_pool_limits, failure_message, register_tenant_partition, run_outcome

LAUNCHED_BY = "ingest-submit"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# A failed run is retried by the daemon when the instance says so (run_retries): it tags the run
# dagster/will_retry within a few of its polls, then queues a child run.
RETRY_DECISION_SECONDS = 120.0
POLL_SECONDS = 0.5

log = logging.getLogger("ingest")


LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""
FIND_JOB = """
query FindJob {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
    ... on PythonError { message }
  }
}
"""


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    """One request to the webserver's GraphQL API (the one its UI uses); the `data` of the answer."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LaunchFailed(f"INGEST_DAGSTER_URL={url!r} is not a webserver address like http://127.0.0.1:3000")
    request = urllib.request.Request(
        url.rstrip("/") + "/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
    except (OSError, ValueError) as error:  # refused, timed out, not JSON
        raise LaunchFailed(f"cannot reach the Dagster webserver at {url} ({error}); start it "
                           "(deploy/local-cluster.sh up) or unset INGEST_DAGSTER_URL to run in this process") from None
    if answer.get("errors"):
        raise LaunchFailed(f"the Dagster webserver at {url} refused the request: {answer['errors'][0].get('message')}")
    return answer["data"]


def launch_run(url: str, job: str, run_config: dict, tags: dict[str, str]) -> str:
    """Queue a run of `job` at the webserver (wherever its code location is); the run's id."""
    found = graphql(url, FIND_JOB)["repositoriesOrError"]
    homes = [(node["location"]["name"], node["name"]) for node in found.get("nodes", [])
             if any(candidate["name"] == job for candidate in node["jobs"])]
    if not homes:
        raise LaunchFailed(f"the Dagster deployment at {url} has no job {job}: is the code location loaded "
                           f"(see the UI's Deployment page)? {found.get('message', '')}".strip())
    location, repository = homes[0]
    params = {"selector": {"repositoryLocationName": location, "repositoryName": repository, "jobName": job},
              "runConfigData": run_config,
              "executionMetadata": {"tags": [{"key": key, "value": value} for key, value in tags.items()]}}
    launched = graphql(url, LAUNCH_RUN, {"executionParams": params})["launchRun"]
    if launched["__typename"] != "LaunchRunSuccess":
        detail = launched.get("message") or "; ".join(e["message"] for e in launched.get("errors", []))
        raise LaunchFailed(f"the Dagster webserver at {url} did not take the run ({launched['__typename']}): {detail}")
    return launched["run"]["runId"]


def submit_tenant(url: str, tenant: str, run_config: dict, *, wait_seconds: float = 0) -> RunOutcome:
    """Queue the tenant's run at the webserver `url`, wait for it (and for the daemon's retries of it
    after a lost worker), and say how it ended."""
    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    register_tenant_partition(instance, tenant)
    ensure_pool_limits(instance)
    busy = active_runs(instance, tenant)
    if busy and wait_seconds <= 0:
        raise TenantBusy(f"run {busy[0].run_id} of tenant {tenant} is queued or running; wait for it to finish "
                         "(or give `ingest run --wait SECONDS` to queue behind it)")
    run_id = launch_run(url, INGEST_JOB, run_config,
                        {"dagster/partition": tenant, "tenant": tenant, "launched_by": LAUNCHED_BY})
    log.info(f"submitted run {run_id} of tenant {tenant} to {url}")
    final = wait_for_run(instance, run_id, queue_seconds=wait_seconds)
    return run_outcome(instance, tenant, final, time.perf_counter() - started)


def wait_for_run(instance: dg.DagsterInstance, run_id: str, *, queue_seconds: float = 0) -> str:
    """Wait until the run, or the last of the daemon's retries of it, finishes; its id.

    A run still queued after `queue_seconds` (and at least a minute) is left in the queue and reported:
    the deployment may have no free worker, or no daemon."""
    queued_since = time.monotonic()
    status = None
    while True:
        run = instance.get_run_by_id(run_id)
        if run.status != status:
            status = run.status
            log.info(f"run {run_id}: {status.value.lower()}")
        if status == dg.DagsterRunStatus.QUEUED and time.monotonic() - queued_since > max(queue_seconds, 60):
            raise LaunchFailed(f"run {run_id} is still queued: no daemon is dequeuing it, or every worker is busy "
                               "with runs of this tenant (deploy/local-cluster.sh status)")
        if status in FINISHED:
            retry = retry_of(instance, run) if status == dg.DagsterRunStatus.FAILURE else None
            if retry is None:
                return run_id
            log.warning(f"run {run_id} failed ({failure_message(instance, run_id)}); "
                        f"the daemon retries it as run {retry}")
            run_id, status, queued_since = retry, None, time.monotonic()
        time.sleep(POLL_SECONDS)


def retry_of(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """The id of the daemon's retry of a failed run, once it exists; None when it will not be retried."""
    if not instance.run_retries_enabled:
        return None
    deadline = time.monotonic() + RETRY_DECISION_SECONDS
    while time.monotonic() < deadline:
        children = instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": run.run_id}), limit=1)
        if children:
            return children[0].run_id
        if instance.get_run_by_id(run.run_id).tags.get("dagster/will_retry") == "false":
            return None
        time.sleep(POLL_SECONDS)
    return None
