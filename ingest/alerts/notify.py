"""On-call alerts for failed asset checks and failed runs.

An `Alert` says that one check of one tenant started failing ("trigger") or
recovered ("resolve"). `AlertState` remembers which alerts are open so a check
that keeps failing pages once, not on every evaluation, and `AlertState.deliver`
only records a transition after the notifier accepted it, so a failed delivery
is retried at the next evaluation instead of being lost.

Notifiers: a JSON-lines log under INGEST_HOME (the default), a generic JSON
webhook, a Slack incoming webhook and PagerDuty Events API v2. The HTTP ones
retry transient failures with urllib3's `Retry`. Webhook URLs, tokens and
routing keys are secrets (a Slack webhook URL *is* the credential): no error
message, repr or log line written here names them, and urllib3's own log lines
are scrubbed of them too.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import urllib3
from urllib3.util import Retry, Timeout, parse_url

from ingest.core.config import ingest_home
from ingest.core.errors import ConfigError
from ingest.core.files import atomic_write_text

ACTIONS = ("trigger", "resolve")
SEVERITIES = ("error", "warning", "info")
KINDS = ("log", "webhook", "slack", "pagerduty")

KIND_SETTING = "INGEST_ALERT_KIND"
URL_SETTING = "INGEST_ALERT_URL"
SECRET_SETTING = "INGEST_ALERT_SECRET"

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SOURCE = "tenant-ingest"
PAGERDUTY_GROUP = "ingestion"
# PagerDuty knows critical/error/warning/info; nothing here is "critical" on its own.
PAGERDUTY_SEVERITY = {"error": "error", "warning": "warning", "info": "info"}

RETRY_STATUSES = (429, 500, 502, 503, 504)
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_BACKOFF_FACTOR = 0.5
RETRY_AFTER_MAX_S = 30  # a Retry-After of hours must not stall a sensor tick

# Slack Block Kit limits (fields per section, characters per text object).
SLACK_MAX_FIELDS = 10
SLACK_FIELD_CHARS = 2000
SLACK_TEXT_CHARS = 3000
PAGERDUTY_SUMMARY_CHARS = 1024


def utc_now() -> str:
    """The current time for `Alert.at`, ISO 8601 in UTC (as the audit log writes it)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def alert_log_path(home: Path) -> Path:
    """Where LogNotifier writes when no other notifier is configured."""
    return home / "alerts" / "alerts.jsonl"


def alert_state_path(home: Path) -> Path:
    """Where AlertState keeps the open alerts."""
    return home / "alerts" / "open_alerts.json"


@dataclass(frozen=True, slots=True)
class Alert:
    """One transition of one check: it started failing (trigger) or recovered (resolve).

    `key` identifies the failing thing across evaluations (PagerDuty's dedup_key),
    so the trigger and the resolve of one incident must share it.
    """

    key: str
    action: str
    tenant: str
    check: str
    severity: str
    summary: str
    details: dict
    run_url: str | None
    next_step: str
    at: str

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("an alert needs a non-empty key")
        if self.action not in ACTIONS:
            raise ValueError(f"alert action must be one of {', '.join(ACTIONS)}, not {self.action!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert severity must be one of {', '.join(SEVERITIES)}, not {self.severity!r}")
        for name in ("summary", "next_step"):
            if "\n" in getattr(self, name) or "\r" in getattr(self, name):
                raise ValueError(f"alert {name} must be one line")
        try:
            json.dumps(self.details, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"alert details must be JSON-serialisable: {error}") from None

    def to_dict(self) -> dict:
        return asdict(self)


class Notifier(Protocol):
    """Something that delivers alerts; `send` raises DeliveryError when it could not."""

    kind: str

    def send(self, alert: Alert) -> None: ...


class DeliveryError(RuntimeError):
    """An alert could not be delivered, even after retries.

    The message names the notifier kind and the HTTP status or error class only:
    never the URL, token or routing key.
    """


# --- keeping secrets out of urllib3's log lines -----------------------------------------

class _RedactSecrets(logging.Filter):
    """urllib3 logs request paths (a Slack webhook's secret) when it retries; scrub them."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            known = set(self._secrets) | {s for s in secrets if s and len(s) >= 4}
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to break
            return True
        redacted = message
        for secret in secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT = _RedactSecrets()
# Filters on a logger apply to records created there, so attach to each that logs URLs.
for _logger_name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry"):
    logging.getLogger(_logger_name).addFilter(_REDACT)


def _url_secrets(url: str) -> list[str]:
    """The parts of a URL that may carry a credential: the whole URL, and path plus query."""
    parsed = parse_url(url)
    request_uri = parsed.request_uri
    return [url] + ([request_uri] if request_uri not in ("", "/") else [])


def _checked_url(url: str, kind: str) -> str:
    try:
        parsed = parse_url(url)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        # The URL itself may be the secret, so it is not echoed.
        raise ValueError(f"the {kind} URL must be an http:// or https:// URL with a host")
    return url


# --- notifiers ----------------------------------------------------------------------------

class LogNotifier:
    """Appends one JSON line per alert: the default, so alerts are never silently dropped."""

    kind = "log"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(alert.to_dict(), sort_keys=True) + "\n"
        with self.path.open("a", encoding="utf-8") as log:
            log.write(line)

    def __repr__(self) -> str:
        return f"LogNotifier({str(self.path)!r})"


class _HttpNotifier:
    """POSTs JSON with retries on connection errors and 429/5xx, and a timeout.

    Not a dataclass on purpose: a generated repr would print the URL and secrets.
    """

    kind = "http"

    def __init__(self, *, timeout: float, backoff_factor: float, secrets: Iterable[str | None]) -> None:
        _REDACT.add(*secrets)
        retry = Retry(
            total=3,
            backoff_factor=backoff_factor,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"POST"}),  # alerts are deduplicated downstream, so a repeat is harmless
            raise_on_status=False,  # give back the last response so its status can be reported
            retry_after_max=RETRY_AFTER_MAX_S,
        )
        self._http = urllib3.PoolManager(retries=retry, timeout=Timeout(connect=timeout, read=timeout))

    def _post(self, url: str, body: dict, headers: Mapping[str, str] | None = None) -> None:
        request_headers = {"Content-Type": "application/json", "User-Agent": "tenant-ingest-alerts"}
        request_headers.update(headers or {})
        try:
            # No redirects: a webhook that redirects is misconfigured, and a POST must not turn into a GET.
            response = self._http.request("POST", url, body=json.dumps(body).encode("utf-8"),
                                          headers=request_headers, redirect=False)
        except urllib3.exceptions.MaxRetryError as error:
            reason = type(error.reason).__name__ if error.reason is not None else "MaxRetryError"
            # `from None`: the chained urllib3 exception's message contains the URL.
            raise DeliveryError(f"{self.kind} alert delivery failed after retries: {reason}") from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise DeliveryError(f"{self.kind} alert delivery failed: {type(error).__name__}") from None
        if not 200 <= response.status < 300:
            raise DeliveryError(f"{self.kind} alert delivery failed: HTTP {response.status}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"


class WebhookNotifier(_HttpNotifier):
    """POSTs the alert's JSON (Alert.to_dict) to any URL, with a bearer token when given."""

    kind = "webhook"

    def __init__(self, url: str, token: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_S,
                 backoff_factor: float = DEFAULT_BACKOFF_FACTOR) -> None:
        self._url = _checked_url(url, self.kind)
        self._token = token
        super().__init__(timeout=timeout, backoff_factor=backoff_factor, secrets=[*_url_secrets(url), token])

    def send(self, alert: Alert) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        self._post(self._url, alert.to_dict(), headers)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    """Slack reads &, < and > as markup; escape them so a summary cannot inject links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _detail_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class SlackNotifier(_HttpNotifier):
    """Posts to a Slack incoming webhook: a one-line `text` (for notifications) and Block Kit blocks."""

    kind = "slack"

    def __init__(self, webhook_url: str, *, timeout: float = DEFAULT_TIMEOUT_S,
                 backoff_factor: float = DEFAULT_BACKOFF_FACTOR) -> None:
        self._url = _checked_url(webhook_url, self.kind)
        super().__init__(timeout=timeout, backoff_factor=backoff_factor, secrets=_url_secrets(webhook_url))

    @staticmethod
    def payload(alert: Alert) -> dict:
        """The message body, separate from sending so its shape is easy to see and test."""
        line = f"[{alert.action.upper()}] {alert.tenant}/{alert.check}: {alert.summary}"
        fields = [("Tenant", alert.tenant), ("Check", alert.check), ("Severity", alert.severity)]
        fields += [(str(name), _detail_text(value)) for name, value in alert.details.items()]
        blocks: list[dict] = [
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": _clip(f"*{_slack_escape(line)}*", SLACK_TEXT_CHARS)}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": _clip(f"*{_slack_escape(name)}*\n{_slack_escape(value)}",
                                                 SLACK_FIELD_CHARS)}
                for name, value in fields[:SLACK_MAX_FIELDS]]},
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(
                f"*Next step:* {_slack_escape(alert.next_step)}", SLACK_TEXT_CHARS)}},
        ]
        if alert.run_url:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(
                f"<{alert.run_url}|View the Dagster run>", SLACK_TEXT_CHARS)}})
        return {"text": _clip(_slack_escape(line), SLACK_TEXT_CHARS), "blocks": blocks}

    def send(self, alert: Alert) -> None:
        self._post(self._url, self.payload(alert))


class PagerDutyNotifier(_HttpNotifier):
    """Sends PagerDuty Events API v2 events; alert.key is the dedup_key, so resolve closes the trigger."""

    kind = "pagerduty"

    def __init__(self, routing_key: str, url: str = PAGERDUTY_EVENTS_URL, *,
                 timeout: float = DEFAULT_TIMEOUT_S, backoff_factor: float = DEFAULT_BACKOFF_FACTOR) -> None:
        if not routing_key:
            raise ValueError("pagerduty needs a routing key")
        self._routing_key = routing_key
        self._url = _checked_url(url, self.kind)
        super().__init__(timeout=timeout, backoff_factor=backoff_factor, secrets=[routing_key])

    def payload(self, alert: Alert) -> dict:
        """The event body: the full form for a trigger, only the keys PagerDuty needs for a resolve."""
        event = {"routing_key": self._routing_key, "event_action": alert.action, "dedup_key": alert.key}
        if alert.action == "resolve":
            return event
        event["payload"] = {
            "summary": _clip(alert.summary, PAGERDUTY_SUMMARY_CHARS),
            "source": PAGERDUTY_SOURCE,
            "severity": PAGERDUTY_SEVERITY[alert.severity],
            "component": alert.tenant,
            "group": PAGERDUTY_GROUP,
            "class": alert.check,
            "custom_details": {**alert.details, "next_step": alert.next_step},
        }
        if alert.run_url:
            event["links"] = [{"href": alert.run_url, "text": "Dagster run"}]
        return event

    def send(self, alert: Alert) -> None:
        self._post(self._url, self.payload(alert))


def build_notifier(kind: str, *, url: str | None, secret: str | None, log_path: Path) -> Notifier:
    """The notifier for a configured kind; errors name the missing setting, never a secret's value."""
    kind = (kind or "log").strip().lower()
    if kind not in KINDS:
        raise ConfigError(f"unknown alert notifier {kind!r} in {KIND_SETTING}: use one of {', '.join(KINDS)}")
    if kind == "log":
        return LogNotifier(log_path)
    try:
        if kind == "webhook":
            if not url:
                raise ConfigError(f"webhook needs {URL_SETTING} (the URL to POST alerts to)")
            return WebhookNotifier(url, token=secret or None)
        if kind == "slack":
            if not url:
                raise ConfigError(f"slack needs {URL_SETTING} (the Slack incoming-webhook URL)")
            return SlackNotifier(url)
        if not secret:
            raise ConfigError(f"pagerduty needs {SECRET_SETTING} (the Events API v2 routing key)")
        return PagerDutyNotifier(secret, url=url or PAGERDUTY_EVENTS_URL)
    except ConfigError:
        raise
    except ValueError as error:
        raise ConfigError(f"{URL_SETTING}: {error}") from None


def notifier_from_env(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Notifier:
    """The notifier the environment asks for: INGEST_ALERT_KIND (default log), _URL and _SECRET."""
    environ = os.environ if environ is None else environ
    return build_notifier(environ.get(KIND_SETTING) or "log", url=environ.get(URL_SETTING) or None,
                          secret=environ.get(SECRET_SETTING) or None,
                          log_path=alert_log_path(home or ingest_home()))


# --- open alerts --------------------------------------------------------------------------

def _transition(is_open: bool, failing: bool) -> str | None:
    if failing and not is_open:
        return "trigger"
    if is_open and not failing:
        return "resolve"
    return None


class AlertState:
    """The open alerts, in a JSON file written atomically.

    The file is read on every call rather than cached, so two instances (say, a
    sensor tick and a CLI command) see each other's changes. Writes are not
    locked: one evaluator per state file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            open_alerts = data["open"]
            if not isinstance(open_alerts, dict):
                raise TypeError("'open' is not an object")
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"alert state {self.path} is unreadable ({error}); delete it to start afresh "
                              "(open alerts will then trigger again)") from None
        return open_alerts

    def _save(self, open_alerts: dict[str, str]) -> None:
        atomic_write_text(self.path, json.dumps({"open": open_alerts}, indent=2, sort_keys=True) + "\n")

    def _record(self, alert: Alert) -> None:
        open_alerts = self._load()
        if alert.action == "trigger":
            open_alerts[alert.key] = alert.at
        else:
            open_alerts.pop(alert.key, None)
        self._save(open_alerts)

    def _next(self, key: str, failing: bool, make_alert: Callable[[str], Alert]) -> Alert | None:
        action = _transition(key in self._load(), failing)
        if action is None:
            return None
        alert = make_alert(action)
        if alert.key != key or alert.action != action:
            raise ValueError(f"make_alert({action!r}) for key {key!r} returned a {alert.action!r} alert "
                             f"for key {alert.key!r}")
        return alert

    def open_keys(self) -> set[str]:
        return set(self._load())

    def update(self, key: str, failing: bool, make_alert: Callable[[str], Alert]) -> Alert | None:
        """Record the transition, if any, and return its alert; the caller sends it.

        Prefer `deliver`: here the state is saved before sending, so a failed send is not retried.
        """
        alert = self._next(key, failing, make_alert)
        if alert is not None:
            self._record(alert)
        return alert

    def deliver(self, notifier: Notifier, key: str, failing: bool,
                make_alert: Callable[[str], Alert]) -> Alert | None:
        """Send the transition's alert, if any, and only then record it.

        A DeliveryError leaves the state as it was, so the next evaluation sends
        again; a delivered alert is recorded and never sent twice.
        """
        alert = self._next(key, failing, make_alert)
        if alert is not None:
            notifier.send(alert)
            self._record(alert)
        return alert
