import hashlib
from datetime import datetime

import polars as pl
import pytest

from benchmarks.corpus import Section, write_markdown, write_text
from ingest.chunking.chunk import Chunker, ChunkSettings, chunk_documents
from ingest.chunking.enrich import document_title, enrich_chunks
from ingest.core import tables
from ingest.core.ids import point_id
from ingest.core.models import Element
from ingest.parsing.parse import elements_by_document, parse_documents
from ingest.parsing.sources import scan_source
from tests.unit.conftest import word_offsets


def test_document_title_is_the_first_title_element():
    elements = [Element(0, "NarrativeText", "Preface."), Element(1, "Title", "Handbook"),
                Element(2, "Title", "Leave")]
    assert document_title(elements, "hr/handbook-2026.docx") == "Handbook"


@pytest.mark.parametrize("elements", [[], [Element(0, "NarrativeText", "Just text.")]])
def test_document_title_falls_back_to_the_file_stem(elements):
    assert document_title(elements, "reports/2026/q3-summary.final.txt") == "q3-summary.final"


@pytest.fixture
def pipeline(source_dir):
    """Scanned, parsed and chunked documents of a small English and German corpus."""
    write_markdown(source_dir / "policy.md", [
        Section("Returns policy", ("Customers may return any unused item within 45 days of delivery.",
                                   "Refunds are issued to the original payment method within five days.")),
        Section("Shipping", ("We ship worldwide with tracked couriers in three to five working days.",)),
    ])
    write_text(source_dir / "de" / "lieferung.txt", [
        Section("Lieferung", ("Die Lieferung erfolgt innerhalb von drei Werktagen nach Eingang der Zahlung.",)),
    ])
    documents = tables.frame(scan_source("acme", source_dir), tables.SOURCE_DOCUMENTS)
    parsed, elements = parse_documents(scan_source("acme", source_dir))
    by_doc = elements_by_document(elements)
    chunker = Chunker(word_offsets, ChunkSettings(24, 4), model_limit=512)
    chunks = tables.frame(chunk_documents(by_doc, chunker), tables.CHUNKS)
    return chunks, documents, parsed, by_doc  # enrich_chunks' argument order


def test_enrich_chunks_adds_document_metadata(pipeline):
    chunks, documents, parsed, by_doc = pipeline
    enriched = enrich_chunks("acme", chunks, documents, parsed, by_doc)
    assert enriched.height == chunks.height
    per_source = {row["source"]: row for row in enriched.iter_rows(named=True)}
    policy, german = per_source["policy.md"], per_source["de/lieferung.txt"]
    assert (policy["title"], policy["language"], policy["file_type"]) == ("Returns policy", "en", "md")
    assert (german["title"], german["language"]) == ("Lieferung", "de")
    assert set(enriched["tenant"]) == {"acme"}
    assert german["source_sha256"] == documents.filter(pl.col("source") == "de/lieferung.txt")["sha256"][0]
    assert datetime.fromisoformat(policy["source_modified_at"]).tzinfo is not None


def test_enriched_section_is_the_innermost_heading(pipeline):
    enriched = enrich_chunks("acme", *pipeline)
    for row in enriched.iter_rows(named=True):
        assert row["section"] == (row["section_path"][-1] if row["section_path"] else "")
    assert "Shipping" in enriched["section"].to_list()


def test_text_hash_is_the_sha256_of_the_chunk_text(pipeline):
    enriched = enrich_chunks("acme", *pipeline)
    for text, digest in zip(enriched["text"], enriched["text_sha256"], strict=True):
        assert digest == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_point_ids_are_deterministic_and_unique(pipeline):
    enriched = enrich_chunks("acme", *pipeline)
    # made of the tenant, the document, the chunk's place and its text: the same chunk gets the same id in every run
    assert enriched["point_id"].to_list() == [point_id("acme", row["doc_id"], row["chunk_index"], row["text_sha256"])
                                              for row in enriched.iter_rows(named=True)]
    assert enriched["point_id"].n_unique() == enriched.height


def test_point_ids_change_with_the_tenant(pipeline):
    acme = set(enrich_chunks("acme", *pipeline)["point_id"])
    globex = set(enrich_chunks("globex", *pipeline)["point_id"])
    assert acme.isdisjoint(globex)


def test_point_id_changes_when_chunk_text_changes(pipeline):
    chunks, documents, parsed, by_doc = pipeline
    before = enrich_chunks("acme", chunks, documents, parsed, by_doc)
    edited = chunks.with_columns(
        pl.when(pl.col("chunk_index") == 0).then(pl.col("text") + " (edited)").otherwise(pl.col("text"))
        .alias("text"))
    after = enrich_chunks("acme", edited, documents, parsed, by_doc)
    changed = [b != a for b, a in zip(before["point_id"], after["point_id"], strict=True)]
    first_chunks = [index == 0 for index in before["chunk_index"]]
    assert changed == first_chunks


def test_enrich_drops_chunks_of_unknown_documents(pipeline):
    chunks, documents, parsed, by_doc = pipeline
    kept = documents.head(1)
    enriched = enrich_chunks("acme", chunks, kept, parsed, by_doc)
    assert set(enriched["doc_id"]) == set(kept["doc_id"])


def test_enrich_carries_the_parse_strategy_and_drops_the_chunks_fingerprint(pipeline):
    chunks, documents, parsed, by_doc = pipeline
    fingerprinted = chunks.with_columns(pl.lit("f" * 32).alias("fingerprint"))
    enriched = enrich_chunks("acme", fingerprinted, documents, parsed, by_doc)
    assert "fingerprint" not in enriched.columns
    assert set(enriched["strategy"]) == {"partition"}
    assert set(enriched.columns) == set(tables.ENRICHED_CHUNKS) - {"fingerprint"}
    assert enriched.equals(enrich_chunks("acme", chunks, documents, parsed, by_doc))
