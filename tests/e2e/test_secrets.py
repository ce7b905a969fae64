"""Secrets come from the environment and never show: not in logs, metadata, error messages or
anything stored. A loopback server plays a broken Qdrant server (every call fails) and the alert
webhook; the run fails at the index, an alert goes out, and then the API key, the webhook URL's
token and the webhook secret are searched for everywhere the pipeline writes or prints."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks.corpus import Section, write_markdown
from tests.e2e.commands import ingest
from tests.e2e.test_pii_never_stored import _search

pytestmark = pytest.mark.e2e

QDRANT_KEY = "qdrant-key-5f1c9e0a7b"
HOOK_TOKEN = "hook-token-8d2e4c6a1f"
ALERT_SECRET = "alert-secret-3b7d9f2e6c"


class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        type(self).requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                    "body": body})
        ok = self.path.startswith("/hook/")
        self.send_response(200 if ok else 500)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}' if ok else b'{"status": {"error": "broken on purpose"}}')

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("secrets")
    source, home, dagster_home = base / "source", base / "home", base / "dagster"
    dagster_home.mkdir()
    write_markdown(source / "notes.md", [Section("Notes", ("Deliveries arrive on Tuesdays.",))])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}"
    env = {"DAGSTER_HOME": str(dagster_home), "QDRANT_URL": address, "QDRANT_API_KEY": QDRANT_KEY,
           "INGEST_ALERT_KIND": "webhook", "INGEST_ALERT_URL": f"{address}/hook/{HOOK_TOKEN}",
           "INGEST_ALERT_SECRET": ALERT_SECRET}
    try:
        run = ingest(home, "run", "--tenant", "vault", "--source", str(source), check=False, env=env)
        status = ingest(home, "status", "--tenant", "vault", check=False, env=env)
    finally:
        server.shutdown()
    return {"run": run, "status": status, "home": home, "dagster_home": dagster_home,
            "requests": list(_Recorder.requests)}


def test_the_secrets_were_used(failed_run):
    requests = failed_run["requests"]
    assert any(r["headers"].get("api-key") == QDRANT_KEY for r in requests if not r["path"].startswith("/hook/"))
    hooks = [r for r in requests if r["path"] == f"/hook/{HOOK_TOKEN}"]
    assert hooks and any(ALERT_SECRET in " ".join(r["headers"].values()) for r in hooks)


def test_the_run_failed_with_a_clear_message(failed_run):
    run = failed_run["run"]
    assert run.returncode == 1
    assert "QDRANT_URL" in run.stderr or "Qdrant" in run.stderr


@pytest.mark.parametrize("secret", [QDRANT_KEY, HOOK_TOKEN, ALERT_SECRET])
def test_no_secret_is_printed_or_stored(failed_run, secret):
    printed = "".join(output.stdout + output.stderr for output in (failed_run["run"], failed_run["status"]))
    assert secret not in printed
    assert _search([failed_run["home"], failed_run["dagster_home"]], {secret: "secret"}) == {}
