"""Helpers shared by the unit tests (the session-wide model fixtures live in tests/conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.sources import scan_source

WORD = re.compile(r"\w+|[^\w\s]")


def word_offsets(text: str) -> list[tuple[int, int]]:
    """A tiny stand-in tokenizer: one token per word or punctuation mark."""
    return [match.span() for match in WORD.finditer(text)]


@pytest.fixture
def scan_one():
    """The SourceDocument of one file, as scan_source sees it inside its folder."""

    def scan(path: Path, tenant: str = "acme"):
        documents = {Path(d.path).name: d for d in scan_source(tenant, path.parent)}
        return documents[path.name]

    return scan
