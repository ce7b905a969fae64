import pytest

from benchmarks.corpus import Section, write_text
from ingest.parsing.language import LANGUAGE_SAMPLE_CHARS, detect_language, document_language
from ingest.parsing.parse import parse_documents
from ingest.parsing.sources import scan_source

GERMAN = "Die Lieferung erfolgt innerhalb von drei Werktagen nach Eingang der Zahlung auf unserem Konto."
ENGLISH = "Delivery takes three working days after we receive your payment for the order."


@pytest.mark.parametrize("text, language", [
    (ENGLISH, "en"),
    (GERMAN, "de"),
    ("La livraison est effectuée dans un délai de trois jours ouvrables après réception du paiement.", "fr"),
])
def test_detect_language_of_a_paragraph(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["1234 5678 9012 3456 7890 1234 5678 9012", "", "OK thanks"])
def test_detect_language_without_enough_letters_is_unknown(text):
    assert detect_language(text) == "unknown"


def test_detect_language_is_deterministic():
    text = "Ja, nein, vielleicht. Oui, non, peut-être. Yes, no, maybe. Si, no, forse."
    assert len({detect_language(text) for _ in range(5)}) == 1


def test_a_documents_language_is_read_from_its_beginning():
    german_start = [GERMAN] * (LANGUAGE_SAMPLE_CHARS // len(GERMAN) + 1)
    assert document_language([*german_start, *[ENGLISH] * 200]) == "de"
    assert document_language([GERMAN, *[ENGLISH] * 200]) == "en"
    assert document_language([]) == "unknown"


def test_the_parse_records_each_documents_language_and_none_for_a_quarantined_one(source_dir):
    write_text(source_dir / "de.txt", [Section("Lieferung", (GERMAN,))])
    write_text(source_dir / "en.txt", [Section("Delivery", (ENGLISH,))])
    (source_dir / "empty.txt").write_bytes(b"")
    parsed, _ = parse_documents(scan_source("acme", source_dir))
    by_name = {doc_id: language for doc_id, language in parsed.select("doc_id", "language").iter_rows()}
    sources = {document.doc_id: document.source for document in scan_source("acme", source_dir)}
    assert {sources[doc_id]: language for doc_id, language in by_name.items()} == {
        "de.txt": "de", "en.txt": "en", "empty.txt": None}
