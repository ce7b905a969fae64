"""End to end through `ingest`: alerts delivered to a real HTTP endpoint, rollback, one run per tenant."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks.corpus import Section, write_markdown
from tests.e2e.test_cli import INGEST, ingest, json_lines, last_json

pytestmark = pytest.mark.e2e


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
def tenant(tmp_path) -> tuple[Path, Path]:
    home, source = tmp_path / "state", tmp_path / "shop"
    write_markdown(source / "returns.md", [Section("Returns", ("Items can be returned within 45 days.",))])
    write_markdown(source / "opening.md", [Section("Opening hours", ("The shop opens at 8 am.",))])
    return home, source


def test_a_failing_check_alerts_once_and_resolves_once(tenant, tmp_path, webhook):
    home, source = tenant
    url, received = webhook
    env = {"INGEST_ALERT_KIND": "webhook", "INGEST_ALERT_URL": url, "INGEST_ALERT_SECRET": "t0ken-xyz"}
    good = write_golden(tmp_path / "good.jsonl", "returns.md")
    bad = write_golden(tmp_path / "bad.jsonl", "opening.md")
    ingest(home, "run", "--tenant", "shop", "--source", str(source), "--golden", str(good), env=env)
    assert received == []  # healthy: nothing to say

    failed = ingest(home, "run", "--tenant", "shop", "--golden", str(bad), "--json", env=env, check=False)
    assert failed.returncode == 1 and "retrieval_quality failed" in last_json(failed)["error"]
    triggers = [r["body"] for r in received if r["body"]["action"] == "trigger"]
    assert {t["check"] for t in triggers} == {"retrieval_quality", "run:ingest_tenant"}
    quality = next(t for t in triggers if t["check"] == "retrieval_quality")
    assert quality["tenant"] == "shop" and quality["details"]["mrr"] < 1.0 and "queries" in quality["details"]
    assert quality["run_url"].endswith(last_json(failed)["run_id"]) and "RUNBOOK" in quality["next_step"]
    assert all(r["auth"] == "Bearer t0ken-xyz" and r["path"] == "/hooks/ingest" for r in received)

    ingest(home, "run", "--tenant", "shop", env=env, check=False)  # still failing: no second alert
    assert len([r for r in received if r["body"]["action"] == "trigger"]) == 2

    ingest(home, "run", "--tenant", "shop", "--golden", str(good), env=env)
    resolves = [r["body"]["check"] for r in received if r["body"]["action"] == "resolve"]
    assert sorted(resolves) == ["retrieval_quality", "run:ingest_tenant"]
    ingest(home, "run", "--tenant", "shop", env=env)
    assert len(received) == 4  # nothing more once healthy


def test_rollback_serves_the_previous_index_again(tenant):
    home, source = tenant
    ingest(home, "run", "--tenant", "shop", "--source", str(source))
    write_markdown(source / "returns.md", [Section("Returns", ("Returns are accepted for 90 days now.",))])
    ingest(home, "run", "--tenant", "shop")
    assert "90 days" in ingest(home, "export", "--tenant", "shop", "--jsonl").stdout
    ingest(home, "rollback", "--tenant", "shop")
    exported = ingest(home, "export", "--tenant", "shop", "--jsonl").stdout
    assert "45 days" in exported and "90 days" not in exported
    status = last_json(ingest(home, "status", "--tenant", "shop", "--json"))
    assert {d["source"] for d in status["documents"]} == {"returns.md", "opening.md"}


def test_a_second_run_of_the_same_tenant_is_refused_when_told_not_to_wait(tenant):
    home, source = tenant
    ingest(home, "run", "--tenant", "shop", "--source", str(source))
    import os

    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    env["INGEST_HOME"] = str(home)
    lock_holder = subprocess.Popen(
        [str(Path(INGEST).with_name("python")), "-c",
         "import sys, time; from filelock import FileLock; "
         "lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(60)",
         str(home / "tenants" / "shop" / ".run.lock")], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert lock_holder.stdout.readline().strip() == "held"
        busy = ingest(home, "run", "--tenant", "shop", "--wait", "0", check=False)
        assert busy.returncode == 2 and "another run of tenant shop is in progress" in busy.stderr
    finally:
        lock_holder.kill()
        lock_holder.wait(timeout=30)
    assert json_lines(ingest(home, "export", "--tenant", "shop", "--jsonl"))
