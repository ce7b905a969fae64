from dataclasses import replace

import pytest

from ingest.chunking.chunk import Chunker, ChunkSettings, chunk_documents, document_text
from ingest.core.models import Element
from tests.unit.conftest import word_offsets


def title(text, depth=0, **fields):
    return Element(0, "Title", text, depth=depth, **fields)


def para(text, category="NarrativeText", **fields):
    return Element(0, category, text, **fields)


def numbered(*elements):
    return [replace(element, index=index) for index, element in enumerate(elements)]


def words(count, prefix="w"):
    """A paragraph of `count` distinct words: `count` tokens for the word tokenizer."""
    return " ".join(f"{prefix}{i}" for i in range(count))


def chunker(max_tokens=20, overlap_tokens=4):
    return Chunker(word_offsets, ChunkSettings(max_tokens, overlap_tokens), model_limit=512)


def test_every_chunk_is_an_exact_span_of_the_document_text():
    elements = numbered(title("Intro"), para(words(8, "a")), para(words(45, "b")), title("Next", depth=1),
                        para(words(12, "c")), para(words(6, "d")), title("End"))
    text, _ = document_text(elements)
    chunks = chunker().chunk("doc", elements)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text == text[chunk.start:chunk.end]
    assert [chunk.chunk_index for chunk in chunks] == list(range(len(chunks)))


def test_no_text_is_lost():
    elements = numbered(title("Intro"), para(words(8, "a")), para(words(45, "b")), title("Next", depth=1),
                        para(words(12, "c")), title("End"))
    text, _ = document_text(elements)
    covered = set()
    for chunk in chunker().chunk("doc", elements):
        covered.update(range(chunk.start, chunk.end))
    for start, end in word_offsets(text):
        assert set(range(start, end)) <= covered, text[start:end]


def test_token_count_is_the_count_of_the_chunk_text_and_within_budget():
    elements = numbered(title("Intro"), para(words(30)), para("Short closing line."), para(words(19, "x")))
    for chunk in chunker(max_tokens=24, overlap_tokens=6).chunk("doc", elements):
        assert chunk.token_count == len(word_offsets(chunk.text)) <= 24


def test_a_title_starts_a_new_chunk():
    elements = numbered(title("Returns"), para(words(10, "r")), title("Shipping"), para(words(10, "s")))
    text, spans = document_text(elements)
    chunks = chunker(max_tokens=100, overlap_tokens=8).chunk("doc", elements)
    assert [chunk.text for chunk in chunks] == [text[spans[0][0]:spans[1][1]], text[spans[2][0]:spans[3][1]]]


def test_section_path_follows_heading_depth():
    elements = numbered(
        title("Handbook", depth=0), para("Welcome to the handbook."),
        title("Leave", depth=1), para("Twenty days of paid leave."),
        title("Pay", depth=1), para("Salaries are paid monthly."),
        title("Appendix", depth=0), para("Forms are at the office."),
    )
    chunks = chunker(max_tokens=100, overlap_tokens=8).chunk("doc", elements)
    assert [chunk.section_path for chunk in chunks] == [
        ("Handbook",), ("Handbook", "Leave"), ("Handbook", "Pay"), ("Appendix",)]


def test_nested_title_right_after_its_parent_shares_the_chunk_with_the_text():
    elements = numbered(title("Handbook"), title("Leave", depth=1), para("Twenty days of paid leave."))
    [chunk] = chunker().chunk("doc", elements)
    assert chunk.text.startswith("Handbook")
    assert chunk.section_path == ("Handbook", "Leave")


def test_long_paragraph_is_split_into_chunks_that_cover_it():
    paragraph = words(100)
    chunks = chunker(max_tokens=20, overlap_tokens=4).chunk("doc", numbered(para(paragraph)))
    assert len(chunks) >= 5
    assert all(chunk.token_count <= 20 for chunk in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(paragraph)
    for start, end in word_offsets(paragraph):
        assert any(chunk.start <= start and end <= chunk.end for chunk in chunks), paragraph[start:end]


def test_chunks_of_a_long_paragraph_overlap():
    chunks = chunker(max_tokens=20, overlap_tokens=4).chunk("doc", numbered(para(words(100))))
    assert len(chunks) > 1
    for previous, following in zip(chunks, chunks[1:]):
        assert following.start < previous.end


def test_title_stays_with_a_long_paragraph():
    chunks = chunker(max_tokens=20, overlap_tokens=4).chunk("doc", numbered(title("Intro"), para(words(100))))
    assert chunks[0].text.startswith("Intro")
    assert "w0" in chunks[0].text


def test_consecutive_paragraphs_of_a_section_overlap():
    elements = numbered(title("Terms"), para(words(12, "a")), para(words(12, "b")), para(words(12, "c")))
    text, _ = document_text(elements)
    chunks = chunker(max_tokens=20, overlap_tokens=4).chunk("doc", elements)
    assert len(chunks) >= 3
    for previous, following in zip(chunks, chunks[1:]):
        shared = text[following.start:previous.end]
        assert following.start < previous.end
        assert 0 < len(word_offsets(shared)) <= 4


def test_no_overlap_across_sections():
    elements = numbered(title("One"), para(words(15, "a")), title("Two"), para(words(15, "b")))
    text, spans = document_text(elements)
    chunks = chunker(max_tokens=20, overlap_tokens=8).chunk("doc", elements)
    second = next(chunk for chunk in chunks if "Two" in chunk.text)
    assert second.start == spans[2][0]
    assert all("a0" not in chunk.text for chunk in chunks if chunk.section_path == ("Two",))


def test_zero_overlap_means_chunks_share_no_words():
    elements = numbered(para(words(12, "a")), para(words(12, "b")), para(words(12, "c")))
    text, _ = document_text(elements)
    chunks = chunker(max_tokens=20, overlap_tokens=0).chunk("doc", elements)
    seen = [word for chunk in chunks for word in chunk.text.split()]
    assert sorted(seen) == sorted(text.split())


def test_a_repeated_heading_still_starts_a_new_chunk():
    elements = numbered(title("Notes"), para("alpha beta"), title("Notes"), para("gamma delta"))
    chunks = chunker(max_tokens=100, overlap_tokens=8).chunk("doc", elements)
    assert [chunk.text for chunk in chunks] == ["Notes\n\nalpha beta", "Notes\n\ngamma delta"]


def test_pages_and_element_types_are_collected():
    elements = numbered(title("Report", page=1), para("First page text.", page=1),
                        para("A bullet on page two.", category="ListItem", page=2), para("No page here."))
    [chunk] = chunker(max_tokens=100, overlap_tokens=8).chunk("doc", elements)
    assert chunk.pages == (1, 2)
    assert chunk.element_types == ("ListItem", "NarrativeText", "Title")


def test_pages_of_a_chunk_are_only_those_it_covers():
    elements = numbered(title("A", page=1), para(words(15, "a"), page=1), title("B", page=3),
                        para(words(15, "b"), page=4))
    chunks = chunker(max_tokens=20, overlap_tokens=4).chunk("doc", elements)
    assert [chunk.pages for chunk in chunks] == [(1,), (3, 4)]


def test_ocr_flag_is_set_when_a_covered_element_was_ocrd():
    elements = numbered(title("Scan"), para("Text read from an image.", ocr=True, ocr_confidence=90.0),
                        title("Typed"), para("Text from a text layer."))
    chunks = chunker(max_tokens=100, overlap_tokens=8).chunk("doc", elements)
    assert [chunk.ocr for chunk in chunks] == [True, False]


def test_a_chunk_lists_the_extraction_paths_of_the_elements_it_covers():
    elements = numbered(title("Part one", extraction="layout"), para("Laid out by pdfminer.", extraction="layout"),
                        para("Read from the text layer of the next page.", extraction="text-layer"),
                        title("Part two", extraction="ocr"), para("Read from a scan.", extraction="ocr"))
    chunks = chunker(max_tokens=100, overlap_tokens=8).chunk("doc", elements)
    assert [chunk.extraction for chunk in chunks] == [("layout", "text-layer"), ("ocr",)]


def test_trailing_title_only_element_joins_the_previous_chunk():
    elements = numbered(title("Letter"), para("Thank you for your order."), title("Kind regards"))
    text, _ = document_text(elements)
    chunks = chunker(max_tokens=100, overlap_tokens=8).chunk("doc", elements)
    assert len(chunks) == 1
    assert chunks[0].text == text
    assert chunks[0].section_path == ("Letter",)


def test_trailing_title_that_does_not_fit_gets_its_own_chunk():
    elements = numbered(title("Letter"), para(words(19)), title("Kind regards"))
    chunks = chunker(max_tokens=20, overlap_tokens=4).chunk("doc", elements)
    assert chunks[-1].text == "Kind regards"
    assert all(chunk.token_count <= 20 for chunk in chunks)


def test_empty_document_has_no_chunks():
    assert chunker().chunk("doc", []) == []


def test_chunk_documents_numbers_chunks_per_document():
    chunks = chunk_documents({"a": numbered(para(words(30))), "b": numbered(para("Only one."))}, chunker())
    assert [(chunk.doc_id, chunk.chunk_index) for chunk in chunks] == [("a", 0), ("a", 1), ("b", 0)]


@pytest.mark.parametrize("max_tokens, overlap_tokens", [(15, 0), (16, 8), (100, 50), (100, -1)])
def test_chunk_settings_reject_invalid_values(max_tokens, overlap_tokens):
    with pytest.raises(ValueError):
        ChunkSettings(max_tokens, overlap_tokens)


@pytest.mark.parametrize("max_tokens, overlap_tokens", [(16, 0), (16, 7), (200, 32)])
def test_chunk_settings_accept_valid_values(max_tokens, overlap_tokens):
    ChunkSettings(max_tokens, overlap_tokens)  # no ValueError


def test_settings_version_names_budget_overlap_and_model():
    assert ChunkSettings(200, 32).version("m") != ChunkSettings(200, 16).version("m")
    assert ChunkSettings(200, 32).version("m") != ChunkSettings(200, 32).version("other")


def test_chunker_refuses_max_tokens_above_the_model_limit(embedder):
    with pytest.raises(ValueError, match=str(embedder.max_tokens)):
        Chunker(embedder.token_offsets, ChunkSettings(embedder.max_tokens + 1, 32), embedder.max_tokens)


def test_chunker_accepts_max_tokens_equal_to_the_model_limit(embedder):
    chunker = Chunker(embedder.token_offsets, ChunkSettings(embedder.max_tokens, 32), embedder.max_tokens)
    [chunk] = chunker.chunk("doc", numbered(para("A short paragraph.")))
    assert chunk.text == "A short paragraph."


WAREHOUSE = ("The warehouse team reconciles incoming deliveries against purchase orders every morning "
             "before dispatching replacement parts to regional service centres. ")


def _model_token_count(tokenizer, text):
    """Tokens as the model's own (Hugging Face) tokenizer counts them, without special tokens."""
    return len(tokenizer.tokenize(text))


def test_real_tokenizer_chunks_are_exact_spans_within_the_limit(embedder, hugging_face_tokenizer):
    elements = numbered(
        title("Operations"), para(WAREHOUSE * 2), para((WAREHOUSE * 12).strip()),
        title("Returns", depth=1), para("Customers may return any unused item within 45 days of delivery."),
        title("Contact"), para("Write to the service desk; we answer within one business day."),
    )
    text, _ = document_text(elements)
    chunker = Chunker(embedder.token_offsets, ChunkSettings(64, 16), embedder.max_tokens)
    chunks = chunker.chunk("doc", elements)
    assert len(chunks) > 4
    for chunk in chunks:
        assert chunk.text == text[chunk.start:chunk.end]
        assert chunk.token_count == _model_token_count(hugging_face_tokenizer, chunk.text) <= 64


def test_long_words_split_mid_word_stay_within_the_model_limit(embedder, hugging_face_tokenizer):
    elements = numbered(para(" ".join(["ophthalmologist"] * 120)))
    chunker = Chunker(embedder.token_offsets, ChunkSettings(embedder.max_tokens, 32), embedder.max_tokens)
    for chunk in chunker.chunk("doc", elements):
        assert _model_token_count(hugging_face_tokenizer, chunk.text) <= embedder.max_tokens


# --- tokenizers whose counts depend on context, and the work the chunker asks of a tokenizer ---------

def heavy_start_offsets(text):
    """The word tokenizer, but a text's first word is three tokens (like a prefix marker)."""
    spans = word_offsets(text)
    return spans[:1] * 3 + spans[1:]


def word_pair_offsets(text):
    """Tokens of two words each that span the white space between them, paired from the text's start."""
    spans = word_offsets(text)
    return [(spans[i][0], spans[min(i + 1, len(spans) - 1)][1]) for i in range(0, len(spans), 2)]


def leading_space_offsets(text):
    """Like byte-level BPE: a word's token takes the white space before it, and runs of white space
    before a word are a token of their own; a text that begins with white space gets one more token."""
    spans = word_offsets(text)
    tokens = [(0, 0)] if text[:1].isspace() else []
    previous_end = 0
    for start, end in spans:
        gap = start - previous_end
        if gap > 1:
            tokens.append((previous_end, start - 1))
        tokens.append((start - 1 if gap else start, end))
        previous_end = end
    return tokens


def paragraph_heavy_offsets(text):
    """One token per word in a text of several paragraphs, five per word in a text of one paragraph:
    a piece of a paragraph counts far more on its own than in its document."""
    spans = word_offsets(text)
    return spans if "\n\n" in text else [span for span in spans for _ in range(5)]


MIXED = numbered(title("Intro"), para(words(8, "a")), para(words(45, "b")), title("Next", depth=1),
                 para(words(12, "c") + ". " + words(9, "d")), para("  " + words(6, "e") + " \n"),
                 para(words(30, "f")), title("End"))


@pytest.mark.parametrize("tokenizer", [heavy_start_offsets, word_pair_offsets, leading_space_offsets,
                                       paragraph_heavy_offsets])
@pytest.mark.parametrize("max_tokens, overlap_tokens", [(16, 0), (16, 7), (20, 4), (40, 12)])
def test_no_chunk_exceeds_the_budget_when_token_counts_depend_on_context(tokenizer, max_tokens, overlap_tokens):
    text, _ = document_text(MIXED)
    chunks = Chunker(tokenizer, ChunkSettings(max_tokens, overlap_tokens), 512).chunk("doc", MIXED)
    for chunk in chunks:
        assert chunk.text == text[chunk.start:chunk.end]
        assert chunk.token_count == len(tokenizer(chunk.text)) <= max_tokens, chunk.text
    assert [chunk.chunk_index for chunk in chunks] == list(range(len(chunks)))
    for start, end in word_offsets(text):
        assert any(chunk.start <= start and end <= chunk.end for chunk in chunks), text[start:end]


def counted_work(elements, settings):
    """(tokenizer calls, characters tokenised, document length) for chunking one document."""
    lengths = []

    def counting_offsets(text):
        lengths.append(len(text))
        return word_offsets(text)

    text, _ = document_text(elements)
    Chunker(counting_offsets, settings, model_limit=512).chunk("doc", elements)
    return len(lengths), sum(lengths), len(text)


def test_tokenizer_work_grows_linearly_when_one_chunk_holds_many_elements():
    # Every element fits in the one chunk: re-tokenising the chunk as it grows would be quadratic.
    def work(count):
        return counted_work(numbered(*(para(f"p{i} q{i}") for i in range(count))), ChunkSettings(500, 0))

    calls, chars, _ = work(100)
    calls_twice, chars_twice, length_twice = work(200)
    assert calls_twice <= 2 * calls
    assert chars_twice <= 2.5 * chars
    assert chars_twice <= 3 * length_twice


@pytest.mark.parametrize("max_tokens, overlap_tokens", [(20, 4), (200, 32), (500, 0)])
def test_tokenizer_reads_each_character_a_few_times_at_most(max_tokens, overlap_tokens):
    elements = numbered(*(title(f"Part {i}") if i % 50 == 0 else para(words(3, f"x{i}_")) for i in range(400)))
    _, chars, length = counted_work(elements, ChunkSettings(max_tokens, overlap_tokens))
    assert chars <= 3 * length


ODD_TEXT = ("Naïve cafe\u0301 owners in Zürich\u00a0paid €12,50 (see p.3) for \u4e2d\u6587 signs\x1cjoined "
            "words\u3000and\u2028breaks. pneumonoultramicroscopicsilicovolcanoconiosis " * 3)
# Long words are cut between tokens, where a span's own tokens differ from the document's.
LONG_WORDS = " ".join(["pneumonoultramicroscopicsilicovolcanoconiosis", "ophthalmologist", "e-mail"] * 8)
# Python calls these control characters white space; BERT deletes them, joining the words around them.
JOINED = ("sign\x0bjoined delivery joined\x1cjoined\x1csign\x85delivery\x1cparts orders joined\x1corders\x85sign"
          "\x85sign\x1corders delivery")


def fast_and_exact_chunks(embedder, monkeypatch, elements, settings):
    from ingest.chunking import chunk as chunk_module

    fast = Chunker(embedder.token_offsets, settings, embedder.max_tokens).chunk("doc", elements)
    # Treat no position as a clean cut: every span is then tokenised on its own.
    monkeypatch.setattr(chunk_module._Tokens, "is_boundary", lambda self, position: False)
    exact = Chunker(embedder.token_offsets, settings, embedder.max_tokens).chunk("doc", elements)
    return fast, exact


@pytest.mark.parametrize("max_tokens, overlap_tokens", [(16, 0), (16, 7), (40, 10), (64, 0)])
def test_counting_from_the_document_tokens_matches_tokenising_every_span(embedder, monkeypatch,
                                                                         max_tokens, overlap_tokens):
    elements = numbered(title("Über\u00a0uns"), para(ODD_TEXT), para(LONG_WORDS), title("Kontakt", depth=1),
                        para("\tTab-led text\x0bvertical tab and\x85next line. " * 4))
    fast, exact = fast_and_exact_chunks(embedder, monkeypatch, elements, ChunkSettings(max_tokens, overlap_tokens))
    assert fast == exact
    assert len(fast) > 3


def test_only_plain_white_space_counts_as_a_clean_cut(embedder, monkeypatch):
    elements = numbered(title("Notes"), para(JOINED))
    fast, exact = fast_and_exact_chunks(embedder, monkeypatch, elements, ChunkSettings(16, 7))
    assert fast == exact
    assert len(fast) > 1


def test_a_clean_cut_is_next_to_plain_white_space_and_inside_no_token():
    from ingest.chunking.chunk import _Tokens

    text = "ab cd\x1cef\u00a0gh"
    plain = _Tokens(text, word_offsets(text))
    assert [plain.is_boundary(position) for position in range(len(text) + 1)] == [
        True, False, True, True, False, False, False, False, False, False, False, True]
    # A token that takes the space before its word: cutting at the word cuts the token.
    spaced = _Tokens(text, leading_space_offsets(text))
    assert spaced.is_boundary(2) and not spaced.is_boundary(3)
