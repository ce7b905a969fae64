"""The Dagster home `ingest` prepares: its storage section, and the SQLite event log that reuses its engines."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy

import launcher.sqlite_storage as reused_engine_storage
from launcher.instance import POSTGRES_STORAGE, prepare_dagster_home, sqlite_storage
from launcher.sqlite_storage import ReusedEngineSqliteEventLogStorage


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.delenv("INGEST_DAGSTER_PG_URL", raising=False)
    return tmp_path / "dagster"


def engines_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The database URLs the event log builds engines for, from now on."""
    made: list[str] = []

    def counting(url, **kwargs):
        made.append(str(url))
        return sqlalchemy.create_engine(url, **kwargs)

    monkeypatch.setattr(reused_engine_storage, "create_engine", counting)
    return made


def test_a_new_home_stores_on_sqlite_through_one_engine_per_database(home, monkeypatch) -> None:
    prepare_dagster_home()
    assert (home / "dagster.yaml").read_text(encoding="utf-8").endswith(sqlite_storage(home))
    instance = dg.DagsterInstance.get()
    storage = instance.event_log_storage
    assert isinstance(storage, ReusedEngineSqliteEventLogStorage)
    run = instance.add_run(dg.DagsterRun(job_name="ingest_tenant", run_id="run-1"))
    made = engines_made(monkeypatch)

    for number in range(20):
        instance.report_engine_event(f"event {number}", run)
    instance.report_run_failed(run, "stopped by the test")  # also mirrored into the cross-run index

    messages = [entry.message for entry in instance.all_logs("run-1")]
    assert messages[:20] == [f"event {number}" for number in range(20)]
    assert instance.get_run_by_id("run-1").status == dg.DagsterRunStatus.FAILURE
    # One engine for the run's own database and one for the cross-run index, each made once.
    assert sorted(Path(url).name for url in made) == ["index.db", "run-1.db"]
    assert (home / "history" / "runs" / "run-1.db").is_file()  # where Dagster's default SQLite storage keeps it


def test_engines_of_the_least_recent_databases_are_dropped(home, monkeypatch) -> None:
    monkeypatch.setattr(reused_engine_storage, "MAX_ENGINES", 4)
    prepare_dagster_home()
    instance = dg.DagsterInstance.get()
    runs = [instance.add_run(dg.DagsterRun(job_name="ingest_tenant", run_id=f"run-{number}")) for number in range(8)]
    for run in runs:
        instance.report_engine_event("started", run)
    assert len(instance.event_log_storage._engines) == 4
    made = engines_made(monkeypatch)
    instance.report_engine_event("again", runs[0])  # dropped earlier: a new engine, and its events all there
    assert len(made) == 1
    assert [entry.message for entry in instance.all_logs("run-0")] == ["started", "again"]


def test_a_home_made_before_keeps_its_runs(home, monkeypatch) -> None:
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    with dg.DagsterInstance.get() as before:  # Dagster's default storage
        before.add_run(dg.DagsterRun(job_name="ingest_tenant", run_id="earlier"))
    prepare_dagster_home()
    assert (home / "dagster.yaml").read_text(encoding="utf-8").startswith("telemetry:\n  enabled: false\n")
    instance = dg.DagsterInstance.get()
    assert isinstance(instance.event_log_storage, ReusedEngineSqliteEventLogStorage)
    assert instance.get_run_by_id("earlier") is not None


def test_an_instance_opened_by_its_folder_needs_no_dagster_home_and_a_moved_home_follows(home, monkeypatch) -> None:
    prepare_dagster_home()
    with dg.DagsterInstance.get() as instance:
        instance.add_run(dg.DagsterRun(job_name="ingest_tenant", run_id="before-the-move"))
    monkeypatch.delenv("DAGSTER_HOME")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, ReusedEngineSqliteEventLogStorage)
        assert instance.get_run_by_id("before-the-move") is not None

    moved = home.parent / "moved"
    home.rename(moved)
    monkeypatch.setenv("DAGSTER_HOME", str(moved))
    prepare_dagster_home()
    settings = (moved / "dagster.yaml").read_text(encoding="utf-8")
    assert settings.endswith(sqlite_storage(moved)) and settings.count("\nstorage:") == 1
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id("before-the-move") is not None


def test_a_sqlite_home_moves_to_postgres_and_a_hand_written_storage_stays(home, monkeypatch) -> None:
    prepare_dagster_home()
    monkeypatch.setenv("INGEST_DAGSTER_PG_URL", "postgresql://ingest@localhost/dagster")
    prepare_dagster_home()
    settings = (home / "dagster.yaml").read_text(encoding="utf-8")
    assert settings.endswith(POSTGRES_STORAGE)
    assert "launcher.sqlite_storage" not in settings and settings.count("\nstorage:") == 1

    for own in ("telemetry:\n  enabled: false\nstorage:\n  sqlite:\n    base_dir: /srv/dagster\n",
                "event_log_storage:\n  module: dagster_postgres\n  class: PostgresEventLogStorage\n"):
        (home / "dagster.yaml").write_text(own, encoding="utf-8")
        prepare_dagster_home()
        assert (home / "dagster.yaml").read_text(encoding="utf-8") == own
