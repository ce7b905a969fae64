import polars as pl

from ingest import tables
from ingest.manifest import MANIFEST, build_manifest, classify_changes, read_manifest, write_manifest


def documents(*rows):
    """A source-documents frame from (doc_id, sha256) pairs."""
    return tables.frame([{"doc_id": doc_id, "source": f"{doc_id}.txt", "path": f"/src/{doc_id}.txt",
                          "sha256": sha, "size": 10, "modified_at": 0.0, "file_type": "txt",
                          "mime_type": "text/plain"} for doc_id, sha in rows], tables.SOURCE_DOCUMENTS)


def parsed(reasons):
    return tables.frame([{"doc_id": doc_id, "parser": "p", "pages": 1, "ocr_pages": 0, "elements": 1,
                          "quarantine_reason": reason} for doc_id, reason in reasons.items()],
                        tables.PARSED_DOCUMENTS)


def manifest(*rows):
    """A manifest from (doc_id, sha256, status) triples."""
    return pl.DataFrame([{"doc_id": doc_id, "source": f"{doc_id}.txt", "sha256": sha, "size": 10,
                          "status": status, "reason": None, "chunks": 2, "run_id": "run-0",
                          "updated_at": "2026-01-01", "versions": "v"} for doc_id, sha, status in rows],
                        schema=MANIFEST)


EMPTY = pl.DataFrame(schema=MANIFEST)


def test_against_an_empty_manifest_everything_is_new():
    changes, deleted = classify_changes(documents(("a", "1"), ("b", "2")), EMPTY)
    assert changes == ["new", "new"]
    assert deleted == []


def test_classify_changes_new_changed_unchanged_deleted():
    previous = manifest(("same", "1", "indexed"), ("edited", "2", "indexed"), ("gone", "3", "indexed"))
    changes, deleted = classify_changes(documents(("same", "1"), ("edited", "2b"), ("fresh", "4")), previous)
    assert changes == ["unchanged", "changed", "new"]
    assert deleted == ["gone"]


def test_a_tombstoned_document_that_returns_is_new_and_not_deleted_again():
    previous = manifest(("back", "1", "deleted"), ("old", "2", "deleted"))
    changes, deleted = classify_changes(documents(("back", "1")), previous)
    assert changes == ["new"]
    assert deleted == []


def test_quarantined_documents_still_count_as_known():
    changes, _ = classify_changes(documents(("q", "1")), manifest(("q", "1", "quarantined")))
    assert changes == ["unchanged"]


def test_build_manifest_records_indexed_and_quarantined_documents():
    reasons = {"a": None, "b": "encrypted: needs a password"}
    result = build_manifest(documents(("a", "1"), ("b", "2")), parsed(reasons), {"a": 4}, EMPTY,
                            run_id="run-1", now="2026-02-02", versions="v2")
    rows = {row["doc_id"]: row for row in result.iter_rows(named=True)}
    assert (rows["a"]["status"], rows["a"]["reason"], rows["a"]["chunks"]) == ("indexed", None, 4)
    assert (rows["b"]["status"], rows["b"]["reason"], rows["b"]["chunks"]) == (
        "quarantined", "encrypted: needs a password", 0)
    assert {row["run_id"] for row in rows.values()} == {"run-1"}
    assert {row["versions"] for row in rows.values()} == {"v2"}
    assert result.schema == pl.Schema(MANIFEST)


def test_build_manifest_writes_tombstones_for_documents_gone():
    previous = manifest(("kept", "1", "indexed"), ("gone", "2", "indexed"))
    result = build_manifest(documents(("kept", "1")), parsed({"kept": None}), {"kept": 1}, previous,
                            run_id="run-1", now="2026-02-02", versions="v")
    gone = result.filter(pl.col("doc_id") == "gone").row(0, named=True)
    assert gone["status"] == "deleted"
    assert gone["chunks"] == 0
    assert (gone["run_id"], gone["updated_at"]) == ("run-1", "2026-02-02")
    assert gone["sha256"] == "2"


def test_old_tombstones_are_kept_unchanged():
    previous = manifest(("gone", "2", "deleted"))
    result = build_manifest(documents(), parsed({}), {}, previous, run_id="run-2", now="later", versions="v")
    assert result.to_dicts() == previous.to_dicts()


def test_a_manifest_row_per_document_sorted_by_source():
    previous = manifest(("c", "3", "indexed"))
    result = build_manifest(documents(("b", "2"), ("a", "1")), parsed({"a": None, "b": None}), {}, previous,
                            run_id="r", now="n", versions="v")
    assert result["source"].to_list() == ["a.txt", "b.txt", "c.txt"]
    assert result["doc_id"].n_unique() == result.height


def test_manifest_round_trips_through_parquet(tmp_path):
    path = tmp_path / "acme" / "manifest.parquet"
    written = manifest(("a", "1", "indexed"), ("b", "2", "deleted"))
    write_manifest(written, path)
    assert read_manifest(path).equals(written)


def test_reading_a_missing_manifest_gives_an_empty_one(tmp_path):
    result = read_manifest(tmp_path / "nope.parquet")
    assert result.height == 0
    assert result.schema == pl.Schema(MANIFEST)
