"""Paragraph classification in batched spaCy passes (ingest.parsing.classify): the same categories as
unstructured's one call per paragraph, and the partitioners' texts predicted from the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.corpus import Section, write_docx, write_eml, write_html, write_markdown, write_pptx
from ingest.parsing import classify
from ingest.parsing.classify import (
    classify_paragraphs,
    expected_paragraphs,
    html_paragraphs,
    plain_paragraphs,
    prepared_texts,
)

PARAGRAPHS = [
    "Returns policy",
    "Customers may return any unused item within 45 days of delivery for a full refund.",
    "SHIPPING AND HANDLING",
    "WE SHIP WORLDWIDE WITH TRACKED COURIERS.",
    "• Ladders are inspected every spring.",
    "1. Open the valve slowly.",
    "ops@example.com",
    "Chicago, IL 60601",
    "12345",
    "Revenue grew. Costs fell. Margins improved across the whole of the second half of the year.",
    "Annual report 2024",
    "x" * 9000 + " trailing words after the classified head",
]
SECTIONS = [Section("Returns policy", ("Unused items can be returned within 45 days for a full refund.",
                                       "Refunds reach the original card within five business days.")),
            Section("SHIPPING", ("WE SHIP WORLDWIDE WITH TRACKED COURIERS.", "Delivery takes three days."))]


def _clear_analyses() -> None:
    """Empty unstructured's caches of its analyses, so that the next classification asks spaCy again."""
    from unstructured.nlp import tokenize

    for cached in (tokenize.word_tokenize, tokenize.pos_tag, tokenize._tokenize_for_cache):
        cached.cache_clear()
    classify._tokenize_module()
    classify._unprepared_analysis.cache_clear()


def _one_call_each(texts: list[str]) -> list[tuple[str, str]]:
    """unstructured's classifier as it runs without a batch: one spaCy call per paragraph."""
    _clear_analyses()
    return [classify._classify(text) for text in texts]


@pytest.fixture
def unprepared_texts(monkeypatch) -> list[str]:
    """Texts unstructured had to analyse one by one, because no batch prepared them (caches emptied first)."""
    _clear_analyses()
    asked: list[str] = []
    original = classify._unprepared_analysis

    def counted(text: str):
        asked.append(text)
        return original(text)

    counted.cache_clear = original.cache_clear
    monkeypatch.setattr(classify, "_unprepared_analysis", counted)
    return asked


def test_batched_classification_gives_the_categories_and_texts_of_one_call_each(unprepared_texts):
    batched = classify_paragraphs(PARAGRAPHS)
    assert unprepared_texts == []  # every analysis came from the batch
    assert batched == _one_call_each(PARAGRAPHS)
    categories = [category for category, _ in batched]
    assert categories[:2] == ["Title", "NarrativeText"] and "ListItem" in categories
    assert batched[4][1] == "Ladders are inspected every spring."  # the bullet stripped, as before
    assert batched[-1][1].endswith("trailing words after the classified head")  # judged by its head, kept whole


def test_a_document_longer_than_one_pass_is_classified_a_stretch_at_a_time(monkeypatch, unprepared_texts):
    monkeypatch.setattr(classify, "PREPARED_CHARS", 200)
    sizes = []
    original = classify.prepared_texts

    def counted(texts):
        texts = list(texts)
        sizes.append(sum(map(len, texts)))
        return original(texts)

    monkeypatch.setattr(classify, "prepared_texts", counted)
    texts = PARAGRAPHS[:-1] * 3
    batched = classify_paragraphs(texts)
    assert unprepared_texts == []
    assert len(sizes) > 3 and all(size <= 200 for size in sizes)
    assert batched == _one_call_each(texts)


def test_a_text_that_was_not_prepared_is_analysed_when_asked(unprepared_texts):
    from unstructured.partition.text import element_from_text

    with prepared_texts(["Something else entirely."]):
        element = element_from_text("Customers may return any unused item within 45 days.")
    assert element.category == "NarrativeText"
    assert set(unprepared_texts) == {"Customers may return any unused item within 45 days."}


def _writers(folder: Path) -> dict[str, Path]:
    return {
        "docx": write_docx(folder / "memo.docx", SECTIONS),
        "pptx": write_pptx(folder / "deck.pptx", SECTIONS),
        "html": write_html(folder / "page.html", SECTIONS),
        "md": write_markdown(folder / "readme.md", SECTIONS),
        "eml": write_eml(folder / "mail.eml", sender="ops@example.com", to="team@example.com", subject="Stock",
                         body="Please find the numbers below.\n\nREVENUE GREW BY TEN PERCENT.\n\n- one\n- two"),
    }


@pytest.mark.parametrize("kind", ["docx", "pptx", "html", "md", "eml"])
def test_the_partitioners_texts_are_predicted_from_the_file(tmp_path, kind, unprepared_texts):
    from unstructured.partition.auto import partition

    path = _writers(tmp_path)[kind]
    with prepared_texts(expected_paragraphs(path, kind)) as prepared:
        elements = partition(filename=str(path), **({"process_attachments": False} if kind == "eml" else {}))
    assert prepared > 0 and elements
    assert unprepared_texts == []  # unstructured asked only for texts the batch had analysed


def test_a_prediction_never_changes_what_the_partitioner_makes(tmp_path):
    from unstructured.partition.auto import partition

    path = _writers(tmp_path)["html"]
    with prepared_texts(expected_paragraphs(path, "html")):
        predicted = [(element.category, element.text) for element in partition(filename=str(path))]
    _clear_analyses()
    plain = [(element.category, element.text) for element in partition(filename=str(path))]
    assert predicted == plain and ("Title", "Returns policy") in plain


def test_a_file_the_prediction_cannot_read_predicts_nothing(tmp_path):
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"not a zip file")
    assert expected_paragraphs(broken, "docx") == []
    assert expected_paragraphs(tmp_path / "notes.xlsx", "xlsx") == []  # no prediction for this kind


def test_html_blocks_are_read_in_one_pass_however_deep_the_nesting():
    nested = "<div>" * 20_000 + "<p>Deep inside.</p>" + "</div>" * 20_000
    predicted = html_paragraphs(f"<html><body><p>First <b>bold</b> words.</p>{nested}</body></html>")
    assert predicted[0] == "First bold words."
    assert len(predicted) <= classify.MAX_PREDICTED_BLOCKS


def test_plain_paragraphs_split_as_unstructured_does_and_drop_lone_bullets():
    from unstructured.partition.text import partition_text

    text = "Opening hours\n\nThe shop opens at eight.\n\n•\n\nIt closes at six."
    assert plain_paragraphs(text) == [element.text for element in partition_text(text=text)]
    assert plain_paragraphs(text) == ["Opening hours", "The shop opens at eight.", "It closes at six."]


def _corpus_paragraphs(folder: Path) -> list[str]:
    """The paragraphs unstructured classifies in the bundled sample corpus's text, Markdown, HTML, Word and
    e-mail files, and in those of a benchmark corpus written to `folder`."""
    from benchmarks.throughput.synthetic_corpus import generate_corpus, write_corpus

    write_corpus(generate_corpus(40, 0.0, seed=11), folder)
    corpus = Path(classify.__file__).resolve().parents[1] / "sample_corpus"
    paragraphs: list[str] = []
    for path in sorted([*corpus.rglob("*"), *folder.rglob("*")]):
        kind = path.suffix.lstrip(".")
        if kind == "txt":
            paragraphs += plain_paragraphs(path.read_text(encoding="utf-8"))
        elif kind in ("md", "html", "docx", "eml"):
            paragraphs += expected_paragraphs(path, kind)
    return list(dict.fromkeys(paragraph[:classify.CLASSIFY_CHARS] for paragraph in paragraphs))


def test_sentences_from_the_recogniser_give_the_categories_of_unstructureds_parser(monkeypatch, tmp_path):
    """The classifier's pipeline finds sentences with spaCy's sentence recogniser instead of unstructured's
    choice, the dependency parser: the categories (and texts) must not change."""
    from unstructured.nlp import tokenize

    paragraphs = [*PARAGRAPHS, *_corpus_paragraphs(tmp_path)]
    assert len(paragraphs) > 300
    ours = _one_call_each(paragraphs)
    assert "parser" not in classify.classifier_pipeline().pipe_names
    with_parser = tokenize._load_spacy_model()  # unstructured's own: tagger and parser
    assert "parser" in with_parser.pipe_names
    _clear_analyses()
    monkeypatch.setattr(tokenize, "_get_nlp", lambda: with_parser)
    theirs = [classify._classify(text) for text in paragraphs]
    assert ours == theirs
    assert {category for category, _ in ours} >= {"Title", "NarrativeText", "ListItem"}
