"""The workers' fork server: ended once a large run needs no more workers, started again by the next pool."""

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver

import psutil
import pytest

from ingest.core.workers import stop_worker_server, worker_context
from ingest.parsing.preload import EVERYTHING


def _server_pid() -> int | None:
    return forkserver._forkserver._forkserver_pid


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def session_server_restored():
    """The session's server (every parser preloaded) is running again after the test, as the others expect."""
    yield
    worker_context(EVERYTHING)
    forkserver.ensure_running()


def test_stopping_the_server_ends_it_and_the_next_pool_starts_another(session_server_restored):
    context = worker_context(EVERYTHING)
    forkserver.ensure_running()
    first = _server_pid()
    assert stop_worker_server() is True
    assert _gone(first) and _server_pid() is None
    assert stop_worker_server() is False  # nothing left to stop
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        assert pool.submit(os.getpid).result() != os.getpid()
    assert _server_pid() not in (None, first)


def test_a_large_parse_ends_the_server_after_redaction_and_a_small_one_keeps_it(
        tenant, monkeypatch, session_server_restored):
    from ingest.parsing import stage
    from ingest.parsing.limits import ParseLimits
    from ingest.parsing.parse import ParseSettings

    def parse(limit: int) -> int:
        monkeypatch.setattr(stage, "RELEASE_WORKERS_MIN_DOCUMENTS", limit)
        tenant.source_stage()
        parsed, redacted = stage.parse_and_redact_stage(tenant.paths, ParseSettings(), "policy-v1",
                                                        lambda: tenant._redactor, limits=ParseLimits())
        assert parsed.metadata["quarantined"] == 0 and redacted.metadata["documents_redacted"] >= 1
        return parsed.metadata["parsed"]

    forkserver.ensure_running()
    running = _server_pid()
    assert parse(limit=1000) > 1  # the tenant's documents: fewer than the threshold
    assert _server_pid() == running
    (tenant.source / "added.md").write_text("# Added\n\nThe valve is checked every spring.\n", encoding="utf-8")
    assert parse(limit=1) == 1
    assert _server_pid() is None and _gone(running)
