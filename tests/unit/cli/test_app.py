"""The `ingest` command line in this process: arguments, exit codes and the messages of errors the
user can act on (no Dagster run is started: each command here stops before it would need one)."""

from __future__ import annotations

import pytest

from ingest.cli.app import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("INGEST_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("INGEST_CONFIG", raising=False)
    return tmp_path / "state"


def test_bad_tenant_names_and_unknown_tenants_get_clear_errors(home, tmp_path, capsys):
    assert main(["run", "--tenant", "../Evil", "--source", str(tmp_path)]) == 2
    assert "invalid tenant name" in capsys.readouterr().err
    assert main(["query", "--tenant", "nobody", "hello"]) == 2
    assert "ingest run --tenant nobody --source DIR" in capsys.readouterr().err
    assert main(["run", "--tenant", "ok", "--source", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (home / "tenants").exists()  # nothing was registered on the way


def test_a_top_k_below_one_is_refused(home, capsys):
    assert main(["query", "--tenant", "any", "--top-k", "0", "hello"]) == 2
    assert "--top-k must be at least 1" in capsys.readouterr().err


def test_a_command_that_needs_dagster_says_how_to_start_it(home, tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    assert main(["run", "--tenant", "acme", "--source", str(tmp_path / "docs")]) == 2
    assert "needs Dagster" in capsys.readouterr().err
