"""Schedules, sensors and the Dagster webserver loading the definitions."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.schedules import nightly_refresh
from assets.sensors import source_change_sensor
from resources import StorageResource

REPO = Path(__file__).resolve().parents[2]


def registry_with(tmp_path: Path, hours: dict[str, int | None]) -> Path:
    home = tmp_path / "home"
    config = tmp_path / "tenants.toml"
    lines = []
    for name, hour in hours.items():
        (tmp_path / name).mkdir()
        lines.append(f'[tenants.{name}]\nsource = "{name}"\n' + (f"refresh_hour = {hour}\n" if hour is not None else ""))
    config.write_text("\n".join(lines), encoding="utf-8")
    os.environ["INGEST_CONFIG"] = str(config)
    return home


@pytest.fixture(autouse=True)
def no_config_leak():
    yield
    os.environ.pop("INGEST_CONFIG", None)


def test_nightly_refresh_launches_the_tenants_due_this_hour(tmp_path):
    home = registry_with(tmp_path, {"early": 2, "late": 5, "default": None})
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 26, 2, 0, tzinfo=UTC),
                                        resources={"storage": StorageResource(home=str(home))})
    requests = nightly_refresh(context)
    assert sorted(r.partition_key for r in requests) == ["default", "early"]  # default hour is 2
    assert all(r.tags["tenant"] == r.partition_key for r in requests)
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 26, 3, 0, tzinfo=UTC),
                                        resources={"storage": StorageResource(home=str(home))})
    assert isinstance(nightly_refresh(context), dg.SkipReason)


def test_source_change_sensor_runs_only_the_tenant_whose_folder_changed(tmp_path):
    home = registry_with(tmp_path, {"north": None, "south": None})
    for name in ("north", "south"):
        (tmp_path / name / "a.md").write_text("# A\n\ntext\n", encoding="utf-8")
        (home / "tenants" / name).mkdir(parents=True)
        (home / "tenants" / name / "manifest.parquet").write_bytes(b"")  # both were indexed before
    storage = StorageResource(home=str(home))
    instance = dg.DagsterInstance.ephemeral()

    def evaluate(cursor):
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"storage": storage}) as context:
            result = source_change_sensor(context)
            return result, context.cursor

    first, cursor = evaluate(None)
    assert isinstance(first, dg.SkipReason)  # a baseline, not a change
    (tmp_path / "south" / "b.md").write_text("# B\n\nnew\n", encoding="utf-8")
    second, cursor = evaluate(cursor)
    assert [r.partition_key for r in second] == ["south"]
    third, _ = evaluate(cursor)
    assert isinstance(third, dg.SkipReason)


def test_the_webserver_shows_checks_freshness_schedules_and_sensors(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "INGEST_HOME": str(tmp_path / "state")}
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text(), encoding="utf-8")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", str(REPO / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    query = """{ assetNodes { assetKey { path }
        internalFreshnessPolicy { ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds } }
        assetChecksOrError { ... on AssetChecks { checks { name blocking } } } }
      workspaceOrError { ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { ... on RepositoryLocation { repositories {
          schedules { name } sensors { name } } } } } } } }"""
    try:
        data = None
        for _ in range(120):  # bounded wait for the server to load the code location
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                                 data=json.dumps({"query": query}).encode(),
                                                 headers={"Content-Type": "application/json"})
                answer = json.loads(urllib.request.urlopen(request, timeout=5).read())
                assert not answer.get("errors"), answer.get("errors")
                data = answer["data"]
                break
            except OSError:
                time.sleep(1)
        assert data is not None, "the webserver did not answer"
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    entry = data["workspaceOrError"]["locationEntries"][0]
    assert entry["loadStatus"] == "LOADED"
    repository = entry["locationOrLoadError"]["repositories"][0]
    assert {s["name"] for s in repository["schedules"]} == {"nightly_refresh", "hourly_freshness"}
    assert {s["name"] for s in repository["sensors"]} == {
        "tenant_registry_sensor", "source_change_sensor", "alerts_on_success", "alerts_on_failure",
        "default_automation_condition_sensor"}  # Declarative Automation: a new tenant's partition
    checks = {check["name"]: check for node in data["assetNodes"]
              for check in node["assetChecksOrError"]["checks"]}
    assert set(checks) == {"pii_residue", "chunk_sanity", "ocr_quality", "parse_coverage", "quarantine_rate",
                           "index_consistency", "retrieval_quality", "index_freshness"}
    assert {name for name, check in checks.items() if check["blocking"]} == {
        "pii_residue", "index_consistency", "retrieval_quality"}
    policies = {"/".join(n["assetKey"]["path"]): n["internalFreshnessPolicy"] for n in data["assetNodes"]}
    assert policies["published_index"] == {"failWindowSeconds": 36 * 3600, "warnWindowSeconds": 26 * 3600}
    assert "Warning" not in errors and "Error" not in errors, errors[-2000:]


# Dagster's evaluator of automation conditions is marked beta; it is only the test's instrument here, the
# conditions themselves (AutomationCondition.on_missing) are stable API.
@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_a_new_tenant_partition_requests_every_stage_once_and_an_existing_one_nothing():
    from assets.definitions import defs
    from assets.jobs import ingestion_assets
    from assets.partitions import TENANTS_PARTITION

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANTS_PARTITION, ["north"])
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # partitions there before the first evaluation are left alone

    instance.add_dynamic_partitions(TENANTS_PARTITION, ["south"])
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    keys = {key for definition in ingestion_assets for key in definition.keys}
    assert {key: second.get_requested_partitions(key) for key in keys} == {key: {"south"} for key in keys}

    third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
    assert third.total_requested == 0  # requested once, not on every tick
