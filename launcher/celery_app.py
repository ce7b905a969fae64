"""The Celery application the cluster's workers run: `celery -A launcher.celery_app worker`.

Dagster's CeleryRunLauncher (the deployment's dagster.yaml) sends each run to the broker as an
`execute_job` task (`resume_job` to resume one); a worker takes one at a time. The task executes the
run in a process of its own, `dagster api execute_run`, as Dagster's code servers do: the run may start
its parse workers (Celery's pool processes may not have children), a crash or a kill of the run ends
that process only, and the task then fails, which the run launcher's health check reports to run
monitoring. The broker and result backend come from INGEST_CELERY_BROKER_URL and
INGEST_CELERY_BACKEND_URL, the variables the deployment's dagster.yaml names too.
"""

from __future__ import annotations

import os
import subprocess
import sys

from dagster._grpc.types import ExecuteRunArgs, ResumeRunArgs
from dagster._serdes import serialize_value, unpack_value
from dagster_celery.config import DEFAULT_CONFIG, TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME
from dagster_celery.make_app import make_app

BROKER_VARIABLE = "INGEST_CELERY_BROKER_URL"
BACKEND_VARIABLE = "INGEST_CELERY_BACKEND_URL"


class RunProcessFailed(RuntimeError):
    """The process executing a run ended with an error, or was killed."""


app = make_app(app_args={
    "broker": os.environ.get(BROKER_VARIABLE),
    "backend": os.environ.get(BACKEND_VARIABLE),
    "include": [],
    # A run is minutes of work: each worker takes one at a time, so the next tenant goes to another.
    "config_source": {**DEFAULT_CONFIG, "worker_prefetch_multiplier": 1},
    "task_default_queue": "dagster",
})


def run_in_own_process(command: str, args: ExecuteRunArgs | ResumeRunArgs) -> int:
    """`dagster api <command>` for one run, to its end; raises when it fails or is killed."""
    completed = subprocess.run([sys.executable, "-m", "dagster", "api", command, serialize_value(args)],
                               check=False)
    if completed.returncode != 0:
        raise RunProcessFailed(f"run {args.run_id}: `dagster api {command}` exited with {completed.returncode}")
    return completed.returncode


@app.task(bind=True, name=TASK_EXECUTE_JOB_NAME, track_started=True)
def execute_job(_task: object, execute_job_args_packed: object) -> int:
    return run_in_own_process("execute_run", unpack_value(execute_job_args_packed, as_type=ExecuteRunArgs))


@app.task(bind=True, name=TASK_RESUME_JOB_NAME, track_started=True)
def resume_job(_task: object, execute_job_args_packed: object) -> int:
    return run_in_own_process("resume_run", unpack_value(execute_job_args_packed, as_type=ResumeRunArgs))
