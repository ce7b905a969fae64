"""Concurrent runs on a PostgreSQL Dagster instance.

A real PostgreSQL server (Debian's package; `scripts/setup.sh` installs it) is started for this
module in a throwaway folder. With INGEST_DAGSTER_PG_URL set, `ingest` keeps Dagster's runs and
event logs there, and runs still execute in the `ingest` process: two runs of one tenant started
together serialise (the second waits for the first) and leave the manifest and the index consistent.
Runs of several tenants at once on PostgreSQL, through the queue and on workers: test_cluster.py.
What the runs left (runs in PostgreSQL, manifests, the index) is read in this process.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from benchmarks.corpus import Section, write_markdown, write_text
from ingest.core.manifest import read_manifest
from ingest.core.storage import TenantPaths
from tests.e2e.commands import environment, served_points, start

pytestmark = pytest.mark.e2e


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    binaries = _postgres_bin()
    assert binaries is not None, "PostgreSQL is not installed: run scripts/setup.sh (it installs Debian's package)"
    root = Path(tempfile.mkdtemp(prefix="ingest-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    # PostgreSQL refuses to run as root: the server runs as the package's `postgres` user then.
    as_user: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        for path in (root, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "ingest", "-A", "trust",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "server.log"),
                    "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://ingest@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, postgres_url) -> dict:
    base = tmp_path_factory.mktemp("pg")
    sources = {}
    for tenant, topic in (("north", "Snow chains are fitted from November."),
                          ("south", "Sun cream is sold at the front desk.")):
        folder = base / tenant
        write_markdown(folder / "guide.md", [Section("Guide", (topic, "Opening hours are nine to five."))])
        write_text(folder / "notes.txt", [Section("Notes", (f"{tenant} office notes for the season.",))])
        sources[tenant] = folder
    env = environment(base / "home", {"INGEST_DAGSTER_PG_URL": postgres_url})
    return {"env": env, "sources": sources, "home": base / "home", "url": postgres_url}


def _start(workspace: dict, *args: str) -> subprocess.Popen:
    return start(*args, env=workspace["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=900)
    return process.returncode, out, err


def _runs_in_postgres(url: str) -> dict[str, dict]:
    """run id -> status, start and end time (seconds since the epoch) as the instance recorded them."""
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT run_id, status, start_time, end_time FROM runs ORDER BY create_timestamp")
        return {run_id: {"status": status, "start": start, "end": end}
                for run_id, status, start, end in cursor.fetchall()}


def test_two_runs_of_one_tenant_serialise_and_leave_it_consistent(workspace):
    write_markdown(workspace["sources"]["north"] / "new.md", [Section("New", ("Ski lockers are free.",))])
    source = str(workspace["sources"]["north"])
    first = _start(workspace, "run", "--tenant", "north", "--source", source, "--json")
    second = _start(workspace, "run", "--tenant", "north", "--source", source, "--json")
    outcomes = [_finish(first), _finish(second)]
    for code, _, err in outcomes:
        assert code == 0, err[-3000:]
    waited = [err for _, _, err in outcomes if "another run of tenant north is in progress: waiting" in err]
    assert len(waited) == 1  # one ran, the other waited for it
    summaries = sorted((json.loads(out.strip().splitlines()[-1]) for _, out, _ in outcomes),
                       key=lambda s: s["docs"]["new"], reverse=True)
    assert summaries[0]["docs"]["new"] == 3 and summaries[1]["docs"]["new"] == 0  # the later run had no work
    assert summaries[1]["docs"]["unchanged"] == 3 and summaries[1]["chunks"]["embedded"] == 0
    recorded = _runs_in_postgres(workspace["url"])
    earlier, later = (recorded[s["run_id"]] for s in summaries)
    assert earlier["status"] == later["status"] == "SUCCESS"
    assert later["start"] >= earlier["end"], (earlier, later)  # the waiting run began once the other had ended
    manifest = read_manifest(TenantPaths.for_tenant(workspace["home"], "north").manifest).to_dicts()
    assert {d["source"] for d in manifest} == {"guide.md", "notes.txt", "new.md"}
    assert all(d["status"] == "indexed" and d["chunks"] > 0 for d in manifest)
    points = served_points(workspace["home"], "north")  # no point id twice
    assert len(points) == sum(d["chunks"] for d in manifest)
    assert {p["source"] for p in points.values()} == {"guide.md", "notes.txt", "new.md"}
