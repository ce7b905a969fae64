"""Parsing in worker processes gives the in-process results, in input order, and fails the run as it would."""

from __future__ import annotations

import polars as pl
import psutil
import pytest

import ingest.parsing.isolation
from benchmarks.corpus import write_docx, write_eml, write_html, write_image, write_markdown, write_text, write_text_pdf
from ingest.core import tables
from ingest.parsing.isolation import parse_documents_isolated
from ingest.parsing.limits import ParseLimits
from ingest.parsing.ocr import OcrUnavailable
from ingest.parsing.parse import ParseSettings, parse_documents
from ingest.parsing.sources import scan_source
from tests.unit.parsing.test_parse import SECTIONS

LIMITS = ParseLimits()


@pytest.fixture(scope="module")
def normal_folder(tmp_path_factory):
    """A few ordinary documents; the photo sorts first and is the slowest (OCR)."""
    folder = tmp_path_factory.mktemp("normal")
    write_image(folder / "a_photo.png", ["Warehouse opening hours", "Monday to Friday nine to five"])
    write_text(folder / "notes.txt", SECTIONS)
    write_markdown(folder / "readme.md", SECTIONS)
    write_html(folder / "page.html", SECTIONS)
    write_docx(folder / "memo.docx", SECTIONS)
    write_text_pdf(folder / "report.pdf", SECTIONS)
    write_eml(folder / "mail.eml", sender="ops@example.com", to="team@example.com", subject="Quarterly report",
              body="Please find the numbers below.\n\nRevenue grew by ten percent.")
    (folder / "empty.txt").write_bytes(b"")
    return folder


def test_isolated_frames_equal_the_in_process_frames(normal_folder):
    documents = scan_source("acme", normal_folder)

    isolated, isolated_elements = parse_documents_isolated(documents, ParseSettings(), LIMITS)
    in_process, in_process_elements = parse_documents(documents, ParseSettings())

    assert isolated.columns == list(tables.PARSED_DOCUMENTS) and isolated_elements.columns == list(tables.ELEMENTS)
    timing = pl.col("parse_seconds")
    assert isolated.drop(timing).equals(in_process.drop(timing))
    assert isolated_elements.equals(in_process_elements)
    assert isolated["parse_seconds"].is_not_null().all()
    assert isolated["quarantine_reason"].is_not_null().sum() == 1  # the empty file


def test_rows_come_in_input_order_and_progress_counts_documents_as_they_finish(normal_folder):
    documents = scan_source("acme", normal_folder)
    finished = []

    parsed, _ = parse_documents_isolated(
        documents, ParseSettings(), LIMITS, on_progress=lambda position, result: finished.append((position, result)))

    assert parsed["doc_id"].to_list() == [d.doc_id for d in documents]
    assert [position for position, _ in finished] == list(range(1, len(documents) + 1))
    assert sorted(result.doc_id for _, result in finished) == sorted(d.doc_id for d in documents)
    assert documents[0].source == "a_photo.png"
    assert finished[0][1].doc_id != documents[0].doc_id  # the photo's OCR finished after the other worker's files


def test_the_largest_file_is_parsed_first_so_no_long_document_is_left_for_the_end(normal_folder):
    documents = scan_source("acme", normal_folder)
    largest_first = [d.doc_id for d in sorted(documents, key=lambda d: -d.size)]
    finished = []

    parsed, _ = parse_documents_isolated(documents, ParseSettings(), ParseLimits(workers=1),
                                         on_progress=lambda position, result: finished.append(result.doc_id))

    assert [d.doc_id for d in documents] != largest_first  # the input is in another order
    assert finished == largest_first  # one worker finishes them in the order they were handed out
    assert parsed["doc_id"].to_list() == [d.doc_id for d in documents]  # the rows still come in input order


def test_an_empty_batch_starts_no_worker(monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a worker pool was started for no document")

    monkeypatch.setattr(ingest.parsing.isolation, "ProcessPool", no_pool)
    parsed, elements = parse_documents_isolated([], ParseSettings(), LIMITS)
    assert parsed.columns == list(tables.PARSED_DOCUMENTS) and parsed.height == 0 and elements.height == 0


def _fork_server() -> psutil.Process:
    """multiprocessing's fork server: a child of this process that forks the workers."""
    [server] = [child for child in psutil.Process().children()
                if "multiprocessing.forkserver" in " ".join(child.cmdline())]
    return server


def test_a_later_batch_forks_its_worker_from_the_running_fork_server(tmp_path):
    """A worker forked from the server that already holds the parsers starts without loading them again."""
    write_text(tmp_path / "notes.txt", SECTIONS)
    documents = scan_source("acme", tmp_path)
    parse_documents_isolated(documents, ParseSettings(), LIMITS)  # starts the fork server if no test has yet
    server = _fork_server()
    workers = []

    parsed, _ = parse_documents_isolated(
        documents, ParseSettings(), LIMITS,
        on_progress=lambda position, result: workers.extend(child.pid for child in server.children()))

    assert parsed["quarantine_reason"].to_list() == [None] and parsed["elements"][0] > 0
    assert workers, "the document was not parsed by a worker forked from the running fork server"
    assert _fork_server().pid == server.pid  # the same server, not a new one


def test_missing_tesseract_fails_the_batch_instead_of_quarantining(tmp_path, monkeypatch):
    folder = tmp_path / "source"
    write_text(folder / "notes.txt", SECTIONS)
    write_image(folder / "photo.png", ["Warehouse opening hours"])
    documents = scan_source("acme", folder)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # the workers take this environment: no tesseract on it

    with pytest.raises(OcrUnavailable):
        parse_documents_isolated(documents, ParseSettings(), LIMITS)


def test_the_limits_version_changes_with_every_limit_that_can_change_an_outcome():
    base = ParseLimits()
    assert ParseLimits(workers=8, tasks_per_worker=1).version == base.version
    for change in ({"timeout_seconds": 60}, {"memory_mb": 1024}, {"max_file_mb": 10}, {"max_pages": 10},
                   {"max_image_pixels": 10}, {"max_zip_uncompressed_mb": 10}, {"max_zip_ratio": 10},
                   {"max_pdf_stream_mb": 10}):
        assert ParseLimits(**change).version != base.version, change
