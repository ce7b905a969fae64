"""Starting the installed `ingest` command and reading what it prints.

Every start goes through `ingest` or `start` here and is counted per test file: starting the
command (an interpreter, the imports, the models) is most of what the end-to-end tier costs, and
tests/conftest.py prints the count at the end of the session, gathered from every worker of a parallel run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

INGEST = str(Path(sys.executable).with_name("ingest"))
# Settings of the calling environment that would point a command at other state or change what it does.
FOREIGN = ("DAGSTER_HOME", "INGEST_CONFIG", "INGEST_EMBED_MODEL", "INGEST_TEST_FAULT", "QDRANT_URL",
           "QDRANT_API_KEY", "INGEST_ALERT_KIND", "INGEST_ALERT_URL", "INGEST_ALERT_SECRET", "INGEST_DAGSTER_PG_URL",
           "INGEST_DAGSTER_URL", "INGEST_UI_URL", "INGEST_CELERY_BROKER_URL", "INGEST_CELERY_BACKEND_URL")

STARTS: Counter[str] = Counter()  # test file -> `ingest` processes it started


def count_start() -> None:
    """Count one `ingest` process for the running test's file (tests that start it their own way call this)."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "outside a test")
    STARTS[current.split("::", 1)[0]] += 1


def environment(home: Path, extra: dict | None = None, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment without FOREIGN settings (and `drop`), with INGEST_HOME and `extra`."""
    base = {key: value for key, value in os.environ.items() if key not in FOREIGN + drop}
    return {**base, **(extra or {}), "INGEST_HOME": str(home)}


def ingest(home: Path, *args: str, check: bool = True, env: dict | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed `ingest` command with its state in `home` (and extra environment) to its end."""
    count_start()
    completed = subprocess.run([INGEST, *args], capture_output=True, text=True, env=environment(home, env),
                               timeout=timeout)
    if check and completed.returncode != 0:
        raise AssertionError(f"ingest {' '.join(args)} exited {completed.returncode}:\n{completed.stderr[-3000:]}")
    return completed


def start(*args: str, env: dict[str, str], **popen) -> subprocess.Popen:
    """Start the installed `ingest` command with exactly `env`, and return at once."""
    count_start()
    return subprocess.Popen([INGEST, *args], env=env, text=True, **popen)


def last_json(completed: subprocess.CompletedProcess) -> dict:
    return json.loads(completed.stdout.strip().splitlines()[-1])


def json_lines(completed: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]


def served_points(home: Path, tenant: str) -> dict[str, dict]:
    """point id -> payload of the index `tenant` serves, read from the embedded store in this process
    (between commands: a command holds the store while it runs)."""
    from ingest.index.qdrant import QdrantSettings, TenantIndex, open_qdrant

    with open_qdrant(QdrantSettings(path=home / "qdrant"), tenant) as client:
        hits = list(TenantIndex(client, tenant).scroll())
    points = {hit.point_id: hit.payload for hit in hits}
    assert len(points) == len(hits), "a point id is served twice"
    return points
