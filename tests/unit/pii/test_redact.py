import json

import polars as pl
import pytest

from ingest.core import tables
from ingest.pii.redact import Finding, RedactionPolicy, apply_operators, entity_counts_by_document, redact_elements


def _Span(start: int, end: int, entity_type: str, score: float) -> Finding:
    return Finding(start, end, entity_type, score, "test")


def apply_placeholders(text: str, spans: list[Finding]):
    return apply_operators(text, spans, RedactionPolicy())

NAME = "John Smith"
EMAIL = "john.smith@example.com"
PHONE = "212-555-0199"
CONTACT = f"Please contact {NAME} at {EMAIL} or call {PHONE} before Friday."


@pytest.fixture(scope="module")
def contact(redactor):
    [result] = redactor.redact([CONTACT])
    return result


def test_person_email_and_phone_become_typed_placeholders(contact):
    assert contact.text == "Please contact <PERSON> at <EMAIL_ADDRESS> or call <PHONE_NUMBER> before Friday."


@pytest.mark.parametrize("value", [NAME, "Smith", EMAIL, "example.com", PHONE, "555-0199"])
def test_raw_values_are_gone(contact, value):
    assert value not in contact.text


def test_entity_counts_are_per_type(contact):
    assert contact.entity_counts == {"EMAIL_ADDRESS": 1, "PERSON": 1, "PHONE_NUMBER": 1}


def test_repeated_entities_are_all_counted(redactor):
    [result] = redactor.redact(["Maria Garcia wrote to maria.garcia@example.org and to Peter Brown."])
    assert result.entity_counts == {"EMAIL_ADDRESS": 1, "PERSON": 2}
    assert "Maria" not in result.text and "Peter" not in result.text


def test_text_without_pii_is_unchanged(redactor):
    text = "Our office hours are nine to five on weekdays."
    [result] = redactor.redact([text])
    assert result.text == text
    assert result.entity_counts == {}


def test_redact_returns_one_result_per_text_in_order(redactor):
    texts = ["No personal data here.", CONTACT, "Nothing either."]
    results = redactor.redact(texts)
    assert [r.text for r in results][0::2] == ["No personal data here.", "Nothing either."]
    assert "<EMAIL_ADDRESS>" in results[1].text


def test_overlapping_spans_of_the_same_text_keep_the_higher_score():
    text = "id 078-05-1120 here"
    spans = [_Span(3, 14, "PHONE_NUMBER", 0.4), _Span(3, 14, "US_SSN", 0.85)]
    result = apply_placeholders(text, spans)
    assert result.text == "id <US_SSN> here"
    assert result.entity_counts == {"US_SSN": 1}


def test_higher_score_wins_over_a_longer_overlapping_span():
    text = "Dr Ann Lee"
    spans = [_Span(0, 10, "PHONE_NUMBER", 0.3), _Span(3, 10, "PERSON", 0.85)]
    assert apply_placeholders(text, spans).text == "Dr <PERSON>"


def test_overlapping_spans_with_equal_score_keep_the_longer():
    text = "write to ann@example.com today"
    spans = [_Span(9, 12, "PERSON", 0.85), _Span(9, 24, "EMAIL_ADDRESS", 0.85)]
    result = apply_placeholders(text, spans)
    assert result.text == "write to <EMAIL_ADDRESS> today"
    assert result.entity_counts == {"EMAIL_ADDRESS": 1}


def test_adjacent_and_disjoint_spans_are_all_replaced_in_order():
    text = "AnnBob and Carl"
    spans = [_Span(11, 15, "PERSON", 0.5), _Span(0, 3, "PERSON", 0.9), _Span(3, 6, "PERSON", 0.6)]
    result = apply_placeholders(text, spans)
    assert result.text == "<PERSON><PERSON> and <PERSON>"
    assert result.entity_counts == {"PERSON": 3}


def test_no_spans_leave_the_text_alone():
    assert apply_placeholders("plain text", []).text == "plain text"


def test_policy_version_changes_with_threshold_and_entities():
    base = RedactionPolicy()
    assert base.version != RedactionPolicy(score_threshold=0.6).version
    assert base.version != RedactionPolicy(entities=("PERSON",)).version
    assert base.version == RedactionPolicy(entities=tuple(reversed(base.entities))).version


@pytest.fixture(scope="module")
def elements():
    rows = [
        {"doc_id": "doc-a", "index": 0, "category": "Title", "text": "Account review", "page": 1, "depth": 0,
         "ocr": False, "ocr_confidence": None},
        {"doc_id": "doc-a", "index": 1, "category": "NarrativeText", "text": CONTACT, "page": 1, "depth": 0,
         "ocr": False, "ocr_confidence": None},
        {"doc_id": "doc-a", "index": 2, "category": "NarrativeText",
         "text": "Copy the reply to anna.berg@example.net please.", "page": 2, "depth": 0, "ocr": True,
         "ocr_confidence": 91.5},
        {"doc_id": "doc-b", "index": 0, "category": "NarrativeText",
         "text": "The quarterly numbers look fine.", "page": None, "depth": 0, "ocr": False,
         "ocr_confidence": None},
    ]
    return tables.frame(rows, tables.ELEMENTS)


def test_redact_elements_records_what_was_found_in_each_element(elements, redactor):
    redacted = redact_elements(elements, redactor)
    assert [json.loads(entities) for entities in redacted["entities"]] == [
        {}, {"EMAIL_ADDRESS": 1, "PERSON": 1, "PHONE_NUMBER": 1}, {"EMAIL_ADDRESS": 1}, {}]
    assert redacted["text"][1] == "Please contact <PERSON> at <EMAIL_ADDRESS> or call <PHONE_NUMBER> before Friday."


def test_redact_elements_keeps_rows_and_other_columns(elements, redactor):
    redacted = redact_elements(elements, redactor)
    assert redacted.columns == list(tables.REDACTED_ELEMENTS)
    assert redacted.schema == pl.Schema(tables.REDACTED_ELEMENTS)
    assert redacted.drop("text", "entities").equals(elements.drop("text"))
    assert redacted["text"][3] == elements["text"][3]


def test_redact_elements_never_contains_raw_values(elements, redactor):
    redacted = redact_elements(elements, redactor)
    for column in redacted.columns:
        rendered = " ".join(str(value) for value in redacted[column].to_list())
        for value in (NAME, EMAIL, PHONE, "anna.berg@example.net"):
            assert value not in rendered, (column, value)


def test_redact_elements_of_no_elements_is_empty(redactor):
    redacted = redact_elements(tables.frame([], tables.ELEMENTS), redactor)
    assert redacted.height == 0
    assert redacted.schema == pl.Schema(tables.REDACTED_ELEMENTS)
    assert entity_counts_by_document(redacted) == {}


def test_entity_counts_by_document_adds_up_each_documents_elements(elements, redactor):
    counts = entity_counts_by_document(redact_elements(elements, redactor))
    assert counts == {"doc-a": {"EMAIL_ADDRESS": 2, "PERSON": 1, "PHONE_NUMBER": 1}, "doc-b": {}}
    assert list(counts["doc-a"]) == sorted(counts["doc-a"])


def test_entity_counts_by_document_of_a_stored_frame():
    frame = pl.DataFrame({"doc_id": ["x", "x", "y", "x"],
                          "entities": ['{"PERSON": 2}', '{"IBAN_CODE": 1, "PERSON": 1}', "{}", "{}"]})
    assert entity_counts_by_document(frame) == {"x": {"IBAN_CODE": 1, "PERSON": 3}, "y": {}}
