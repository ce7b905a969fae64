"""The local cluster: Dagster's production topology on this machine, started and stopped by the tests.

`deploy/local-cluster.sh up` starts PostgreSQL, Redis, the code server, the webserver, the daemon and two
Celery workers in a throwaway CLUSTER_HOME on free ports; `ingest run` then submits through the webserver
(INGEST_DAGSTER_URL), and the runs execute on the workers. The module ends with `down` and checks that no
process of the cluster is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks.cluster import free_ports, parse_exports
from benchmarks.corpus import Section, write_markdown, write_text
from ingest.core.manifest import read_manifest
from ingest.core.storage import TenantPaths
from launcher.submit import LAUNCHED_BY as SUBMITTED
from launcher.submit import graphql
from tests.e2e.commands import environment, served_points, start

pytestmark = pytest.mark.e2e
# The cluster's tests start seven services and five runs: minutes on two cores, so `make test-all` runs
# them and `make test` leaves them out (tests/e2e/test_postgres_concurrency.py covers PostgreSQL there).
in_the_cluster = pytest.mark.extended

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local-cluster.sh"
PORT_VARIABLES = ("CLUSTER_PG_PORT", "CLUSTER_REDIS_PORT", "CLUSTER_CODE_PORT", "CLUSTER_UI_PORT")


def _script(cluster: dict, command: str, extra: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    completed = subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=600,
                               env={**cluster["script_env"], **(extra or {})})
    if check and completed.returncode != 0:
        raise AssertionError(f"local-cluster.sh {command} exited {completed.returncode}:\n{completed.stderr[-3000:]}")
    return completed


def _processes_of(home: Path) -> list[str]:
    """Command lines of live processes that name the cluster's folder (each part is started with it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if str(home) in command or str(home).encode() in environ:
            found.append(f"{entry.name}: {command}")
    return found


@pytest.fixture(scope="module")
def cluster():
    home = Path(tempfile.mkdtemp(prefix="ingest-cluster-"))
    home.chmod(0o755)  # PostgreSQL runs as its own user when the tests run as root
    script_env = {**environment(home / "unused"), "CLUSTER_HOME": str(home),
                  **dict(zip(PORT_VARIABLES, map(str, free_ports(len(PORT_VARIABLES)))))}
    script_env.pop("INGEST_HOME")
    state = {"home": home, "script_env": script_env}
    try:
        _script(state, "up")
        client = parse_exports(_script(state, "env").stdout)
        state["client_env"] = {**environment(Path(client["INGEST_HOME"])), **client}
        state["ingest_home"] = Path(client["INGEST_HOME"])
        yield state
    finally:
        _script(state, "down", check=False)
        shutil.rmtree(home, ignore_errors=True)


def _tenant(cluster: dict, name: str, topic: str) -> Path:
    folder = cluster["home"] / "sources" / name
    write_markdown(folder / "guide.md", [Section("Guide", (topic, "Opening hours are nine to five."))])
    write_text(folder / "notes.txt", [Section("Notes", (f"{name} office notes for the season.",))])
    return folder


def _submit(cluster: dict, *args: str) -> subprocess.Popen:
    return start("run", *args, "--json", env=cluster["client_env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return {**json.loads(out.strip().splitlines()[-1]), "stderr": err}


@pytest.fixture(scope="module")
def instance(cluster):
    """The cluster's Dagster instance (its PostgreSQL), read from this process."""
    import dagster as dg

    with pytest.MonkeyPatch.context() as scoped:
        for key in ("DAGSTER_HOME", "INGEST_DAGSTER_PG_URL"):
            scoped.setenv(key, cluster["client_env"][key])
        with dg.DagsterInstance.get() as opened:
            yield opened


def _graphql_status(cluster: dict, run_id: str) -> str:
    """The run's status as the webserver shows it."""
    query = "query Status($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
    return graphql(cluster["client_env"]["INGEST_DAGSTER_URL"], query, {"id": run_id})["runOrError"]["status"]


TOPICS = {"north": "Snow chains are fitted from November.", "south": "Sun cream is sold at the front desk.",
          "east": "Kayaks are rented by the hour."}


@pytest.fixture(scope="module")
def busy_cluster(cluster, instance) -> dict:
    """Three tenants submitted at once, and a second run of one of them; meanwhile the process executing
    east's run is killed with SIGKILL in its parse step, and the webserver and the daemon are killed and
    started again. What the clients printed and what the instance recorded."""
    import dagster as dg

    sources = {name: _tenant(cluster, name, topic) for name, topic in TOPICS.items()}
    for number in range(6):  # east is longer, so that its parse step is still going when it is killed
        write_markdown(sources["east"] / f"extra-{number}.md",
                       [Section(f"Extra {number}", (f"Room {number} has a view of the lake.",) * 3)])
    clients = {name: _submit(cluster, "--tenant", name, "--source", str(source)) for name, source in sources.items()}
    clients["north again"] = _submit(cluster, "--tenant", "north", "--source", str(sources["north"]),
                                     "--wait", "600")
    killed, restart = None, None
    deadline = time.monotonic() + 400
    while (killed is None or restart is None) and time.monotonic() < deadline:
        runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(tags={"launched_by": SUBMITTED}))}
        for run in runs.values():
            steps = {entry.step_key for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)}
            if killed is None and run.tags["tenant"] == "east" and "parse_and_redact" in steps:
                started = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)[0]
                os.kill(started.dagster_event.pid, signal.SIGKILL)  # the process executing the run
                killed = run.run_id
        if killed and restart is None and len(runs) >= len(clients):  # every client has submitted
            for name in ("webserver", "daemon"):
                os.killpg(int((cluster["home"] / "pids" / f"{name}.pid").read_text()), signal.SIGKILL)
            restart = _script(cluster, "up")
        time.sleep(0.2)
    summaries = {name: _finish(client) for name, client in clients.items()}
    return {"summaries": summaries, "killed": killed, "restart": restart}


@in_the_cluster
def test_three_tenants_submitted_at_once_run_on_both_workers_and_show_in_the_webserver(cluster, busy_cluster):
    summaries = busy_cluster["summaries"]
    assert all(s["docs"]["quarantined"] == 0 for s in summaries.values())
    # each tenant's points were written by one of its runs (north's by whichever of its two ran first)
    assert all(s["points"]["upserted"] > 0 for s in (summaries["south"], summaries["east"]))
    assert summaries["north"]["points"]["upserted"] + summaries["north again"]["points"]["upserted"] > 0
    workers = {s["worker"] for s in summaries.values()}
    assert len(workers) >= 2, workers  # the queue handed the runs to both workers
    assert all(int(worker.rsplit(":", 1)[1]) > 0 for worker in workers)
    assert {_graphql_status(cluster, s["run_id"]) for s in summaries.values()} == {"SUCCESS"}
    for name, topic in TOPICS.items():
        texts = " ".join(point["text"] for point in served_points(cluster["ingest_home"], name).values())
        assert topic in texts and all(other not in texts for other in TOPICS.values() if other != topic)


@in_the_cluster
def test_a_worker_killed_mid_run_is_failed_retried_and_the_index_converges(cluster, instance, busy_cluster):
    import dagster as dg

    killed, summary = busy_cluster["killed"], busy_cluster["summaries"]["east"]
    assert killed, "east's run never reached parse_and_redact"
    assert summary["run_id"] != killed and f"retries it as run {summary['run_id']}" in summary["stderr"]
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(summary["run_id"]).tags["dagster/parent_run_id"] == killed
    assert summary["docs"]["seen"] == 8 and summary["docs"]["quarantined"] == 0
    manifest = read_manifest(TenantPaths.for_tenant(cluster["ingest_home"], "east").manifest).to_dicts()
    assert len(manifest) == 8 and all(d["status"] == "indexed" for d in manifest)
    points = served_points(cluster["ingest_home"], "east")  # asserts no point id is served twice
    assert len(points) == sum(d["chunks"] for d in manifest)  # none lost, none left over
    assert {p["source"] for p in points.values()} == {d["source"] for d in manifest}


@in_the_cluster
def test_the_webserver_and_the_daemon_restarted_mid_run_lose_nothing(instance, busy_cluster):
    restart = busy_cluster["restart"]
    assert restart is not None, "the webserver and the daemon were never restarted"
    assert "webserver: starting" in restart.stderr and "daemon: starting" in restart.stderr
    assert "worker-1: already running" in restart.stderr
    # every run but the killed one finished as submitted: none was lost or run twice
    retried = [name for name, s in busy_cluster["summaries"].items()
               if "dagster/parent_run_id" in instance.get_run_by_id(s["run_id"]).tags]
    assert retried == ["east"]


@in_the_cluster
def test_two_runs_of_one_tenant_queue_one_behind_the_other(instance, busy_cluster):
    summaries = busy_cluster["summaries"]
    both = sorted((summaries["north"], summaries["north again"]),
                  key=lambda s: instance.get_run_record_by_id(s["run_id"]).start_time)
    assert [s["docs"]["new"] for s in both] == [2, 0]  # the later run found the work done
    earlier, later = (instance.get_run_record_by_id(s["run_id"]) for s in both)
    assert later.start_time >= earlier.end_time  # the instance's queue held it: one run per tenant


@in_the_cluster
def test_up_refuses_a_port_that_is_taken_and_down_leaves_no_process(cluster):
    elsewhere = Path(tempfile.mkdtemp(prefix="ingest-cluster-other-"))
    try:
        taken = _script(cluster, "up", {"CLUSTER_HOME": str(elsewhere)}, check=False)
        assert taken.returncode != 0
        assert f"port {cluster['script_env']['CLUSTER_PG_PORT']} (for postgres) is taken" in taken.stderr
        assert "CLUSTER_PG_PORT" in taken.stderr
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)
    assert _script(cluster, "status").returncode == 0
    _script(cluster, "down")
    assert _processes_of(cluster["home"]) == []
    stopped = _script(cluster, "status", check=False)
    assert stopped.returncode != 0 and "running" not in stopped.stdout


def test_up_names_what_is_missing_and_starts_nothing(tmp_path):
    environment_without_venv = {**environment(tmp_path / "unused"), "CLUSTER_HOME": str(tmp_path / "cluster"),
                                "VENV_BIN": str(tmp_path / "no-venv" / "bin")}
    completed = subprocess.run(["bash", str(SCRIPT), "up"], capture_output=True, text=True, timeout=60,
                               env=environment_without_venv)
    assert completed.returncode != 0
    assert f"dagster in {tmp_path / 'no-venv' / 'bin'}" in completed.stderr and "make setup" in completed.stderr
    assert not (tmp_path / "cluster" / "pids").exists() and _processes_of(tmp_path / "cluster") == []
