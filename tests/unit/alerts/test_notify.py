"""Alert notifiers against a real HTTP server on loopback, and the open-alert state."""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ingest.alerts.notify import (
    Alert,
    AlertState,
    DeliveryError,
    LogNotifier,
    PagerDutyNotifier,
    SlackNotifier,
    WebhookNotifier,
    alert_log_path,
    build_notifier,
    notifier_from_env,
)
from ingest.core.errors import ConfigError

FAST = {"timeout": 2.0, "backoff_factor": 0.01}  # real retries, without real waiting
SECRET_PATH = "/services/T0000/B0000/s3cr3t-webhook-path"
TOKEN = "tok-very-secret-123"
ROUTING_KEY = "R0UTINGKEY0123456789abcdef"


class Recorder:
    """What the test server saw, and how it should answer."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_times = 0  # answer 500 this many times, then 200
        self.status = 200  # the status after the failures
        self.stall = threading.Event()  # while `stalling`, wait on this (released at teardown)
        self.stalling = False
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        recorder: Recorder = self.server.recorder
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with recorder.lock:
            recorder.requests.append({"method": self.command, "path": self.path,
                                      "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "json": json.loads(raw) if raw else None})
            if recorder.fail_times > 0:
                recorder.fail_times -= 1
                status = 500
            else:
                status = recorder.status
        if recorder.stalling:
            recorder.stall.wait(timeout=5)
            return
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.recorder = Recorder()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield httpd
    finally:
        httpd.recorder.stall.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_alert(action: str = "trigger", *, key: str = "acme:chunks_not_empty", run_url: str | None =
               "http://dagster.local/runs/abc123", **changes) -> Alert:
    fields = dict(key=key, action=action, tenant="acme", check="chunks_not_empty", severity="error",
                  summary="0 chunks after chunking 12 documents",
                  details={"documents": 12, "chunks": 0, "failed_parses": 3},
                  run_url=run_url, next_step="Check the parse stage log for the failed documents.",
                  at="2025-01-02T03:04:05+00:00")
    fields.update(changes)
    return Alert(**fields)


def shown(error: BaseException) -> str:
    """What a traceback of `error` prints, chained exceptions included, minus source lines."""
    return "".join(traceback.format_exception(error, limit=0)) + repr(error)


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


# --- Alert ----------------------------------------------------------------------------------

def test_alert_to_dict_has_every_field():
    alert = make_alert()
    assert alert.to_dict() == {
        "key": "acme:chunks_not_empty", "action": "trigger", "tenant": "acme", "check": "chunks_not_empty",
        "severity": "error", "summary": "0 chunks after chunking 12 documents",
        "details": {"documents": 12, "chunks": 0, "failed_parses": 3},
        "run_url": "http://dagster.local/runs/abc123",
        "next_step": "Check the parse stage log for the failed documents.", "at": "2025-01-02T03:04:05+00:00"}
    json.dumps(alert.to_dict())


@pytest.mark.parametrize("changes, message", [
    ({"action": "acknowledge"}, "action"),
    ({"severity": "critical"}, "severity"),
    ({"summary": "two\nlines"}, "summary must be one line"),
    ({"next_step": "a\nb"}, "next_step must be one line"),
    ({"details": {"when": object()}}, "JSON-serialisable"),
    ({"details": {"ratio": float("nan")}}, "JSON-serialisable"),
    ({"key": ""}, "key"),
])
def test_alert_rejects_bad_fields(changes, message):
    with pytest.raises(ValueError, match=message):
        make_alert(**changes)


# --- notifiers over HTTP -----------------------------------------------------------------

def test_webhook_posts_the_alert_json_with_a_bearer_token(server):
    WebhookNotifier(server.base_url + "/hooks/alerts", token=TOKEN, **FAST).send(make_alert())
    [request] = server.recorder.requests
    assert request["method"] == "POST"
    assert request["path"] == "/hooks/alerts"
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["content-type"] == "application/json"
    assert request["json"] == make_alert().to_dict()


def test_webhook_without_token_sends_no_authorization_header(server):
    WebhookNotifier(server.base_url + "/hooks/alerts", **FAST).send(make_alert())
    [request] = server.recorder.requests
    assert "authorization" not in request["headers"]
    assert request["json"]["key"] == "acme:chunks_not_empty"


def test_slack_posts_text_and_blocks_with_the_run_link(server):
    SlackNotifier(server.base_url + SECRET_PATH, **FAST).send(make_alert())
    [request] = server.recorder.requests
    assert request["method"] == "POST"
    assert request["path"] == SECRET_PATH
    message = request["json"]
    assert message["text"] == "[TRIGGER] acme/chunks_not_empty: 0 chunks after chunking 12 documents"
    blocks = message["blocks"]
    assert all(block["type"] == "section" for block in blocks)
    assert "0 chunks after chunking 12 documents" in blocks[0]["text"]["text"]
    fields = [field["text"] for field in blocks[1]["fields"]]
    assert fields[:3] == ["*Tenant*\nacme", "*Check*\nchunks_not_empty", "*Severity*\nerror"]
    assert "*documents*\n12" in fields and "*chunks*\n0" in fields and "*failed_parses*\n3" in fields
    assert "Check the parse stage log" in blocks[2]["text"]["text"]
    assert blocks[3]["text"]["text"] == "<http://dagster.local/runs/abc123|View the Dagster run>"


def test_slack_resolve_without_run_has_no_link_block_and_escapes_markup():
    message = SlackNotifier.payload(make_alert("resolve", run_url=None, summary="fixed <@here> & more"))
    assert message["text"] == "[RESOLVE] acme/chunks_not_empty: fixed &lt;@here&gt; &amp; more"
    assert len(message["blocks"]) == 3
    assert "Dagster run" not in json.dumps(message)


def test_slack_keeps_within_the_field_limit():
    details = {f"n{i}": i for i in range(20)}
    message = SlackNotifier.payload(make_alert(details=details))
    assert len(message["blocks"][1]["fields"]) == 10


def test_pagerduty_trigger_event(server):
    PagerDutyNotifier(ROUTING_KEY, url=server.base_url + "/v2/enqueue", **FAST).send(make_alert())
    [request] = server.recorder.requests
    assert request["method"] == "POST"
    assert request["path"] == "/v2/enqueue"
    assert request["json"] == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "acme:chunks_not_empty",
        "payload": {
            "summary": "0 chunks after chunking 12 documents",
            "source": "tenant-ingest",
            "severity": "error",
            "component": "acme",
            "group": "ingestion",
            "class": "chunks_not_empty",
            "custom_details": {"documents": 12, "chunks": 0, "failed_parses": 3,
                               "next_step": "Check the parse stage log for the failed documents."},
        },
        "links": [{"href": "http://dagster.local/runs/abc123", "text": "Dagster run"}],
    }


def test_pagerduty_resolve_is_minimal(server):
    PagerDutyNotifier(ROUTING_KEY, url=server.base_url + "/v2/enqueue", **FAST).send(make_alert("resolve"))
    [request] = server.recorder.requests
    assert request["json"] == {"routing_key": ROUTING_KEY, "event_action": "resolve",
                               "dedup_key": "acme:chunks_not_empty"}


@pytest.mark.parametrize("severity", ["warning", "info"])
def test_pagerduty_severity_and_no_links_without_a_run(severity):
    event = PagerDutyNotifier(ROUTING_KEY).payload(make_alert(severity=severity, run_url=None))
    assert event["payload"]["severity"] == severity
    assert "links" not in event


def test_retries_server_errors_then_succeeds(server):
    server.recorder.fail_times = 2
    WebhookNotifier(server.base_url + "/hook", **FAST).send(make_alert())
    assert len(server.recorder.requests) == 3
    assert all(r["json"] == make_alert().to_dict() for r in server.recorder.requests)


def test_persistent_server_error_raises_without_naming_url_or_secret(server, caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3")
    server.recorder.fail_times = 100
    url = server.base_url + SECRET_PATH
    with pytest.raises(DeliveryError) as raised:
        SlackNotifier(url, **FAST).send(make_alert())
    assert len(server.recorder.requests) == 4  # the first try and three retries
    message = str(raised.value)
    assert "slack" in message and "500" in message
    rendered = shown(raised.value)
    assert_no_secret(rendered, url, SECRET_PATH, "s3cr3t", server.base_url)
    assert caplog.records  # urllib3 did log the requests ...
    assert_no_secret(caplog.text, SECRET_PATH, "s3cr3t")  # ... with the secret path scrubbed


def test_persistent_error_with_token_and_routing_key_never_shows_them(server):
    server.recorder.fail_times = 100
    with pytest.raises(DeliveryError) as webhook_error:
        WebhookNotifier(server.base_url + "/hook?key=querysecret", token=TOKEN, **FAST).send(make_alert())
    with pytest.raises(DeliveryError) as pagerduty_error:
        PagerDutyNotifier(ROUTING_KEY, url=server.base_url + "/v2/enqueue", **FAST).send(make_alert())
    assert "webhook" in str(webhook_error.value) and "pagerduty" in str(pagerduty_error.value)
    for error in (webhook_error.value, pagerduty_error.value):
        assert_no_secret(shown(error), TOKEN, ROUTING_KEY, "querysecret", server.base_url)


def test_client_error_is_not_retried(server):
    server.recorder.status = 400
    with pytest.raises(DeliveryError, match="HTTP 400"):
        PagerDutyNotifier(ROUTING_KEY, url=server.base_url + "/v2/enqueue", **FAST).send(make_alert())
    assert len(server.recorder.requests) == 1


def test_connection_refused_names_the_error_class_only(closed_port, caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3")
    url = f"http://127.0.0.1:{closed_port}{SECRET_PATH}"
    with pytest.raises(DeliveryError, match="slack.*NewConnectionError") as raised:
        SlackNotifier(url, **FAST).send(make_alert())
    assert_no_secret(shown(raised.value), SECRET_PATH, str(closed_port))
    assert any(record.levelno == logging.WARNING for record in caplog.records)  # urllib3's "Retrying ..."
    assert_no_secret(caplog.text, SECRET_PATH, "s3cr3t")


def test_timeout_is_applied(server):
    server.recorder.stalling = True
    with pytest.raises(DeliveryError, match="webhook.*ReadTimeoutError"):
        WebhookNotifier(server.base_url + "/hook", timeout=0.2, backoff_factor=0.01).send(make_alert())
    assert len(server.recorder.requests) == 4


def test_http_notifier_repr_hides_secrets(server):
    notifiers = [WebhookNotifier(server.base_url + SECRET_PATH, token=TOKEN),
                 SlackNotifier(server.base_url + SECRET_PATH), PagerDutyNotifier(ROUTING_KEY)]
    for notifier in notifiers:
        assert_no_secret(repr(notifier), SECRET_PATH, TOKEN, ROUTING_KEY)


# --- log notifier -----------------------------------------------------------------------------

def test_log_notifier_appends_one_json_line_per_alert(tmp_path):
    path = tmp_path / "home" / "alerts" / "alerts.jsonl"
    notifier = LogNotifier(path)
    notifier.send(make_alert())
    notifier.send(make_alert("resolve"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [make_alert().to_dict(), make_alert("resolve").to_dict()]


# --- build_notifier --------------------------------------------------------------------------

def test_build_notifier_each_kind(tmp_path):
    log_path = tmp_path / "alerts.jsonl"
    log = build_notifier("log", url=None, secret=None, log_path=log_path)
    assert isinstance(log, LogNotifier) and log.path == log_path
    webhook = build_notifier("webhook", url="https://alerts.example/hook", secret=TOKEN, log_path=log_path)
    assert isinstance(webhook, WebhookNotifier)
    slack = build_notifier("Slack", url="https://hooks.slack.example" + SECRET_PATH, secret=None,
                           log_path=log_path)
    assert isinstance(slack, SlackNotifier)
    pagerduty = build_notifier("pagerduty", url=None, secret=ROUTING_KEY, log_path=log_path)
    assert isinstance(pagerduty, PagerDutyNotifier)


def test_build_notifier_uses_the_given_pagerduty_url(server, tmp_path):
    notifier = build_notifier("pagerduty", url=server.base_url + "/custom", secret=ROUTING_KEY,
                              log_path=tmp_path / "a.jsonl")
    notifier.send(make_alert())
    assert server.recorder.requests[0]["path"] == "/custom"


@pytest.mark.parametrize("kind, url, secret, message", [
    ("slack", None, None, "slack needs INGEST_ALERT_URL"),
    ("webhook", None, TOKEN, "webhook needs INGEST_ALERT_URL"),
    ("pagerduty", "https://events.example/v2/enqueue", None, "pagerduty needs INGEST_ALERT_SECRET"),
    ("email", None, None, "unknown alert notifier 'email'.*log, webhook, slack, pagerduty"),
    ("slack", "ftp://hooks.example" + SECRET_PATH, None, "INGEST_ALERT_URL.*http:// or https://"),
    ("webhook", "not a url " + TOKEN, TOKEN, "INGEST_ALERT_URL"),
])
def test_build_notifier_errors_name_the_setting_not_the_secret(tmp_path, kind, url, secret, message):
    with pytest.raises(ValueError, match=message) as raised:
        build_notifier(kind, url=url, secret=secret, log_path=tmp_path / "a.jsonl")
    assert isinstance(raised.value, ConfigError)
    assert_no_secret(shown(raised.value), SECRET_PATH, TOKEN)


def test_notifier_from_env_defaults_to_the_log_under_home(tmp_path):
    notifier = notifier_from_env({}, home=tmp_path)
    assert isinstance(notifier, LogNotifier) and notifier.path == alert_log_path(tmp_path)
    slack = notifier_from_env({"INGEST_ALERT_KIND": "slack", "INGEST_ALERT_URL": "https://h.example/x/y"},
                              home=tmp_path)
    assert isinstance(slack, SlackNotifier)


# --- AlertState ------------------------------------------------------------------------------

class FlakyNotifier:
    """Records what it delivered; fails while `failures` is positive."""

    kind = "flaky"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryError("flaky alert delivery failed: HTTP 503")
        self.sent.append(alert)


KEY = "acme:chunks_not_empty"


def factory(action: str) -> Alert:
    return make_alert(action, key=KEY)


def test_state_triggers_once_resolves_once_and_stays_quiet_when_healthy(tmp_path):
    state = AlertState(tmp_path / "open_alerts.json")
    assert state.update(KEY, False, factory) is None  # healthy, nothing open
    assert state.open_keys() == set()
    first = state.update(KEY, True, factory)
    assert first is not None and first.action == "trigger"
    assert state.open_keys() == {KEY}
    assert state.update(KEY, True, factory) is None  # still failing: no repeat
    assert state.update(KEY, True, factory) is None
    resolved = state.update(KEY, False, factory)
    assert resolved is not None and resolved.action == "resolve"
    assert state.open_keys() == set()
    assert state.update(KEY, False, factory) is None


def test_state_keeps_keys_apart_and_persists_across_instances(tmp_path):
    path = tmp_path / "home" / "alerts" / "open_alerts.json"
    other = "globex:index_matches_manifest"
    AlertState(path).update(KEY, True, factory)
    AlertState(path).update(other, True, lambda action: make_alert(action, key=other, tenant="globex"))
    reopened = AlertState(path)
    assert reopened.open_keys() == {KEY, other}
    assert reopened.update(KEY, True, factory) is None
    assert reopened.update(KEY, False, factory).action == "resolve"
    assert AlertState(path).open_keys() == {other}
    assert [p.name for p in path.parent.iterdir()] == ["open_alerts.json"]  # atomic: no temp files left


def test_state_rejects_an_alert_for_another_key(tmp_path):
    state = AlertState(tmp_path / "s.json")
    with pytest.raises(ValueError, match="key"):
        state.update(KEY, True, lambda action: make_alert(action, key="someone-else"))
    assert state.open_keys() == set()


def test_unreadable_state_says_what_to_do(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="delete it"):
        AlertState(path).open_keys()


def test_deliver_retries_next_time_after_a_failed_send_and_never_repeats_a_delivered_one(tmp_path):
    state = AlertState(tmp_path / "s.json")
    notifier = FlakyNotifier(failures=1)
    with pytest.raises(DeliveryError):
        state.deliver(notifier, KEY, True, factory)
    assert state.open_keys() == set()  # not recorded, so the next evaluation tries again
    assert AlertState(tmp_path / "s.json").deliver(notifier, KEY, True, factory).action == "trigger"
    assert [a.action for a in notifier.sent] == ["trigger"]
    assert state.open_keys() == {KEY}
    assert state.deliver(notifier, KEY, True, factory) is None  # delivered: never again while failing
    assert len(notifier.sent) == 1

    notifier.failures = 1
    with pytest.raises(DeliveryError):
        state.deliver(notifier, KEY, False, factory)
    assert state.open_keys() == {KEY}  # the resolve is still owed
    assert state.deliver(notifier, KEY, False, factory).action == "resolve"
    assert state.deliver(notifier, KEY, False, factory) is None
    assert [a.action for a in notifier.sent] == ["trigger", "resolve"]
    assert state.open_keys() == set()


def test_deliver_over_http_with_a_flaky_server(server, tmp_path):
    state = AlertState(tmp_path / "s.json")
    notifier = PagerDutyNotifier(ROUTING_KEY, url=server.base_url + "/v2/enqueue", **FAST)
    server.recorder.fail_times = 4  # more than the retries of one delivery
    with pytest.raises(DeliveryError, match="pagerduty.*HTTP 500"):
        state.deliver(notifier, KEY, True, factory)
    assert state.open_keys() == set()
    assert state.deliver(notifier, KEY, True, factory).action == "trigger"
    assert state.deliver(notifier, KEY, True, factory) is None
    assert len(server.recorder.requests) == 5  # four failures, one success, nothing after
    assert server.recorder.requests[-1]["json"]["dedup_key"] == KEY
