"""No egress: the whole pipeline runs, answers queries and passes `ingest doctor` with no network but loopback.

Two layers, both real: the `ingest` commands run in a network namespace of their own that has only a
loopback interface (`unshare --net`), so any outbound connection fails; and every Python process they
start (worker processes included) records, through an audit hook, each name it tries to resolve and
each address it tries to reach other than loopback. A library that quietly tries the network and
falls back (a suffix list, a model hub, telemetry) shows up in that record even though it did not
break the run. The hook also records that it guards each process: at interpreter start (the `ingest`
commands, the fork server) and in every process forked from one (the parse and redaction workers), so
an empty record of attempts cannot come from processes the hook never reached.

Without a network namespace the tests that need one are skipped, except where the environment variable
CI is set: CI runs as root, where `unshare --net` works, so there the missing namespace is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.corpus import Section, write_eml, write_markdown, write_scanned_pdf, write_text_pdf
from tests.e2e.commands import FOREIGN, INGEST, count_start

pytestmark = pytest.mark.e2e

LOOPBACK = ("127.0.0.1", "::1", "localhost", "0.0.0.0", "")

AUDIT_HOOK = f'''
import json, os, socket, sys

_LOG = os.environ["EGRESS_AUDIT_LOG"]
_LOOPBACK = {LOOPBACK!r}
_GUARDING = "egress_audit.guarding"


def _record(kind, target, **extra):
    with open(_LOG, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({{"pid": os.getpid(), "ppid": os.getppid(), "kind": kind, "target": str(target),
                                  "argv": sys.argv[:2], **extra}}) + "\\n")


def _hook(event, args):
    if event == _GUARDING:  # recorded by the hook itself: it is installed in this process
        _record("guarding", "", forked=args[0])
    elif event == "socket.getaddrinfo":
        host = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if host not in _LOOPBACK and host is not None:
            _record("resolve", host)
    elif event == "socket.connect":
        sock, address = args
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOOPBACK:
            _record("connect", address)


sys.addaudithook(_hook)
sys.audit(_GUARDING, False)
os.register_at_fork(after_in_child=lambda: sys.audit(_GUARDING, True))
'''


def _namespace_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


def read_log(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory) -> dict:
    if not _namespace_available():
        reason = "needs `unshare --net` (root or user namespaces) to take the network away"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI runs as root, where it is available", pytrace=False)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("no-egress")
    source, home, hook = base / "source", base / "home", base / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(AUDIT_HOOK, encoding="utf-8")
    write_markdown(source / "guide.md", [Section("Opening hours", (
        "The reading room opens at nine and closes at five on weekdays.",
        "Questions go to Harriet Lindqvist at harriet.lindqvist@example.org.",))])
    write_text_pdf(source / "rules.pdf", [Section("Rules", ("Bags are left in the lockers by the entrance.",))])
    write_scanned_pdf(source / "notice.pdf", [["Scanned notice", "The archive is closed on public holidays."]])
    write_eml(source / "mail.eml", sender="desk@example.org", to="staff@example.org", subject="Lockers",
              body="The lockers take a one euro coin, returned when you open them.")
    log = base / "audit.jsonl"
    env = {key: value for key, value in os.environ.items() if key not in (*FOREIGN, "INGEST_MODELS_DIR")}
    env.update({"INGEST_HOME": str(home), "EGRESS_AUDIT_LOG": str(log), "PYTHONPATH": str(hook)})

    def offline(*args: str) -> subprocess.CompletedProcess:
        # a namespace with only loopback, brought up so local services (none by default) could listen
        command = f"ip link set lo up && exec {INGEST} " + " ".join(f"'{arg}'" for arg in args)
        count_start()
        return subprocess.run(["unshare", "--net", "sh", "-c", command], capture_output=True, text=True,
                              env=env, timeout=900)

    run = offline("run", "--tenant", "library", "--source", str(source), "--json")
    query = offline("query", "--tenant", "library", "--json", "when is the archive closed")
    doctor = offline("doctor")
    records = read_log(log)
    return {"run": run, "query": query, "doctor": doctor,
            "attempts": [r for r in records if r["kind"] != "guarding"],
            "guarded": [r for r in records if r["kind"] == "guarding"], "log": log, "home": home}


def test_the_pipeline_runs_with_no_network(offline_run):
    run = offline_run["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["docs"]["seen"] == 4 and summary["docs"]["quarantined"] == 0
    assert summary["chunks"]["total"] >= 4


def test_doctor_finds_everything_the_pipeline_loads_with_no_network(offline_run):
    doctor = offline_run["doctor"]
    assert doctor.returncode == 0, doctor.stderr[-3000:]
    for check in ("tesseract", "spaCy en_core_web_sm", "spaCy en_core_web_md", "embedding model", "embedding backend"):
        assert f"ok  {check}" in doctor.stderr, check


def test_queries_answer_with_no_network(offline_run):
    query = offline_run["query"]
    assert query.returncode == 0, query.stderr[-3000:]
    [answer] = [json.loads(line) for line in query.stdout.splitlines() if line.strip()]
    assert answer["hits"][0]["source"] == "notice.pdf"  # found through OCR, offline


def test_the_embedding_model_was_converted_offline_in_this_run(offline_run):
    """The run started with no converted model, so the conversion (whose library reports usage over the
    network when its telemetry package is importable) happened inside the audited, offline run."""
    assert list((offline_run["home"] / "models").rglob("model.xml")), "the run did not convert the model"


def test_the_hook_guarded_the_commands_and_the_workers_they_forked(offline_run):
    guarded = offline_run["guarded"]
    started = {record["pid"]: record for record in guarded if not record["forked"]}
    commands = [record["argv"] for record in started.values() if record["argv"][0] == INGEST]
    assert sorted(commands) == [[INGEST, "doctor"], [INGEST, "query"], [INGEST, "run"]]
    # workers forked from a guarded process (the fork server) carry the hook: it recorded them itself
    workers = [record for record in guarded if record["forked"] and record["ppid"] in started]
    assert workers, guarded


def test_no_process_even_tried_to_reach_the_network(offline_run):
    assert offline_run["guarded"], "the hook recorded nothing: it guarded no process"
    assert offline_run["attempts"] == []


def test_the_audit_hook_records_an_attempt_in_a_process_and_in_its_forked_child(tmp_path):
    """The record above is empty because nothing tried, not because the hook is deaf or lost in a fork."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(AUDIT_HOOK, encoding="utf-8")
    log = tmp_path / "audit.jsonl"
    env = {**os.environ, "EGRESS_AUDIT_LOG": str(log), "PYTHONPATH": str(hook)}
    code = ("import os, socket\n"
            "def attempt(port):\n"
            "    try:\n        socket.create_connection(('192.0.2.1', port), timeout=0.2)\n"
            "    except OSError:\n        pass\n"
            "attempt(80)\n"
            "child = os.fork()\n"
            "if child == 0:\n    attempt(81)\n    os._exit(0)\n"
            "os.waitpid(child, 0)\n")
    process = subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    records = read_log(log)
    [parent] = [r for r in records if r["kind"] == "guarding" and not r["forked"]]
    [child] = [r for r in records if r["kind"] == "guarding" and r["forked"]]
    assert parent["argv"] == ["-c"] and child["ppid"] == parent["pid"] and process.returncode == 0
    attempts = [r for r in records if r["kind"] != "guarding"]
    assert {(r["pid"], r["kind"]) for r in attempts} == {
        (parent["pid"], "resolve"), (parent["pid"], "connect"), (child["pid"], "resolve"), (child["pid"], "connect")}
    assert all("192.0.2.1" in attempt["target"] for attempt in attempts)
