"""The check functions on hand-made pipeline state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from ingest.core import tables
from ingest.core.files import atomic_write_text, write_parquet
from ingest.core.storage import TenantPaths
from ingest.index.qdrant import IndexPoint, QdrantSettings, TenantIndex, open_qdrant
from ingest.quality import checks


@pytest.fixture
def paths(tmp_path) -> TenantPaths:
    paths = TenantPaths.for_tenant(tmp_path, "acme")
    documents = tables.frame([
        {"doc_id": "d1", "source": "a.md", "path": "/x/a.md", "sha256": "1", "size": 1, "modified_at": 0.0,
         "file_type": "md", "mime_type": "text/markdown", "change": "new"},
        {"doc_id": "d2", "source": "b.md", "path": "/x/b.md", "sha256": "2", "size": 1, "modified_at": 0.0,
         "file_type": "md", "mime_type": "text/markdown", "change": "new"},
    ], tables.SOURCE_DOCUMENTS)
    write_parquet(documents, paths.source_documents)
    return paths


def chunk(doc_id: str, index: int, text: str, tokens: int) -> dict:
    return {"doc_id": doc_id, "chunk_index": index, "text": text, "start": 0, "end": len(text),
            "token_count": tokens, "section_path": [], "pages": [], "element_types": ["NarrativeText"],
            "ocr": False}


def test_chunk_sanity_fails_on_empty_and_over_limit_chunks_and_counts_duplicates(paths):
    write_parquet(tables.frame([chunk("d1", 0, "fine text", 3), chunk("d1", 1, "  ", 0),
                                chunk("d2", 0, "fine text", 3), chunk("d2", 1, "long " * 300, 300)],
                               tables.CHUNKS), paths.chunks)
    outcome = checks.chunk_sanity(paths, token_limit=200)
    assert not outcome.passed and outcome.severity == checks.ERROR
    assert outcome.metadata["empty"] == ["a.md#1"] and outcome.metadata["over_limit"] == ["b.md#1"]
    assert outcome.metadata["duplicate_copies"] == 1 and outcome.metadata["duplicated_in"] == ["a.md", "b.md"]


def test_chunk_sanity_passes_clean_chunks_and_warns_only_for_duplicates(paths):
    write_parquet(tables.frame([chunk("d1", 0, "one", 1), chunk("d2", 0, "one", 1)], tables.CHUNKS),
                  paths.chunks)
    outcome = checks.chunk_sanity(paths, token_limit=200)
    assert outcome.passed and outcome.severity == checks.WARN and outcome.metadata["duplicate_copies"] == 1


def test_index_consistency_names_documents_with_missing_and_stale_points(paths, tmp_path):
    settings = QdrantSettings(path=tmp_path / "qdrant")
    enriched = pl.DataFrame({"point_id": ["00000000-0000-0000-0000-000000000001",
                                          "00000000-0000-0000-0000-000000000002"],
                             "source": ["a.md", "b.md"]})
    write_parquet(enriched, paths.enriched_chunks)
    with open_qdrant(settings, "acme") as client:
        index = TenantIndex(client, "acme")
        staging = index.prepare_staging("model-1-0000abcd", 4)
        index.upsert([IndexPoint("00000000-0000-0000-0000-000000000001", [1, 0, 0, 0],
                                 {"tenant": "acme", "source": "a.md"}),
                      IndexPoint("00000000-0000-0000-0000-000000000009", [0, 1, 0, 0],
                                 {"tenant": "acme", "source": "gone.md"})],
                     staging)
    atomic_write_text(paths.staging, json.dumps({"collection": staging}))
    outcome = checks.index_consistency("acme", paths, settings, dimension=4)
    assert not outcome.passed and outcome.severity == checks.ERROR
    assert outcome.metadata["documents_missing_points"] == ["b.md"]
    assert outcome.metadata["documents_with_stale_points"] == ["gone.md"]
    assert not checks.index_consistency("acme", paths, settings, dimension=8).passed


@pytest.mark.parametrize(("hours", "passed", "severity"), [(2, True, "WARN"), (30, False, "WARN"),
                                                            (40, False, "ERROR")])
def test_index_freshness_warns_then_fails_with_age(paths, hours, passed, severity):
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    published = (now - timedelta(hours=hours)).isoformat()
    atomic_write_text(paths.published, json.dumps({"at": published, "run_id": "r1", "collection": "c"}))
    outcome = checks.index_freshness(paths, now, warn_hours=26, fail_hours=36)
    assert (outcome.passed, outcome.severity) == (passed, severity)
    assert outcome.metadata["age_hours"] == hours


def test_index_freshness_of_a_never_published_tenant_is_a_warning(paths):
    outcome = checks.index_freshness(paths, datetime.now(UTC), warn_hours=26, fail_hours=36)
    assert not outcome.passed and outcome.severity == checks.WARN


def test_pii_residue_counts_types_per_source_without_values(paths):
    elements = pl.DataFrame({"doc_id": ["d1", "d2"], "text": ["Write to <EMAIL_ADDRESS> today.",
                                                              "Card 4111 1111 1111 1111, mail bo@example.com"]})
    write_parquet(elements, paths.redacted_elements)
    outcome = checks.pii_residue(paths)
    assert not outcome.passed and outcome.severity == checks.ERROR
    assert outcome.metadata["documents"] == {"b.md": {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}}
    assert "bo@example.com" not in json.dumps(outcome.metadata) and "4111" not in json.dumps(outcome.metadata)


def test_pii_residue_scans_each_document_version_once_and_remembers_what_it_found(paths):
    elements = pl.DataFrame({"doc_id": ["d1", "d2"], "text": ["Nothing here.", "Mail bo@example.com now."],
                             "fingerprint": ["f1", "f2"]})
    write_parquet(elements, paths.redacted_elements)
    first = checks.pii_residue(paths)
    cache = json.loads((paths.root / "residue.json").read_text())
    assert cache == {"f1": {}, "f2": {"EMAIL_ADDRESS": 1}} and "bo@example.com" not in json.dumps(cache)
    # The same versions again: answered from the remembered counts, with the same verdict.
    write_parquet(elements.with_columns(pl.lit("changed text, not rescanned").alias("text")),
                  paths.redacted_elements)
    again = checks.pii_residue(paths)
    assert (again.passed, again.metadata["documents"]) == (first.passed, {"b.md": {"EMAIL_ADDRESS": 1}})
    # A new version of d2 is scanned afresh; the old version's entry is dropped.
    write_parquet(pl.DataFrame({"doc_id": ["d1", "d2"], "text": ["Nothing here.", "Mail <EMAIL_ADDRESS>."],
                                "fingerprint": ["f1", "f3"]}), paths.redacted_elements)
    assert checks.pii_residue(paths).passed
    assert json.loads((paths.root / "residue.json").read_text()) == {"f1": {}, "f3": {}}
