"""The cluster benchmark's arithmetic: what it reads from `local-cluster.sh env`, its medians and its target."""

from __future__ import annotations

from benchmarks.cluster import TARGET_SECONDS, parse_exports, summarise


def test_the_client_environment_is_read_from_the_export_lines() -> None:
    exports = 'export DAGSTER_HOME="/tmp/c/dagster"\nexport INGEST_DAGSTER_URL="http://127.0.0.1:13000"\n'
    assert parse_exports(exports) == {"DAGSTER_HOME": "/tmp/c/dagster", "INGEST_DAGSTER_URL": "http://127.0.0.1:13000"}


def _run(submit: float, command: float) -> dict:
    return {"worker": "host:1", "command_to_first_step": command, "submit_to_first_step": submit, "queued": 1.0,
            "dequeued_to_run_start": submit - 2.0, "run_start_to_first_step": 1.0}


def test_the_target_is_judged_on_the_slowest_submission() -> None:
    embedded = [{"command_to_first_step": value} for value in (3.0, 4.0, 5.0)]
    within = summarise(20.0, [_run(4.0, 8.0), _run(5.0, 9.0), _run(9.5, 12.0)], embedded)
    assert within["submit_to_first_step"] == {"median": 5.0, "max": 9.5}
    assert within["added_by_the_cluster"] == 9.0 - 4.0
    assert within["target"] == {"submit_to_first_step_max_seconds": TARGET_SECONDS, "met": True}
    beyond = summarise(20.0, [_run(4.0, 8.0), _run(TARGET_SECONDS + 0.5, 14.0)], embedded)
    assert beyond["target"]["met"] is False
