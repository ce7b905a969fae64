"""Shared fixtures. Models are real and loaded once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ingest  # noqa: F401  (offline environment before any model library is imported)
from benchmarks.corpus import Section
from tests.e2e.commands import STARTS

# Transient failures are still retried twice, with backoff, but after 1 s rather than 10: the tests that
# fail a step on purpose (a locked store, a broken Qdrant server) wait seconds, not half a minute. Set
# before the Dagster definitions are imported; the `ingest` commands the tests start inherit it.
os.environ.setdefault("INGEST_RETRY_DELAY_SECONDS", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests first (a stable sort: files stay whole and in order). `make test` hands files to
    one worker per core in this order, so the long ones start early and the short ones fill the gaps."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker of a parallel run hands its count of `ingest` processes to the controller."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["ingest_starts"] = dict(STARTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    STARTS.update(getattr(node, "workeroutput", {}).get("ingest_starts", {}))


def pytest_terminal_summary(terminalreporter) -> None:
    if not STARTS:
        return
    terminalreporter.write_sep("-", f"`ingest` processes started: {sum(STARTS.values())}")
    for path, count in sorted(STARTS.items()):
        terminalreporter.write_line(f"{count:4d}  {path}")


@pytest.fixture(scope="session", autouse=True)
def converted_models_dir(tmp_path_factory) -> Path:
    """One folder of converted models for the whole session (the `ingest` commands the tests start
    inherit it), so the embedding model is converted once, not in every test's INGEST_HOME. The workers
    of a parallel run share it (the parent of their own temporary folders); a conversion is published
    by one rename, so two at once leave one whole model."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "converted-models"
        folder.mkdir(exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("converted-models")
    previous = os.environ.get("INGEST_MODELS_DIR")
    os.environ["INGEST_MODELS_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("INGEST_MODELS_DIR", None)
    else:
        os.environ["INGEST_MODELS_DIR"] = previous


@pytest.fixture(scope="session", autouse=True)
def fork_server_with_every_parser() -> None:
    """Start this test process's fork server with every parser and the redaction detector.

    A run's process starts its server for its first batch of documents, with that batch's parsers
    (ingest.parsing.preload), and ends after it. A test process runs hundreds of batches of every kind on
    one server: started for a small first batch, it would leave every later batch to load the detector
    and the parsers in each worker. The `ingest` commands of the end-to-end tests are processes of
    their own, which preload per batch."""
    from multiprocessing import forkserver

    from ingest.core.workers import worker_context
    from ingest.parsing.preload import EVERYTHING

    worker_context(EVERYTHING)
    forkserver.ensure_running()


@pytest.fixture(scope="session")
def embedder(converted_models_dir):
    """The embedding model as the pipeline loads it by default (INGEST_EMBED_BACKEND=auto)."""
    from ingest.embedding.embed import Embedder

    return Embedder("all-MiniLM-L6-v2", cache_dir=converted_models_dir)


@pytest.fixture(scope="session")
def hugging_face_tokenizer():
    """The embedding model's own tokenizer as transformers loads it: what our token counts must match."""
    from transformers import AutoTokenizer

    from ingest.embedding.embed import resolve_model_path

    return AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"), local_files_only=True)


@pytest.fixture(scope="session")
def redactor():
    from ingest.pii.redact import Redactor

    return Redactor()


@pytest.fixture
def sections() -> list[Section]:
    return [
        Section("Returns policy", (
            "Customers may return any unused item within 45 days of delivery for a full refund.",
            "Refunds are issued to the original payment method within five business days.",
        )),
        Section("Shipping", ("We ship worldwide with tracked couriers in three to five working days.",)),
    ]


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    return folder
