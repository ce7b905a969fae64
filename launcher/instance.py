"""The Dagster instance the pipeline runs on: DAGSTER_HOME with the project's dagster.yaml in it."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from ingest.core.config import dagster_home
from ingest.core.files import atomic_write_text

REPO_ROOT = Path(__file__).resolve().parents[1]
REPO_DAGSTER_YAML = REPO_ROOT / "dagster.yaml"
PG_URL_VARIABLE = "INGEST_DAGSTER_PG_URL"
# Dagster reads the URL from the environment when it starts: the password is never written down.
POSTGRES_STORAGE = f"""
# Runs, event logs and schedules in PostgreSQL (written by `ingest` because {PG_URL_VARIABLE} is set).
storage:
  postgres:
    postgres_url:
      env: {PG_URL_VARIABLE}
"""
# Dagster's default SQLite files in DAGSTER_HOME, through an event log that reuses its database engines
# (launcher/sqlite_storage.py). The folder is written out, not read from DAGSTER_HOME, so that an instance
# opened by its path (DagsterInstance.from_config) works without the variable; prepare_dagster_home writes
# the block again when the folder moved, and drops it when the instance moves to PostgreSQL.
SQLITE_STORAGE_COMMENT = "# Runs, event logs and schedules in SQLite files in this folder (written by `ingest`)."


def sqlite_storage(home: Path) -> str:
    """The storage section of a home on SQLite."""
    return f"""
{SQLITE_STORAGE_COMMENT}
storage:
  custom:
    module: launcher.sqlite_storage
    class: SqliteStorage
    config:
      base_dir: {json.dumps(str(home))}
"""


# Any storage section, Dagster's unified key or its older per-store keys (which cannot sit beside it).
HAS_STORAGE = re.compile(r"^(storage|run_storage|event_log_storage|schedule_storage):", re.MULTILINE)


def _without_sqlite_storage(settings: str) -> str:
    """The settings less the block sqlite_storage() wrote: its comment line and the indented lines under
    its `storage:` key."""
    lines = settings.split("\n")
    if SQLITE_STORAGE_COMMENT not in lines:
        return settings
    start = lines.index(SQLITE_STORAGE_COMMENT)
    end = start + 1
    if end < len(lines) and lines[end] == "storage:":
        end += 1
        while end < len(lines) and lines[end].startswith(" "):
            end += 1
    return "\n".join(lines[:start] + lines[end:])


def prepare_dagster_home() -> Path:
    """DAGSTER_HOME (default INGEST_HOME/dagster) with the project's dagster.yaml in it, and its storage.

    The storage is SQLite files in DAGSTER_HOME, or, with INGEST_DAGSTER_PG_URL set, that PostgreSQL
    database, so that several runs can write at once. A home on SQLite moves to PostgreSQL when the URL is
    set (its earlier runs stay in the SQLite files); a storage section written by hand is left alone.
    """
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists() and REPO_DAGSTER_YAML.is_file():
        shutil.copyfile(REPO_DAGSTER_YAML, settings)
    url = os.environ.get(PG_URL_VARIABLE)
    if url and url.split("://", 1)[0] in ("postgres", "postgresql"):
        # Dagster's PostgreSQL storage speaks psycopg2; SQLAlchemy would pick another driver for a bare URL.
        os.environ[PG_URL_VARIABLE] = "postgresql+psycopg2://" + url.split("://", 1)[1]
    if settings.is_file():
        written = settings.read_text(encoding="utf-8")
        wanted = POSTGRES_STORAGE if url else sqlite_storage(home)
        current = written if wanted in written else _without_sqlite_storage(written)
        if not HAS_STORAGE.search(current):
            current = current.rstrip("\n") + "\n" + wanted
        if current != written:
            atomic_write_text(settings, current)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
