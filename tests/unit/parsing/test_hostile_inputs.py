"""Hostile and awkward inputs, generated here, end indexed or quarantined with the right category.

All of them go through `parse_documents_isolated` in one batch under the default
limits, which must finish every one without hitting the timeout or the memory cap
and carry on; the table of outcomes and parse seconds is printed (run with -s to
see it). The timeout and the memory cap are then tested on inputs that really
exceed them, each followed by a normal document the recovered pool must still parse.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from benchmarks.corpus import Section, render_page_image, write_docx, write_text, write_text_pdf
from ingest.parsing.isolation import parse_documents_isolated
from ingest.parsing.limits import CATEGORIES, ParseLimits, Quarantine, check_before_parsing
from ingest.parsing.parse import ParseSettings, detect_encoding
from ingest.parsing.sources import scan_source
from tests.unit.parsing import hostile

SECTIONS = [Section("Returns policy", (
    "Customers may return any unused item within 45 days of delivery for a full refund.",
    "Refunds are issued to the original payment method within five business days.",
))]
ACCENTED = "Café crème in Zürich\n\nThe café on the Bahnhofstrasse in Zürich serves crème brûlée every day.\n"


def _truncated_pdf(path: Path) -> None:
    whole = write_text_pdf(path.with_suffix(".whole.pdf"), SECTIONS)
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    whole.unlink()


# file name -> (writer, expected category or None for indexed, text the elements must contain)
HOSTILE = {
    "zero_bytes.txt": (lambda p: p.write_bytes(b""), "empty", []),
    "truncated.pdf": (_truncated_pdf, "corrupt", []),
    "user_password.pdf": (lambda p: write_text_pdf(p, SECTIONS, password="secret"), "encrypted", []),
    "owner_password_only.pdf": (lambda p: hostile.write_owner_password_pdf(p, SECTIONS), None,
                                ["Returns policy", "within 45 days"]),
    "password.docx": (hostile.write_password_docx, "encrypted", []),
    "xref_loop.pdf": (hostile.write_xref_loop_pdf, "corrupt", []),
    "nested_flate_bomb.pdf": (hostile.write_flate_bomb_pdf, "too_large", []),
    "lying_zip_bomb.docx": (hostile.write_lying_zip_bomb_docx, "too_large", []),
    "external_entity.docx": (hostile.write_external_entity_docx, "corrupt", []),
    "random_bytes.docx": (lambda p: p.write_bytes(os.urandom(4096)), "corrupt", []),
    "random_bytes.pdf": (lambda p: p.write_bytes(os.urandom(4096)), "corrupt", []),
    "30000x30000.png": (hostile.write_huge_png, "too_large", []),
    "nested_60000_deep.html": (hostile.write_deep_html, "too_large", []),
    "20mb_one_line.txt": (hostile.write_one_line_text, None, ["The quick brown fox jumps over the lazy dog"]),
    "latin1.txt": (lambda p: p.write_bytes(ACCENTED.encode("latin-1")), None, ["Café crème", "Zürich"]),
    "utf16.txt": (lambda p: p.write_bytes(ACCENTED.encode("utf-16")), None, ["Café crème", "Zürich"]),
    "utf8_bom.txt": (lambda p: p.write_bytes(ACCENTED.encode("utf-8-sig")), None, ["Café crème", "Zürich"]),
    "blank.png": (lambda p: Image.new("L", (600, 400), color=255).save(p), "empty", []),
}
LIMITS = ParseLimits()


def _category(reason: str | None) -> str | None:
    return None if reason is None else reason.split(":", 1)[0]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Every hostile input parsed in one isolated batch: source -> (row, element texts)."""
    folder = tmp_path_factory.mktemp("hostile")
    for name, (write, _, _) in HOSTILE.items():
        write(folder / name)
    documents = scan_source("acme", folder)
    parsed, elements = parse_documents_isolated(documents, ParseSettings(), LIMITS)
    rows = {}
    print(f"\n{'input':26} {'outcome':11} {'seconds':>8}  reason")
    for document, row in zip(documents, parsed.iter_rows(named=True), strict=True):
        assert row["doc_id"] == document.doc_id  # rows in input order
        texts = elements.filter(elements["doc_id"] == document.doc_id)["text"].to_list()
        rows[document.source] = (row, texts)
        outcome = _category(row["quarantine_reason"]) or f"indexed({len(texts)})"
        print(f"{document.source:26} {outcome:11} {row['parse_seconds']:8.2f}  {row['quarantine_reason'] or ''}")
    return rows


@pytest.mark.parametrize("name", list(HOSTILE))
def test_each_input_ends_indexed_or_quarantined_with_the_right_category(batch, name):
    _, expected, fragments = HOSTILE[name]
    row, texts = batch[name]
    assert _category(row["quarantine_reason"]) == expected, row["quarantine_reason"]
    if expected is None:
        assert texts
        text = " ".join(texts)
        for fragment in fragments:
            assert fragment in text
    else:
        assert texts == [] and row["elements"] == 0


def test_the_batch_finishes_every_input_without_hitting_a_limit_it_should_not(batch):
    assert set(batch) == set(HOSTILE)
    reasons = [row["quarantine_reason"] or "" for row, _ in batch.values()]
    assert not any(reason.startswith(("timeout", "out_of_memory")) for reason in reasons)


def test_the_external_entity_is_never_resolved(batch):
    row, texts = batch["external_entity.docx"]
    assert "root:" not in " ".join(texts) and "DOCTYPE" in row["quarantine_reason"]


def test_a_twenty_megabyte_line_is_one_element_with_all_its_text(batch):
    row, texts = batch["20mb_one_line.txt"]
    assert row["elements"] == 1 and len(texts[0]) > 19_999_000
    assert texts[0].startswith("The quick brown fox jumps over the lazy dog")


# --- the timeout and the memory cap, each followed by a document the pool must still parse -----

def _run_one_worker(folder: Path, limits: ParseLimits) -> dict[str, dict]:
    """source -> parsed row, for a batch whose documents finish in order (one worker)."""
    documents = scan_source("acme", folder)
    finished = []
    parsed, _ = parse_documents_isolated(documents, ParseSettings(), limits,
                                         on_progress=lambda position, result: finished.append(result.doc_id))
    assert finished == [document.doc_id for document in documents]  # the next one only after the first ended
    return {d.source: row for d, row in zip(documents, parsed.iter_rows(named=True), strict=True)}


def test_a_parser_over_the_time_limit_is_killed_and_the_worker_replaced(tmp_path):
    from benchmarks.corpus import write_scanned_pdf

    lines = [f"Line {i}: the invoice total for order {1000 + i} is {7 * i} euros, due now." for i in range(40)]
    write_scanned_pdf(tmp_path / "a_dense_scan.pdf", [lines, lines])  # OCR takes seconds per page
    write_text(tmp_path / "b_after.txt", SECTIONS)

    rows = _run_one_worker(tmp_path, ParseLimits(workers=1, timeout_seconds=1))

    assert rows["a_dense_scan.pdf"]["quarantine_reason"] == "timeout: parsing took longer than 1 s"
    assert rows["b_after.txt"]["quarantine_reason"] is None and rows["b_after.txt"]["elements"] > 0


def test_a_parser_over_the_memory_cap_is_stopped_and_the_pool_goes_on(tmp_path):
    hostile.write_flate_bomb_pdf(tmp_path / "a_bomb.pdf")  # 8 GB of spaces once inflated
    write_text(tmp_path / "b_after.txt", SECTIONS)

    # with pypdf's stream budget out of the way, only the memory cap stands between the bomb and the machine
    rows = _run_one_worker(tmp_path, ParseLimits(workers=1, max_pdf_stream_mb=1_000_000))

    assert rows["a_bomb.pdf"]["quarantine_reason"].startswith("out_of_memory:")
    assert rows["b_after.txt"]["quarantine_reason"] is None and rows["b_after.txt"]["elements"] > 0


@pytest.mark.parametrize("signal_number, reason", [
    (signal.SIGKILL, "out_of_memory: the parser process was killed by the system (SIGKILL)"),
    (signal.SIGSEGV, f"corrupt: the parser process died (exit code {-signal.SIGSEGV})"),
])
def test_a_worker_that_dies_quarantines_its_document_and_is_replaced(tmp_path, signal_number, reason):
    import psutil

    from benchmarks.corpus import write_scanned_pdf

    lines = [f"Line {i}: the invoice total for order {1000 + i} is {7 * i} euros, due now." for i in range(40)]
    write_scanned_pdf(tmp_path / "a_dense_scan.pdf", [lines, lines])
    write_text(tmp_path / "b_after.txt", SECTIONS)

    batch_done = threading.Event()

    def kill_the_worker_running_tesseract() -> None:
        """What the kernel's OOM killer (SIGKILL) or a crashing parser (SIGSEGV) does to a worker."""
        while not batch_done.is_set():
            for process in psutil.Process().children(recursive=True):
                try:
                    if process.name() == "tesseract":
                        os.kill(process.ppid(), signal_number)
                        return
                except psutil.Error:
                    continue
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_worker_running_tesseract, daemon=True)
    killer.start()
    try:
        rows = _run_one_worker(tmp_path, ParseLimits(workers=1))
    finally:
        batch_done.set()
        killer.join()

    assert rows["a_dense_scan.pdf"]["quarantine_reason"].startswith(reason)
    assert rows["b_after.txt"]["quarantine_reason"] is None and rows["b_after.txt"]["elements"] > 0


# --- the checks before parsing, called directly ----------------------------------------------

def _check(folder: Path, name: str, limits: ParseLimits = LIMITS) -> str | None:
    document = next(d for d in scan_source("acme", folder) if d.source == name)
    try:
        check_before_parsing(document, limits)
    except Quarantine as reason:
        return str(reason)
    return None


def test_zip_check_counts_inflated_bytes_against_the_budget(tmp_path):
    path = write_docx(tmp_path / "big.docx", SECTIONS)
    with zipfile.ZipFile(path, "a") as archive:  # 3 MB of incompressible bytes: the ratio stays near 1
        archive.writestr("word/media/noise.bin", os.urandom(3 << 20), zipfile.ZIP_DEFLATED)
    assert _check(tmp_path, "big.docx") is None
    assert _check(tmp_path, "big.docx", ParseLimits(max_zip_uncompressed_mb=2)).startswith("too_large: the zip inflates")


def test_zip_check_finds_declarations_split_across_chunks_and_in_utf16(tmp_path):
    from ingest.parsing.limits import INFLATE_CHUNK_BYTES

    prolog = b"<?xml version='1.0'?>"
    padding = b" " * (INFLATE_CHUNK_BYTES - len(prolog) - 4)  # '<!Do' ends the first chunk, 'CtYpE' starts the next
    for name, xml in [("split.docx", prolog + padding + b"<!DoCtYpE x []><x/>"),
                      ("utf16.docx", "<?xml version='1.0' encoding='UTF-16'?><!ENTITY a 'b'><x/>".encode("utf-16"))]:
        path = write_docx(tmp_path / name, SECTIONS)
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("customXml/item9.xml", xml, zipfile.ZIP_STORED)
        assert _check(tmp_path, name).startswith("corrupt: XML part customXml/item9.xml declares"), name


def test_an_html_doctype_inside_an_office_file_is_not_xml_and_is_allowed(tmp_path):
    path = write_docx(tmp_path / "chunk.docx", SECTIONS)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("word/afchunk.htm", "<!DOCTYPE html><html><body>alt chunk</body></html>")
    assert _check(tmp_path, "chunk.docx") is None


def test_page_count_and_file_size_are_checked_before_parsing(tmp_path):
    write_text_pdf(tmp_path / "two_pages.pdf", SECTIONS * 2)
    assert _check(tmp_path, "two_pages.pdf") is None
    assert _check(tmp_path, "two_pages.pdf", ParseLimits(max_pages=1)) == \
        "too_large: the PDF has 2 pages (limit 1)"
    assert _check(tmp_path, "two_pages.pdf", ParseLimits(max_file_mb=0)).startswith("too_large: the file has")


def test_image_pixels_are_checked_against_the_limit(tmp_path):
    render_page_image(["A page"]).save(tmp_path / "page.png")  # 1700 x 2200
    assert _check(tmp_path, "page.png") is None
    assert _check(tmp_path, "page.png", ParseLimits(max_image_pixels=1_000_000)).startswith("too_large")


def test_legacy_text_prefers_windows_1252_but_keeps_other_code_pages():
    assert detect_encoding("café crème".encode("latin-1")) == "cp1252"
    czech = "Příliš žluťoučký kůň úpěl ďábelské ódy. Čeština je krásná a zvláštní."
    assert detect_encoding(czech.encode("cp1250")) == "cp1250"
    assert detect_encoding("Zürich".encode("utf-8")) == "utf-8"


def test_every_quarantine_reason_in_the_code_starts_with_a_documented_category():
    import ingest.parsing

    package = Path(ingest.parsing.__file__).parent
    pattern = re.compile(r"""(?:Quarantine|quarantined)\((?:document,)?\s*f?["']([a-z_]+):""")
    found = set()
    for name in ("parse.py", "limits.py", "isolation.py", "convert.py"):
        found |= set(pattern.findall((package / name).read_text()))
    assert found and found <= set(CATEGORIES), found - set(CATEGORIES)
    docstring = __import__("ingest.parsing.limits", fromlist=["_"]).__doc__
    assert all(f"- {category}:" in docstring for category in CATEGORIES)
