"""Legacy Office, OpenDocument, RTF and EPUB files through the parse workers, with the real LibreOffice
and pandoc: their text, their broken and hostile cases, and what the conversions leave behind."""

from __future__ import annotations

import tempfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import polars as pl
import psutil
import pytest

from benchmarks.corpus import Section, write_odt, write_rtf, write_text
from ingest.parsing.isolation import parse_documents_isolated
from ingest.parsing.limits import ParseLimits, Quarantine, check_before_parsing
from ingest.parsing.parse import ParseSettings, parse_document
from ingest.parsing.sources import scan_source
from ingest.parsing.stage import _retried
from tests.unit.parsing.office import BROKEN, EXPECTED, SECTIONS

CONVERTED_BY_LIBREOFFICE = [name for name, (parser, _, _) in EXPECTED.items() if parser.startswith("libreoffice")]


@pytest.fixture(scope="module", autouse=True)
def private_temporary_folder(tmp_path_factory):
    """This module's batches make their temporary folders in a folder of their own: the system's is shared
    with the other test processes of a parallel run, whose batches make and remove folders of the same name."""
    folder = tmp_path_factory.mktemp("temporary")
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    yield folder
    tempfile.tempdir = previous


def _conversion_folders() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob("ingest-convert-*")}


def _libreoffice_processes(since: float) -> list[psutil.Process]:
    """LibreOffice processes started for a parse run (their profile is in its temporary folder)."""
    found = []
    for process in psutil.process_iter(["cmdline", "create_time"]):
        command = " ".join(process.info["cmdline"] or [])
        if "ingest-convert-" in command and "UserInstallation" in command and process.info["create_time"] >= since:
            found.append(process)
    return found


@pytest.fixture(scope="module")
def batch(office_folder):
    """The office folder parsed in one isolated batch: source -> (row, elements), the LibreOffice report,
    and the temporary folders before and after."""
    before = _conversion_folders()
    sources_before = sorted(path.name for path in office_folder.iterdir())
    documents = scan_source("acme", office_folder)
    reports = []
    parsed, elements = parse_documents_isolated(documents, ParseSettings(), ParseLimits(),
                                                on_conversions=reports.append)
    rows = {}
    for document, row in zip(documents, parsed.iter_rows(named=True), strict=True):
        rows[document.source] = (row, elements.filter(pl.col("doc_id") == document.doc_id).rows(named=True))
    return {"rows": rows, "reports": reports, "new_folders": _conversion_folders() - before,
            "sources_before": sources_before, "sources_after": sorted(path.name for path in office_folder.iterdir())}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_type_parses_to_its_text_through_its_converter(batch, name):
    parser, fragments, titled = EXPECTED[name]
    row, elements = batch["rows"][name]
    assert row["quarantine_reason"] is None and row["parser"] == parser and row["strategy"] == "partition"
    text = " ".join(" ".join(element["text"] for element in elements).split())
    for fragment in fragments:
        assert fragment in text
    if titled:  # the headings survive the conversion as headings
        titles = [element["text"] for element in elements if element["category"] == "Title"]
        assert titles[:2] == ["Returns policy", "Shipping"]


@pytest.mark.parametrize("name", list(BROKEN))
def test_corrupt_and_encrypted_legacy_files_are_quarantined_and_the_rest_still_parse(batch, name):
    row, elements = batch["rows"][name]
    assert row["quarantine_reason"].startswith(BROKEN[name]) and elements == []
    assert batch["rows"]["memo.doc"][0]["quarantine_reason"] is None  # the same batch's good .doc
    assert batch["rows"]["notes.txt"][0]["quarantine_reason"] is None


def test_libreoffice_starts_once_per_target_format_not_per_document(batch):
    [report] = batch["reports"]
    assert report.batches == 3  # DOCX, PPTX, XLSX
    converted = CONVERTED_BY_LIBREOFFICE + list(BROKEN)
    assert report.documents == len(converted) and report.left_to_workers == 0
    assert report.failed >= 2  # the truncated and the encrypted .doc (random bytes it may read as text)
    assert report.startup_seconds > 0 and report.seconds > report.startup_seconds


def test_no_converted_file_is_left_behind(batch):
    assert batch["new_folders"] == set()
    assert batch["sources_after"] == batch["sources_before"]


def test_a_conversion_over_the_time_limit_is_killed_with_its_processes_and_quarantined(tmp_path):
    # 60,000 paragraphs: LibreOffice needs seconds to read and write them, whatever the machine
    write_rtf(tmp_path / "a_memo.rtf", [Section(f"Chapter {number}", tuple(
        f"Paragraph {line} of chapter {number}: the depot ships pallets every weekday." for line in range(600)))
        for number in range(100)])
    write_text(tmp_path / "b_after.txt", SECTIONS)
    documents = scan_source("acme", tmp_path)
    started = time.time()
    before = _conversion_folders()

    # The batch is killed when the file takes longer than the limit, then the worker converting it alone.
    parsed, _ = parse_documents_isolated(documents, ParseSettings(), ParseLimits(workers=1, timeout_seconds=1))

    rows = {document.source: row for document, row in zip(documents, parsed.iter_rows(named=True), strict=True)}
    assert rows["a_memo.rtf"]["quarantine_reason"] == "timeout: parsing took longer than 1 s"
    assert rows["b_after.txt"]["quarantine_reason"] is None and rows["b_after.txt"]["elements"] > 0
    assert _libreoffice_processes(started) == []
    assert _conversion_folders() - before == set()


def test_without_libreoffice_or_pandoc_their_types_are_quarantined_saying_what_to_install(
        office_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice, no pandoc
    documents = [d for d in scan_source("acme", office_folder) if d.source in ("memo.doc", "deck.odp", "prices.ods",
                                                                               "book.epub", "prices.xls")]

    parsed, _ = parse_documents_isolated(documents, ParseSettings(), ParseLimits())

    reasons = {d.source: reason for d, reason in zip(documents, parsed["quarantine_reason"], strict=True)}
    assert reasons["memo.doc"].startswith("unavailable: reading .doc files needs LibreOffice")
    assert "libreoffice-writer-nogui" in reasons["memo.doc"]
    assert "libreoffice-impress-nogui" in reasons["deck.odp"]
    assert "libreoffice-calc-nogui" in reasons["prices.ods"]
    assert reasons["book.epub"].startswith("unavailable: reading .epub files needs pandoc")
    assert reasons["prices.xls"] is None  # read without a converter


def test_a_document_parsed_on_its_own_is_converted_on_its_own(tmp_path, scan_one):
    document = scan_one(write_odt(tmp_path / "memo.odt", SECTIONS))
    before = _conversion_folders()

    parsed = parse_document(document)

    assert parsed.ok and parsed.parser == "libreoffice+unstructured:docx"
    assert [e.text for e in parsed.elements if e.category == "Title"] == ["Returns policy", "Shipping"]
    assert _conversion_folders() - before == set()


def test_transient_and_newly_supported_quarantines_are_retried_the_others_kept():
    reasons = {"a": "timeout: parsing took longer than 120 s", "b": "unavailable: reading .doc files needs ...",
               "c": "unsupported: file type 'doc' (application/msword)", "d": "unsupported: file type 'zip' (...)",
               "e": "corrupt: LibreOffice could not open the file", "f": None}
    types = {"a": "pdf", "b": "doc", "c": "doc", "d": "zip", "e": "doc", "f": "doc"}
    stored = pl.DataFrame({"doc_id": list(reasons), "quarantine_reason": list(reasons.values())})
    sources = pl.DataFrame({"doc_id": list(types), "file_type": list(types.values())})
    assert _retried(stored, sources) == {"a", "b", "c"}


# --- the checks before conversion, called directly ---------------------------------------------

def _package(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def _check(path: Path) -> str | None:
    document = next(d for d in scan_source("acme", path.parent) if d.source == path.name)
    try:
        check_before_parsing(document, ParseLimits())
    except Quarantine as reason:
        return str(reason)
    return None


def test_package_checks_find_encryption_and_entities(tmp_path):
    manifest = '<manifest:manifest><manifest:file-entry manifest:full-path="content.xml">{}</manifest:file-entry>'
    encrypted = '<manifest:encryption-data manifest:checksum-type="SHA1/1K"/>'
    assert _check(_package(tmp_path / "locked.odt", {
        "mimetype": "application/vnd.oasis.opendocument.text", "META-INF/manifest.xml": manifest.format(encrypted),
        "content.xml": "<x/>"})) == "encrypted: the OpenDocument file is password-protected"
    assert _check(_package(tmp_path / "entities.ods", {
        "mimetype": "application/vnd.oasis.opendocument.spreadsheet",
        "content.xml": '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'})).startswith(
        "corrupt: XML part content.xml declares entities")
    assert _check(write_odt(tmp_path / "plain.odt", SECTIONS)) is None

    encryption = ('<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                  'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
                  '<enc:EncryptionMethod Algorithm="{}"/></enc:EncryptedData></encryption>')
    cipher = encryption.format("http://www.w3.org/2001/04/xmlenc#aes128-cbc")
    fonts = encryption.format("http://www.idpf.org/2008/embedding")  # obfuscated fonts: the text is readable
    assert _check(_package(tmp_path / "drm.epub", {
        "mimetype": "application/epub+zip", "META-INF/encryption.xml": cipher})) == \
        "encrypted: the EPUB's content is encrypted (DRM)"
    assert _check(_package(tmp_path / "fonts.epub", {
        "mimetype": "application/epub+zip", "META-INF/encryption.xml": fonts})) is None


def test_an_rtf_that_is_not_rtf_is_corrupt(tmp_path):
    (tmp_path / "fake.rtf").write_text("Just text, no RTF header at all.", encoding="utf-8")
    document = replace(scan_source("acme", tmp_path)[0], file_type="rtf")  # typed by its name, as a stray file is
    with pytest.raises(Quarantine, match="corrupt: not an RTF document"):
        check_before_parsing(document, ParseLimits())
