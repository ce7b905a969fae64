"""Erasure: a forgotten document leaves no trace in any state file, the index or the audit log."""

import json

import polars as pl
import pytest

from ingest.core.errors import ConfigError
from ingest.core.manifest import read_manifest
from ingest.index.erase import find_document, forget_document
from ingest.index.qdrant import TenantIndex, open_qdrant
from tests.unit.conftest import PHRASES

FORGET = "policy.md"
PHRASE = PHRASES[FORGET]
OTHER = PHRASES["shipping.txt"]
RAW_PII = "John Smith"  # in policy.md; redacted in memory, so no table or store ever holds it


def _strings(frame: pl.DataFrame) -> list[str]:
    values = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            values.extend(frame[name].drop_nulls().to_list())
        elif dtype == pl.List(pl.String):
            values.extend(value for values_ in frame[name].drop_nulls().to_list() for value in values_)
    return values


def where(home, phrase: str) -> set[str]:
    """Every file under the state folder that holds the phrase: parquet string columns, raw bytes of the rest."""
    found = set()
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            if any(phrase in value for value in _strings(pl.read_parquet(path))):
                found.add(path.relative_to(home).as_posix())
        elif phrase.encode("utf-8") in path.read_bytes():
            found.add(path.relative_to(home).as_posix())
    return found


def shards_holding(home, markers: set[str]) -> set[str]:
    """The store's shards with any of `markers` in their files. Payload pages are compressed, so plain
    words prove nothing there: the markers are chunks' text hashes (hex, which does not compress)."""
    found = set()
    for path in sorted((home / "qdrant").rglob("*")):
        if path.is_file():
            content = path.read_bytes()
            if any(marker.encode() in content for marker in markers):
                found.add(path.relative_to(home / "qdrant").parts[1])
    return found


def rows_of(tenant, doc_id) -> dict[str, int]:
    return {name: pl.read_parquet(getattr(tenant.paths, name)).filter(pl.col("doc_id") == doc_id).height
            for name in ("source_documents", "parsed_documents", "redacted_elements", "redaction_audit", "chunks",
                         "enriched_chunks")}


def all_points(tenant) -> dict[str, dict]:
    """point id -> payload over every collection in the store (served, previous and staged)."""
    points = {}
    for collection in tenant.store()[1]:
        points.update(tenant.points(collection))
    return points


def test_forget_removes_every_trace_of_the_document(indexed):
    tenant, home = indexed, indexed.home
    with (tenant.source / "hours.html").open("a", encoding="utf-8") as handle:
        handle.write("<p>Closed on public holidays.</p>\n")
    tenant.run("run-2")  # both colors now hold the document: the served one and the previous one
    assert len(tenant.store()[1]) == 2
    assert tenant.paths.previous_manifest.is_file()  # and so do both manifests
    doc_id = tenant.doc_id(FORGET)
    stored = [pid for collection in tenant.store()[1] for pid, p in tenant.points(collection).items()
              if p["doc_id"] == doc_id]
    before_rows = rows_of(tenant, doc_id)
    own_texts = set(tenant.enriched().filter(pl.col("doc_id") == doc_id)["text_sha256"])
    total = len(tenant.points())
    served = {pid for pid, p in tenant.points().items() if p["doc_id"] == doc_id}
    # the search finds what is there: in tables and in the files of both collections
    assert {"tenants/acme/redacted_elements.parquet", "tenants/acme/chunks.parquet"} <= where(home, PHRASE)
    assert len(shards_holding(home, own_texts)) == 2
    other_texts = set(tenant.enriched().filter(pl.col("doc_id") != doc_id)["text_sha256"]) - own_texts
    assert where(home, RAW_PII) == set()

    entry = forget_document("acme", tenant.paths, tenant.qdrant, source=FORGET, requested_by="dpo@example.com")

    assert entry["doc_id"] == doc_id and entry["action"] == "forget" and entry["tenant"] == "acme"
    assert entry["removed"] == {"points": len(stored), **before_rows, "cached_vectors": len(own_texts),
                                "manifest_rows": 1, "previous_manifest_rows": 1}
    assert where(home, PHRASE) == set() and shards_holding(home, own_texts) == set()
    assert where(home, RAW_PII) == set()
    # another document is untouched, and the same search still finds it in the tables and the store
    assert "tenants/acme/redacted_elements.parquet" in where(home, OTHER)
    assert len(shards_holding(home, other_texts)) == 2
    with open_qdrant(tenant.qdrant, tenant.name) as client:  # a fresh client reads the store from disk
        index = TenantIndex(client, "acme")
        assert list(index.scroll(doc_id=doc_id)) == []
        assert all(index.retrieve(pid) is None for pid in served)
        assert index.count() == total - len(served)
        assert any(OTHER in hit.text for hit in index.scroll())
    assert not [p for p in all_points(tenant).values() if p["doc_id"] == doc_id]
    assert where(home, PHRASE) == set() and shards_holding(home, own_texts) == set()  # reopening brought nothing back
    cached = pl.read_parquet(next(tenant.paths.root.glob("embedding_cache/*.parquet")))
    assert not own_texts & set(cached["text_sha256"])
    assert FORGET not in tenant.manifest()["source"].to_list()


def test_forget_leaves_no_row_of_the_document_in_any_table(indexed):
    tenant = indexed
    with (tenant.source / "hours.html").open("a", encoding="utf-8") as handle:
        handle.write("<p>Closed on public holidays.</p>\n")
    tenant.run("run-2")  # publishing again keeps the previous manifest for rollback
    doc_id = tenant.doc_id(FORGET)
    previous = read_manifest(tenant.paths.previous_manifest)
    assert previous.filter(pl.col("doc_id") == doc_id).height == 1  # run-1's manifest names it
    entry = forget_document("acme", tenant.paths, tenant.qdrant, source=FORGET)
    assert (entry["removed"]["manifest_rows"], entry["removed"]["previous_manifest_rows"]) == (1, 1)
    # the rest of the previous manifest is untouched: rollback still restores the other documents' rows
    assert read_manifest(tenant.paths.previous_manifest).equals(previous.filter(pl.col("doc_id") != doc_id))
    holding = [path.name for path in sorted(tenant.paths.root.rglob("*.parquet"))
               if any(FORGET in value or doc_id in value for value in _strings(pl.read_parquet(path)))]
    assert holding == []
    tenant.rollback()
    assert FORGET not in tenant.manifest()["source"].to_list()
    assert sorted(tenant.manifest()["source"]) == ["hours.html", "shipping.txt"]
    assert not [p for p in tenant.points().values() if p["doc_id"] == doc_id]


def test_forget_without_a_previous_manifest_creates_none(indexed):
    assert not indexed.paths.previous_manifest.exists()  # published once: nothing to roll back to
    entry = forget_document("acme", indexed.paths, indexed.qdrant, source=FORGET)
    assert (entry["removed"]["manifest_rows"], entry["removed"]["previous_manifest_rows"]) == (1, 0)
    assert not indexed.paths.previous_manifest.exists()


def test_forget_appends_an_audit_line_with_counts_and_no_content(indexed):
    first = forget_document("acme", indexed.paths, indexed.qdrant, source=FORGET, requested_by="dpo@example.com")
    second = forget_document("acme", indexed.paths, indexed.qdrant, source="hours.html", requested_by="dpo")
    lines = indexed.paths.audit_log.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [first, second]
    audit = json.loads(lines[0])
    assert audit["requested_by"] == "dpo@example.com" and audit["removed"]["points"] > 0
    assert audit["at"] and audit["doc_id"] == indexed.doc_id(FORGET)
    for line in lines:
        for content in (*PHRASES.values(), RAW_PII, "Returns policy", "Opening hours"):
            assert content not in line


def test_a_forgotten_file_stays_out_until_it_changes(indexed):
    forget_document("acme", indexed.paths, indexed.qdrant, source=FORGET)
    result = indexed.run("run-2", forbid=True)  # the file is still there, unchanged: nothing to do
    assert result["source"]["excluded_forgotten"] == 1 and result["source"]["seen"] == 2
    assert result["source"]["deleted"] == 0  # not a deletion either: it is gone from the manifest
    assert (result["index"]["upserted"], result["index"]["deleted_points"]) == (0, 0)
    assert where(indexed.home, PHRASE) == set()
    with (indexed.source / FORGET).open("a", encoding="utf-8") as handle:
        handle.write("\nA new paragraph added after the erasure.\n")
    result = indexed.run("run-3")
    assert result["source"]["excluded_forgotten"] == 0 and result["source"]["new"] == 1
    assert indexed.manifest_row(FORGET)["status"] == "indexed"


def test_forgotten_json_records_the_sha256_of_the_erased_file(indexed):
    from ingest.core.files import file_sha256

    forget_document("acme", indexed.paths, indexed.qdrant, doc_id=indexed.doc_id(FORGET))
    assert json.loads(indexed.paths.forgotten.read_text()) == {
        indexed.doc_id(FORGET): file_sha256(indexed.source / FORGET)}


def test_a_vector_shared_with_another_document_stays_cached(tenant):
    (tenant.source / "copy.txt").write_bytes((tenant.source / "shipping.txt").read_bytes())
    tenant.run("run-1")
    entry = forget_document("acme", tenant.paths, tenant.qdrant, source="copy.txt")
    assert entry["removed"]["cached_vectors"] == 0 and entry["removed"]["points"] > 0
    cached = pl.read_parquet(next(tenant.paths.root.glob("embedding_cache/*.parquet")))
    assert set(tenant.enriched()["text_sha256"]) == set(cached["text_sha256"])
    assert {p["source"] for p in tenant.points().values() if OTHER in p["text"]} == {"shipping.txt"}
    assert tenant.run("run-2", forbid=True)["embed"]["embedded"] == 0  # shipping.txt's vectors are intact


def test_forgetting_an_unknown_document_changes_nothing(indexed):
    state = {path: path.read_bytes() for path in indexed.paths.root.rglob("*") if path.is_file()}
    with pytest.raises(ConfigError, match="no document"):
        forget_document("acme", indexed.paths, indexed.qdrant, source="nope.md")
    with pytest.raises(ConfigError, match="no document"):
        forget_document("acme", indexed.paths, indexed.qdrant, doc_id="0" * 32)
    assert {path: path.read_bytes() for path in indexed.paths.root.rglob("*") if path.is_file()} == state
    assert not indexed.paths.audit_log.exists()


def test_find_document_by_source_or_doc_id_gives_the_manifest_row(indexed):
    row = find_document(indexed.paths, source="hours.html")
    assert row == indexed.manifest_row("hours.html")
    assert find_document(indexed.paths, doc_id=row["doc_id"]) == row


def test_forgetting_a_moved_file_erases_its_old_path_from_the_index_a_rollback_would_serve(indexed):
    tenant, home = indexed, indexed.home
    (tenant.source / "archive").mkdir()
    (tenant.source / FORGET).rename(tenant.source / "archive" / FORGET)
    tenant.run("run-2")  # served: the new path; previous (rollback's): the old path, same content
    old_id, new_id = tenant.doc_id(FORGET), tenant.doc_id(f"archive/{FORGET}")
    assert {old_id, new_id} <= {p["doc_id"] for p in all_points(tenant).values()}
    own_texts = set(tenant.enriched().filter(pl.col("doc_id") == new_id)["text_sha256"])
    other_texts = set(tenant.enriched().filter(pl.col("doc_id") != new_id)["text_sha256"]) - own_texts
    assert len(shards_holding(home, own_texts)) == 2  # the same text under both paths
    assert old_id in read_manifest(tenant.paths.previous_manifest)["doc_id"].to_list()

    entry = forget_document("acme", tenant.paths, tenant.qdrant, source=f"archive/{FORGET}")

    assert entry["doc_id"] == new_id and entry["removed"]["previous_manifest_rows"] == 1
    assert not {old_id, new_id} & {p["doc_id"] for p in all_points(tenant).values()}
    assert not {old_id, new_id} & set(read_manifest(tenant.paths.previous_manifest)["doc_id"].to_list())
    assert where(home, PHRASE) == set() and shards_holding(home, own_texts) == set()
    assert shards_holding(home, other_texts)  # the rest is kept


def test_a_copy_of_the_content_at_another_live_path_is_a_document_of_its_own_and_is_kept(indexed):
    tenant = indexed
    (tenant.source / "copy.md").write_bytes((tenant.source / FORGET).read_bytes())
    tenant.run("run-2")
    copy_id = tenant.doc_id("copy.md")
    assert copy_id in {p["doc_id"] for p in all_points(tenant).values()}

    forget_document("acme", tenant.paths, tenant.qdrant, source=FORGET)

    doc_ids = {p["doc_id"] for p in all_points(tenant).values()}
    assert copy_id in doc_ids and tenant.doc_id(FORGET) not in doc_ids
