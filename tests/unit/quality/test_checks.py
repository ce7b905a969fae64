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


def _coverage_state(tmp_path, documents: dict[str, tuple[int, dict]]) -> TenantPaths:
    """source -> (file size, parsed_documents fields) written as the parse stage would."""
    paths = TenantPaths.for_tenant(tmp_path, "acme")
    sources, parsed = [], []
    for n, (source, (size, fields)) in enumerate(documents.items()):
        kind = source.rsplit(".", 1)[1]
        sources.append({"doc_id": f"d{n}", "source": source, "path": f"/x/{source}", "sha256": str(n), "size": size,
                        "modified_at": 0.0, "file_type": kind, "mime_type": "x", "change": "new"})
        parsed.append({"doc_id": f"d{n}", "parser": "p", "pages": 1, "ocr_pages": 0, "elements": 1,
                       "ocr_confidence": None, "quarantine_reason": None, "strategy": "", "parse_seconds": 0.1,
                       "layout_pages": 0, "fallback_pages": 0, "text_chars": 0, "ocr_chars": 0,
                       "text_layer_chars": None, **fields})
    write_parquet(tables.frame(sources, tables.SOURCE_DOCUMENTS), paths.source_documents)
    write_parquet(tables.frame(parsed, tables.PARSED_DOCUMENTS), paths.parsed_documents)
    return paths


GOOD = {
    "report.pdf": (90_000, {"text_layer_chars": 8000, "text_chars": 7900, "layout_pages": 2}),
    "merged.pdf": (90_000, {"text_layer_chars": 12000, "text_chars": 12000, "layout_pages": 1, "fallback_pages": 2}),
    "notes.txt": (10_000, {"text_chars": 7800}),
    "page.html": (40_000, {"text_chars": 3000}),
    "scan.png": (300_000, {"ocr_confidence": 91.0, "ocr_chars": 400}),
    "memo.docx": (20_000, {"text_chars": 50}),  # no estimate for Office files
    "tiny.md": (60, {"text_chars": 5}),  # too small to judge
}


def test_parse_coverage_passes_documents_that_yield_what_their_estimate_expects(tmp_path):
    outcome = checks.parse_coverage(_coverage_state(tmp_path, GOOD), min_ratio=0.5)
    assert outcome.passed and outcome.severity == checks.WARN
    meta = outcome.metadata
    assert (meta["judged"], meta["not_judged"], meta["low_coverage"]) == (5, 2, [])
    assert meta["by_basis"] == {"file-size": 2, "ocr-confidence": 1, "text-layer": 2}
    assert meta["documents_with_fallback"] == 1  # the fallback recovered its pages: no warning


def test_parse_coverage_warns_and_lists_the_worst_documents_with_their_numbers(tmp_path):
    bad = {
        "lost.pdf": (90_000, {"text_layer_chars": 12000, "text_chars": 4000, "layout_pages": 3}),  # 2 of 3 pages
        "stub.html": (50_000, {"text_chars": 100}),  # expected 2,500 at 0.05 a byte
        "blurred.png": (300_000, {"ocr_confidence": 35.0, "ocr_chars": 80}),
        "broken.pdf": (10, {"quarantine_reason": "corrupt: unreadable PDF", "text_chars": 0}),
    }
    outcome = checks.parse_coverage(_coverage_state(tmp_path, GOOD | bad), min_ratio=0.5)
    assert not outcome.passed and outcome.severity == checks.WARN
    meta = outcome.metadata
    assert meta["low_coverage"] == ["stub.html", "lost.pdf", "blurred.png"]  # worst first
    assert meta["worst"][:2] == [
        {"source": "stub.html", "basis": "file-size", "extracted": 100, "expected": 2500, "ratio": 0.04},
        {"source": "lost.pdf", "basis": "text-layer", "extracted": 4000, "expected": 12000, "ratio": 0.333}]
    assert meta["worst"][2]["basis"] == "ocr-confidence" and meta["worst"][2]["ratio"] == 0.35
    assert len(meta["worst"]) == checks.WORST_LISTED and meta["judged"] == 8  # quarantined: not judged here
    assert "stub.html" in outcome.description and "3 of 8" in outcome.description


def test_retrieval_quality_measures_every_mode_once_and_an_unchanged_index_asks_nothing(paths, tmp_path):
    """The other modes' figures are kept with the evaluation: an unchanged index re-run loads no model."""
    from ingest.quality.golden import Thresholds

    settings = QdrantSettings(path=tmp_path / "qdrant")
    with open_qdrant(settings, "acme") as client:
        index = TenantIndex(client, "acme")
        staging = index.prepare_staging("model-1-0000abcd", 4)
        index.upsert([IndexPoint("00000000-0000-0000-0000-000000000001", [1, 0, 0, 0],
                                 {"tenant": "acme", "source": "a.md", "text": "refunds within 45 days"}),
                      IndexPoint("00000000-0000-0000-0000-000000000002", [0, 1, 0, 0],
                                 {"tenant": "acme", "source": "b.md", "text": "parcels arrive on Tuesdays"})],
                     staging)
    golden = tmp_path / "golden.jsonl"
    golden.write_text('{"query": "refunds", "expected": ["a.md"]}\n', encoding="utf-8")
    encoded: list[list[str]] = []

    def encode(texts: list[str]) -> list:
        encoded.append(texts)
        return [[1.0, 0.0, 0.0, 0.0] for _ in texts]

    atomic_write_text(paths.staging, json.dumps({"collection": staging}))
    first = checks.retrieval_quality("acme", paths, settings, golden, Thresholds(k=1), encode)
    assert first.passed and set(first.metadata["by_mode"]) == {"hybrid", "dense", "sparse"}
    assert encoded == [["refunds"]]  # once, for dense and hybrid both
    paths.candidate_evaluation.replace(paths.published_evaluation)  # as publishing does
    atomic_write_text(paths.staging, json.dumps({"collection": staging, "unchanged": True}))
    again = checks.retrieval_quality("acme", paths, settings, golden, Thresholds(k=1), encode)
    assert again.metadata["by_mode"] == first.metadata["by_mode"]
    assert encoded == [["refunds"]]  # nothing asked again
