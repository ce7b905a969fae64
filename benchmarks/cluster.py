"""What submitting a run through the local cluster costs before its first step starts.

`python -m benchmarks cluster` starts deploy/local-cluster.sh in a throwaway folder on free ports, runs a
small tenant through it several times with `ingest run` (submitted to the webserver, queued, dequeued by
the daemon, handed to a Celery worker that starts the run's process), and reads from the instance when
each run was created, dequeued, started and when its first step began. The same tenant then runs on the
embedded default (the run executes in the `ingest` process) for comparison; both are timed from the
command's start to the first step's start. The cluster is stopped at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.corpus import Section, write_markdown, write_text

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "deploy" / "local-cluster.sh"
INGEST = str(Path(sys.executable).with_name("ingest"))
TARGET_SECONDS = 10.0
# Settings of the calling environment that would point the commands at other state.
FOREIGN = ("DAGSTER_HOME", "INGEST_HOME", "INGEST_CONFIG", "INGEST_DAGSTER_PG_URL", "INGEST_DAGSTER_URL",
           "INGEST_UI_URL", "INGEST_CELERY_BROKER_URL", "INGEST_CELERY_BACKEND_URL", "QDRANT_URL", "QDRANT_API_KEY")


def free_ports(count: int) -> list[int]:
    """`count` ports on loopback that nothing listens on now (for the cluster's parts)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def parse_exports(exports: str) -> dict[str, str]:
    """The variables of `deploy/local-cluster.sh env`'s `export NAME="value"` lines."""
    found = {}
    for line in exports.splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        found[name] = value.strip('"')
    return found


def _write_tenant(folder: Path) -> Path:
    write_markdown(folder / "guide.md", [Section("Guide", ("Snow chains are fitted from November.",
                                                           "Opening hours are nine to five."))])
    write_text(folder / "notes.txt", [Section("Notes", ("The office closes for the season in April.",))])
    return folder


def _first_step_timeline(env: dict[str, str], run_id: str) -> dict[str, float]:
    """Seconds since the epoch of the run's creation, dequeue, start and first step, read from its instance."""
    code = f"""
import json, dagster as dg
from launcher.instance import prepare_dagster_home
prepare_dagster_home()
instance = dg.DagsterInstance.get()
record = instance.get_run_record_by_id({run_id!r})
found = {{"created": record.create_timestamp.timestamp()}}
names = {{"PIPELINE_STARTING": "dequeued", "PIPELINE_START": "started", "STEP_START": "first_step"}}
for entry in instance.all_logs({run_id!r}):
    name = names.get(entry.dagster_event.event_type_value) if entry.dagster_event else None
    if name and name not in found:
        found[name] = entry.timestamp
print(json.dumps(found))
"""
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                               check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _timed_run(env: dict[str, str], *args: str) -> tuple[dict, float]:
    """`ingest run ... --json` to its end: the summary and the wall-clock time it was started at."""
    began = time.time()
    completed = subprocess.run([INGEST, "run", *args, "--json"], capture_output=True, text=True, env=env)
    if completed.returncode != 0:
        raise RuntimeError(f"ingest run exited {completed.returncode}: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1]), began


def measure(runs: int, log: Callable[[str], None]) -> dict:
    """Start a cluster, time `runs` submissions and as many embedded runs, stop the cluster; the figures."""
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-cluster-"))
    work.chmod(0o755)  # PostgreSQL runs as its own user when this runs as root
    base = {key: value for key, value in os.environ.items() if key not in FOREIGN}
    ports = dict(zip(("CLUSTER_PG_PORT", "CLUSTER_REDIS_PORT", "CLUSTER_CODE_PORT", "CLUSTER_UI_PORT"),
                     map(str, free_ports(4))))
    script_env = {**base, "CLUSTER_HOME": str(work / "cluster"), **ports}
    source = _write_tenant(work / "source")
    try:
        began = time.monotonic()
        subprocess.run(["bash", str(SCRIPT), "up"], env=script_env, check=True, capture_output=True, text=True)
        up_seconds = time.monotonic() - began
        log(f"cluster: up in {up_seconds:.1f} s")
        exports = subprocess.run(["bash", str(SCRIPT), "env"], env=script_env, check=True, capture_output=True,
                                 text=True).stdout
        client = {**base, **parse_exports(exports)}
        cluster_runs = []
        for number in range(runs):
            summary, started = _timed_run(client, "--tenant", "bench", *(["--source", str(source)] if number == 0 else []))
            timeline = _first_step_timeline(client, summary["run_id"])
            cluster_runs.append({
                "worker": summary["worker"],
                "command_to_first_step": timeline["first_step"] - started,
                "submit_to_first_step": timeline["first_step"] - timeline["created"],
                "queued": timeline["dequeued"] - timeline["created"],
                "dequeued_to_run_start": timeline["started"] - timeline["dequeued"],
                "run_start_to_first_step": timeline["first_step"] - timeline["started"],
            })
            log(f"cluster: run {number + 1}/{runs}: first step {cluster_runs[-1]['submit_to_first_step']:.2f} s "
                f"after submission, on {summary['worker']}")
    finally:
        subprocess.run(["bash", str(SCRIPT), "down"], env=script_env, capture_output=True, text=True)
    embedded_env = {**base, "INGEST_HOME": str(work / "embedded")}
    embedded_runs = []
    try:
        for number in range(runs):
            summary, started = _timed_run(embedded_env, "--tenant", "bench",
                                          *(["--source", str(source)] if number == 0 else []))
            timeline = _first_step_timeline(embedded_env, summary["run_id"])
            embedded_runs.append({"command_to_first_step": timeline["first_step"] - started})
            log(f"embedded: run {number + 1}/{runs}: first step {embedded_runs[-1]['command_to_first_step']:.2f} s "
                "after the command started")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summarise(up_seconds, cluster_runs, embedded_runs)


def summarise(up_seconds: float, cluster_runs: list[dict], embedded_runs: list[dict]) -> dict:
    """Medians and maxima of the timings; whether the submission target is met (judged on the maximum)."""
    def stats(rows: list[dict], key: str) -> dict[str, float]:
        values = [row[key] for row in rows]
        return {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}

    submit = stats(cluster_runs, "submit_to_first_step")
    cluster_command = stats(cluster_runs, "command_to_first_step")
    embedded_command = stats(embedded_runs, "command_to_first_step")
    return {
        "runs": len(cluster_runs),
        "up_seconds": round(up_seconds, 1),
        "workers": sorted({row["worker"] for row in cluster_runs}),
        "submit_to_first_step": submit,
        "queued": stats(cluster_runs, "queued"),
        "dequeued_to_run_start": stats(cluster_runs, "dequeued_to_run_start"),
        "run_start_to_first_step": stats(cluster_runs, "run_start_to_first_step"),
        "cluster_command_to_first_step": cluster_command,
        "embedded_command_to_first_step": embedded_command,
        "added_by_the_cluster": round(cluster_command["median"] - embedded_command["median"], 2),
        "target": {"submit_to_first_step_max_seconds": TARGET_SECONDS, "met": submit["max"] <= TARGET_SECONDS},
    }


def format_report(result: dict) -> str:
    rows = [
        ("cluster up, s", f"{result['up_seconds']}"),
        ("submission to first step, s (median / max)", _pair(result["submit_to_first_step"])),
        ("  queued (until the daemon dequeued and launched it)", _pair(result["queued"])),
        ("  dequeued to run start (Celery, the run's process)", _pair(result["dequeued_to_run_start"])),
        ("  run start to first step", _pair(result["run_start_to_first_step"])),
        ("command start to first step, cluster", _pair(result["cluster_command_to_first_step"])),
        ("command start to first step, embedded", _pair(result["embedded_command_to_first_step"])),
        ("added by the cluster (medians), s", f"{result['added_by_the_cluster']}"),
        (f"target: first step within {TARGET_SECONDS:.0f} s of submission", "met" if result["target"]["met"]
         else "not met"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def _pair(values: dict[str, float]) -> str:
    return f"{values['median']:.2f} / {values['max']:.2f}"
