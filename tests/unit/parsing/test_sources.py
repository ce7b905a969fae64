import hashlib
import os

import polars as pl
import pytest

from benchmarks.corpus import write_text, write_text_pdf
from ingest.core import tables
from ingest.core.manifest import MANIFEST
from ingest.parsing.sources import scan_source, source_frame


def _write(path, content: bytes = b"some text\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_scan_skips_hidden_files_and_hidden_folders(source_dir):
    _write(source_dir / "visible.txt")
    _write(source_dir / ".hidden.txt")
    _write(source_dir / ".git" / "config.txt")
    _write(source_dir / "sub" / ".secret" / "deep.txt")
    _write(source_dir / "sub" / "kept.txt")
    assert sorted(d.source for d in scan_source("acme", source_dir)) == ["sub/kept.txt", "visible.txt"]


def test_sha256_and_size_describe_the_file_content(source_dir):
    content = b"Refunds within 45 days.\n" * 1000
    _write(source_dir / "policy.txt", content)
    [document] = scan_source("acme", source_dir)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.size == len(content)
    assert document.modified_at == pytest.approx(os.stat(source_dir / "policy.txt").st_mtime)


def test_doc_ids_are_stable_across_scans_and_content_changes(source_dir):
    path = _write(source_dir / "a.txt", b"first version")
    first = scan_source("acme", source_dir)[0]
    path.write_bytes(b"second version")
    second = scan_source("acme", source_dir)[0]
    assert first.doc_id == second.doc_id
    assert first.sha256 != second.sha256


def test_doc_ids_differ_per_path(source_dir):
    _write(source_dir / "a.txt")
    _write(source_dir / "b.txt")
    _write(source_dir / "sub" / "a.txt")
    ids = [d.doc_id for d in scan_source("acme", source_dir)]
    assert len(set(ids)) == 3


def test_doc_ids_differ_per_tenant(source_dir):
    _write(source_dir / "a.txt")
    [acme] = scan_source("acme", source_dir)
    [other] = scan_source("globex", source_dir)
    assert acme.doc_id != other.doc_id


def test_sources_are_relative_posix_paths_and_paths_absolute(source_dir):
    _write(source_dir / "reports" / "2026" / "q3.txt")
    [document] = scan_source("acme", source_dir)
    assert document.source == "reports/2026/q3.txt"
    assert os.path.isabs(document.path)
    assert open(document.path, "rb").read() == b"some text\n"


def test_file_type_comes_from_content_not_extension(source_dir, sections):
    write_text_pdf(source_dir / "report.bin", sections)
    [document] = scan_source("acme", source_dir)
    assert document.file_type == "pdf"
    assert document.mime_type == "application/pdf"


def test_text_file_is_typed_txt(source_dir, sections):
    write_text(source_dir / "notes.txt", sections)
    [document] = scan_source("acme", source_dir)
    assert document.file_type == "txt"


def test_symlink_leading_outside_the_root_is_skipped(tmp_path, source_dir):
    outside = _write(tmp_path / "outside" / "secret.txt", b"other tenant's data")
    (source_dir / "link.txt").symlink_to(outside)
    _write(source_dir / "own.txt")
    assert [d.source for d in scan_source("acme", source_dir)] == ["own.txt"]


def test_symlinked_folder_outside_the_root_is_not_followed(tmp_path, source_dir):
    _write(tmp_path / "outside" / "secret.txt")
    (source_dir / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert scan_source("acme", source_dir) == []


def test_symlink_to_a_file_inside_the_root_is_kept(source_dir):
    _write(source_dir / "real" / "doc.txt")
    (source_dir / "alias.txt").symlink_to(source_dir / "real" / "doc.txt")
    assert sorted(d.source for d in scan_source("acme", source_dir)) == ["alias.txt", "real/doc.txt"]


def test_scan_order_is_stable(source_dir):
    for name in ("b.txt", "a.txt", "z/c.txt", "m/d.txt"):
        _write(source_dir / name)
    first = [d.source for d in scan_source("acme", source_dir)]
    assert sorted(first) == ["a.txt", "b.txt", "m/d.txt", "z/c.txt"]
    assert [d.source for d in scan_source("acme", source_dir)] == first


def test_scan_of_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_source("acme", tmp_path / "nope")


def test_source_frame_marks_every_document_new_against_an_empty_manifest(source_dir):
    _write(source_dir / "a.txt")
    _write(source_dir / "b.txt")
    frame, deleted = source_frame("acme", source_dir, pl.DataFrame(schema=MANIFEST))
    assert frame.columns == list(tables.SOURCE_DOCUMENTS)
    assert frame["change"].to_list() == ["new", "new"]
    assert deleted == []


def test_symlink_into_a_hidden_folder_is_skipped(source_dir):
    (source_dir / ".secrets").mkdir()
    (source_dir / ".secrets" / "token.txt").write_text("hidden", encoding="utf-8")
    (source_dir / "link.txt").symlink_to(source_dir / ".secrets" / "token.txt")
    assert [d.source for d in scan_source("acme", source_dir)] == []
