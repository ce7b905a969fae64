import polars as pl
import pytest

from ingest.core import tables
from ingest.core.manifest import (
    MANIFEST,
    VERSION_COLUMNS,
    build_manifest,
    classify_changes,
    read_manifest,
    write_manifest,
)


def documents(*rows):
    """A source-documents frame from (doc_id, sha256) pairs."""
    return tables.frame([{"doc_id": doc_id, "source": f"{doc_id}.txt", "path": f"/src/{doc_id}.txt",
                          "sha256": sha, "size": 10, "modified_at": 0.0, "file_type": "txt",
                          "mime_type": "text/plain"} for doc_id, sha in rows], tables.SOURCE_DOCUMENTS)


def parsed(reasons):
    return tables.frame([{"doc_id": doc_id, "parser": "p", "pages": 1, "ocr_pages": 0, "elements": 1,
                          "quarantine_reason": reason, "strategy": "partition"}
                         for doc_id, reason in reasons.items()], tables.PARSED_DOCUMENTS)


OLD_VERSIONS = {"parser_version": "parse-1", "redaction_policy": "redact-1", "chunker_version": "chunk-1",
                "embedding_model": "model-1"}
NEW_VERSIONS = {"parser_version": "parse-2", "redaction_policy": "redact-2", "chunker_version": "chunk-2",
                "embedding_model": "model-2"}


def manifest(*rows):
    """A manifest written by run-0 from (doc_id, sha256, status) triples; fingerprint f-<doc_id>."""
    return pl.DataFrame([{"doc_id": doc_id, "source": f"{doc_id}.txt", "sha256": sha, "size": 10,
                          "status": status, "reason": None, "chunks": 2, "version": 1,
                          "fingerprint": None if status == "deleted" else f"f-{doc_id}", "run_id": "run-0",
                          "indexed_at": "2026-01-01", "deleted_at": "2026-01-01" if status == "deleted" else None,
                          **OLD_VERSIONS} for doc_id, sha, status in rows], schema=MANIFEST)


def written_by(run_id, at, versions=None) -> dict:
    """What a point's payload says about the run that wrote it (one entry of `indexed_by`)."""
    return {"run_id": run_id, "indexed_at": at, **(versions or NEW_VERSIONS)}


def build(docs, previous, *, reasons=None, counts=None, fingerprints=None, indexed_by=None, versions=None,
          run_id="run-1"):
    """The manifest run-1 builds; by default every indexed document's points were written by run-1."""
    ids = docs["doc_id"].to_list()
    reasons = reasons if reasons is not None else dict.fromkeys(ids)
    if indexed_by is None:
        indexed_by = {doc_id: written_by(run_id, "2026-02-02", versions) for doc_id in ids if not reasons.get(doc_id)}
    return build_manifest(
        docs, parsed(reasons),
        (counts if counts is not None else dict.fromkeys(ids, 1)).items(), previous,
        fingerprints if fingerprints is not None else {doc_id: f"f-{doc_id}" for doc_id in ids},
        doc_versions=dict.fromkeys(ids, 1), indexed_by=indexed_by, run_id=run_id, now="2026-02-02",
        versions=versions or NEW_VERSIONS)


def row(frame, doc_id):
    return frame.filter(pl.col("doc_id") == doc_id).row(0, named=True)


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
    result = build(documents(("a", "1"), ("b", "2")), EMPTY, reasons=reasons, counts={"a": 4},
                   fingerprints={"a": "f-a"})
    a, b = row(result, "a"), row(result, "b")
    assert (a["status"], a["reason"], a["chunks"], a["fingerprint"]) == ("indexed", None, 4, "f-a")
    assert (b["status"], b["reason"], b["chunks"], b["fingerprint"]) == (
        "quarantined", "encrypted: needs a password", 0, None)
    for new in (a, b):
        assert (new["run_id"], new["indexed_at"], new["deleted_at"], new["version"]) == (
            "run-1", "2026-02-02", None, 1)
        assert {column: new[column] for column in VERSION_COLUMNS} == NEW_VERSIONS
    assert result.schema == pl.Schema(MANIFEST)


def test_build_manifest_records_each_documents_version():
    result = build_manifest(documents(("a", "1"), ("b", "2")), parsed({"a": None, "b": None}), [], EMPTY, {},
                            doc_versions={"a": 3, "b": 1}, indexed_by={}, run_id="r", now="n",
                            versions=NEW_VERSIONS)
    assert dict(result.select("doc_id", "version").iter_rows()) == {"a": 3, "b": 1}


def test_an_indexed_document_records_the_run_that_wrote_its_points():
    """Not this run, when its points in the published collection were written by an earlier one."""
    previous = manifest(("kept", "1", "indexed"), ("rewritten", "2", "indexed"))
    result = build(documents(("kept", "1"), ("rewritten", "2")), previous, indexed_by={
        "kept": written_by("run-0", "2026-01-01", OLD_VERSIONS), "rewritten": written_by("run-1", "2026-02-02")})
    kept, rewritten = row(result, "kept"), row(result, "rewritten")
    assert (kept["run_id"], kept["indexed_at"]) == ("run-0", "2026-01-01")
    assert {column: kept[column] for column in VERSION_COLUMNS} == OLD_VERSIONS
    assert (rewritten["run_id"], rewritten["indexed_at"]) == ("run-1", "2026-02-02")
    assert {column: rewritten[column] for column in VERSION_COLUMNS} == NEW_VERSIONS


def test_the_points_decide_the_run_of_an_indexed_document_not_the_previous_manifest():
    """Blue/green: the color being published may hold points older (or newer) than the manifest's row."""
    previous = manifest(("a", "1", "indexed"), ("b", "2", "indexed"))  # both rows name run-0
    older = {"parser_version": "parse-0", "redaction_policy": "redact-0", "chunker_version": "chunk-0",
             "embedding_model": "model-0"}
    result = build(documents(("a", "1"), ("b", "2")), previous, run_id="run-5", indexed_by={
        "a": written_by("run-3", "2026-01-03", older), "b": written_by("run-5", "2026-02-02")})
    a, b = row(result, "a"), row(result, "b")
    assert (a["run_id"], a["indexed_at"]) == ("run-3", "2026-01-03")
    assert {column: a[column] for column in VERSION_COLUMNS} == older
    assert (b["run_id"], b["indexed_at"]) == ("run-5", "2026-02-02")
    assert {column: b[column] for column in VERSION_COLUMNS} == NEW_VERSIONS


def test_an_indexed_document_without_points_gets_this_runs_settings():
    previous = manifest(("a", "1", "indexed"))
    result = build(documents(("a", "1")), previous, fingerprints={"a": "f-a-2"}, counts={"a": 0}, indexed_by={})
    a = row(result, "a")
    assert (a["status"], a["run_id"], a["indexed_at"], a["fingerprint"]) == ("indexed", "run-1", "2026-02-02", "f-a-2")
    assert {column: a[column] for column in VERSION_COLUMNS} == NEW_VERSIONS


def test_a_document_that_was_quarantined_and_now_indexes_gets_the_run_of_its_points():
    previous = manifest(("a", "1", "quarantined"))
    assert row(build(documents(("a", "1")), previous), "a")["run_id"] == "run-1"
    assert row(build(documents(("a", "1")), previous, indexed_by={}), "a")["run_id"] == "run-1"


def test_a_document_still_quarantined_in_the_same_version_keeps_the_run_that_quarantined_it():
    previous = manifest(("q", "1", "quarantined"))
    result = build(documents(("q", "1")), previous, reasons={"q": "empty: the file has no content"})
    q = row(result, "q")
    assert (q["status"], q["reason"]) == ("quarantined", "empty: the file has no content")
    assert (q["run_id"], q["indexed_at"]) == ("run-0", "2026-01-01")
    assert {column: q[column] for column in VERSION_COLUMNS} == OLD_VERSIONS


@pytest.mark.parametrize("before, sha", [("quarantined", "1b"), ("indexed", "1")],
                         ids=["a-new-version-quarantined", "an-indexed-document-now-quarantined"])
def test_a_newly_quarantined_version_gets_this_run(before, sha):
    previous = manifest(("q", "1", before))
    result = build(documents(("q", sha)), previous, reasons={"q": "encrypted: needs a password"})
    q = row(result, "q")
    assert (q["status"], q["run_id"], q["indexed_at"]) == ("quarantined", "run-1", "2026-02-02")
    assert {column: q[column] for column in VERSION_COLUMNS} == NEW_VERSIONS


def test_build_manifest_writes_tombstones_for_documents_gone():
    previous = manifest(("kept", "1", "indexed"), ("gone", "2", "indexed"))
    result = build(documents(("kept", "1")), previous)
    gone = row(result, "gone")
    assert (gone["status"], gone["chunks"], gone["fingerprint"]) == ("deleted", 0, None)
    assert (gone["run_id"], gone["deleted_at"]) == ("run-1", "2026-02-02")
    assert (gone["sha256"], gone["indexed_at"], gone["version"]) == ("2", "2026-01-01", 1)  # what it was
    assert {column: gone[column] for column in VERSION_COLUMNS} == OLD_VERSIONS


def test_old_tombstones_are_kept_unchanged():
    previous = manifest(("gone", "2", "deleted"))
    result = build(documents(), previous, run_id="run-2")
    assert result.to_dicts() == previous.to_dicts()


def test_a_manifest_row_per_document_sorted_by_source():
    previous = manifest(("c", "3", "indexed"), ("a", "1", "indexed"))
    result = build(documents(("b", "2"), ("a", "1")), previous)
    assert result["source"].to_list() == ["a.txt", "b.txt", "c.txt"]
    assert result["doc_id"].n_unique() == result.height


def test_build_manifest_of_nothing_is_empty_with_the_schema():
    result = build(documents(), EMPTY)
    assert result.height == 0 and result.schema == pl.Schema(MANIFEST)


def test_manifest_round_trips_through_parquet(tmp_path):
    path = tmp_path / "acme" / "manifest.parquet"
    written = manifest(("a", "1", "indexed"), ("b", "2", "deleted"))
    write_manifest(written, path)
    assert read_manifest(path).equals(written)


def test_reading_a_missing_manifest_gives_an_empty_one(tmp_path):
    result = read_manifest(tmp_path / "nope.parquet")
    assert result.height == 0
    assert result.schema == pl.Schema(MANIFEST)


def test_reading_a_manifest_of_an_older_version_fills_the_new_columns(tmp_path):
    path = tmp_path / "manifest.parquet"
    pl.DataFrame({"doc_id": ["a"], "source": ["a.txt"], "sha256": ["1"], "size": [10], "status": ["indexed"],
                  "reason": [None], "chunks": [2], "run_id": ["run-0"], "updated_at": ["2026-01-01"],
                  "versions": ["v"]}, schema_overrides={"reason": pl.String}).write_parquet(path)
    result = read_manifest(path)
    assert result.schema == pl.Schema(MANIFEST)
    a = result.row(0, named=True)
    assert (a["doc_id"], a["sha256"], a["status"], a["chunks"], a["run_id"]) == ("a", "1", "indexed", 2, "run-0")
    assert a["fingerprint"] is None and a["version"] is None and a["embedding_model"] is None
    # its documents count as known, and nothing carries over from a row without a fingerprint
    assert classify_changes(documents(("a", "1")), result)[0] == ["unchanged"]
    assert row(build(documents(("a", "1")), result), "a")["run_id"] == "run-1"
