"""Shared fixtures. Models are real and loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

import ingest  # noqa: F401  (offline environment before any model library is imported)
from ingest.synthetic import Section


@pytest.fixture(scope="session")
def embedder():
    from ingest.embed import Embedder

    return Embedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def redactor():
    from ingest.redact import Redactor

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
