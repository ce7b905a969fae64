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
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks.corpus import Section, write_markdown, write_text
from ingest.core.manifest import read_manifest
from ingest.core.storage import TenantPaths
from launcher.submit import graphql
from tests.e2e.commands import environment, served_points, start

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local-cluster.sh"
PORT_VARIABLES = ("CLUSTER_PG_PORT", "CLUSTER_REDIS_PORT", "CLUSTER_CODE_PORT", "CLUSTER_UI_PORT")


def _free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


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
                  **dict(zip(PORT_VARIABLES, map(str, _free_ports(len(PORT_VARIABLES)))))}
    script_env.pop("INGEST_HOME")
    state = {"home": home, "script_env": script_env}
    try:
        _script(state, "up")
        exports = _script(state, "env").stdout
        client = {}
        for line in exports.splitlines():
            name, value = line.removeprefix("export ").split("=", 1)
            client[name] = value.strip('"')
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


def test_three_tenants_submitted_at_once_run_on_both_workers_and_show_in_the_webserver(cluster):
    topics = {"north": "Snow chains are fitted from November.", "south": "Sun cream is sold at the front desk.",
              "east": "Kayaks are rented by the hour."}
    clients = [_submit(cluster, "--tenant", name, "--source", str(_tenant(cluster, name, topic)))
               for name, topic in topics.items()]
    summaries = [_finish(client) for client in clients]
    assert {s["tenant"] for s in summaries} == set(topics)
    assert all(s["docs"]["seen"] == 2 and s["points"]["upserted"] > 0 for s in summaries)
    workers = {s["worker"] for s in summaries}
    assert len(workers) >= 2, workers  # the queue handed the runs to both workers
    assert all(worker.split(":")[1].isdigit() and worker.split(":")[1] != "" for worker in workers)
    assert {_graphql_status(cluster, s["run_id"]) for s in summaries} == {"SUCCESS"}
    for name, topic in topics.items():
        texts = " ".join(point["text"] for point in served_points(cluster["ingest_home"], name).values())
        assert topic in texts and all(other not in texts for other in topics.values() if other != topic)


def test_a_worker_killed_mid_run_is_failed_retried_and_the_index_converges(cluster, instance):
    import dagster as dg

    source = _tenant(cluster, "west", "Bicycles are repaired on Mondays.")
    for number in range(6):
        write_markdown(source / f"extra-{number}.md",
                       [Section(f"Extra {number}", (f"Room {number} has a view of the lake.",) * 3)])
    known = {run.run_id for run in instance.get_runs()}
    client = _submit(cluster, "--tenant", "west", "--source", str(source))
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and client.poll() is None:
        for run in instance.get_runs(dg.RunsFilter(tags={"tenant": "west"})):
            if run.run_id in known:
                continue
            steps = {entry.step_key for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)}
            if "parse_and_redact" in steps:
                started = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)[0]
                os.kill(started.dagster_event.pid, signal.SIGKILL)  # the process executing the run
                killed = run.run_id
        time.sleep(0.2)
    assert killed, "the run never reached parse_and_redact"
    summary = _finish(client)
    assert summary["run_id"] != killed and f"retries it as run {summary['run_id']}" in summary["stderr"]
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(summary["run_id"]).tags["dagster/parent_run_id"] == killed
    assert summary["docs"]["seen"] == 8 and summary["docs"]["quarantined"] == 0
    manifest = read_manifest(TenantPaths.for_tenant(cluster["ingest_home"], "west").manifest).to_dicts()
    assert len(manifest) == 8 and all(d["status"] == "indexed" for d in manifest)
    points = served_points(cluster["ingest_home"], "west")  # asserts no point id is served twice
    assert len(points) == sum(d["chunks"] for d in manifest)  # none lost, none left over
    assert {p["source"] for p in points.values()} == {d["source"] for d in manifest}


def test_runs_of_one_tenant_queue_and_survive_a_webserver_and_daemon_restart(cluster, instance):
    import dagster as dg

    write_markdown(cluster["home"] / "sources" / "south" / "late.md", [Section("Late", ("Dinner is at eight.",))])
    first = _submit(cluster, "--tenant", "south", "--wait", "300")
    deadline = time.monotonic() + 300
    running = []
    while not running and time.monotonic() < deadline:
        running = list(instance.get_runs(dg.RunsFilter(tags={"tenant": "south"},
                                                       statuses=[dg.DagsterRunStatus.STARTED])))
        time.sleep(0.2)
    assert running, "the run never started"
    second = _submit(cluster, "--tenant", "south", "--wait", "300")  # queues behind the first
    for name in ("webserver", "daemon"):
        os.killpg(int((cluster["home"] / "pids" / f"{name}.pid").read_text()), signal.SIGKILL)
    restarted = _script(cluster, "up")
    assert "webserver: starting" in restarted.stderr and "worker-1: already running" in restarted.stderr
    earlier, later = _finish(first), _finish(second)
    assert earlier["run_id"] == running[0].run_id and earlier["docs"]["new"] == 1  # the same run, not a retry
    assert later["docs"]["new"] == 0 and later["docs"]["unchanged"] == 3  # it found the work done
    assert {_graphql_status(cluster, s["run_id"]) for s in (earlier, later)} == {"SUCCESS"}
    first_record, second_record = (instance.get_run_record_by_id(s["run_id"]) for s in (earlier, later))
    assert second_record.start_time >= first_record.end_time  # the instance's queue: one run per tenant


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
