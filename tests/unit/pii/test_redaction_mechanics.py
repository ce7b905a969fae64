"""The redactor's mechanics: windows over long texts, name-bearing parts, resolving overlaps, the residue
scan and parallel redaction. The recognisers and the spaCy model run for real."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ingest.pii.policy import RedactionPolicy
from ingest.pii.recognizers import Finding
from ingest.pii.redact import PARALLEL_MIN_CHARACTERS, Redactor, name_bearing_parts, residue_scan, resolve, windows

# --- windows and name-bearing parts ----------------------------------------------------------

PROSE = " ".join(f"word{i % 97} sentence number {i} goes here." for i in range(900))


@pytest.mark.parametrize("text", [PROSE, "x" * 12_345, PROSE.replace(" ", "")[:9_000]])
@pytest.mark.parametrize(("size", "overlap"), [(2_000, 500), (2_500, 200), (5_000, 1_000)])
def test_windows_cover_the_text_in_pieces_of_at_most_size_sharing_the_overlap(text, size, overlap):
    pieces = list(windows(text, size, overlap))
    assert pieces[0][0] == 0
    assert pieces[-1][0] + len(pieces[-1][1]) == len(text)
    for offset, piece in pieces:
        assert 0 < len(piece) <= size
        assert text[offset:offset + len(piece)] == piece
    for (offset, piece), (next_offset, _) in zip(pieces, pieces[1:]):
        assert next_offset == offset + len(piece) - overlap  # exactly `overlap` characters shared
        assert len(piece) >= size - overlap // 2  # a cut at whitespace never shortens a piece much
        if " " in text:
            assert text[offset + len(piece)] == " "  # pieces end at whitespace


def test_windows_cut_at_line_breaks_and_tabs_too():
    text = "\n".join("\t".join(["x" * 30] * 3) for _ in range(200))  # no spaces at all
    pieces = list(windows(text, 2_000, 500))
    assert len(pieces) > 1
    for offset, piece in pieces[:-1]:
        assert text[offset + len(piece)] in "\n\t"


def test_a_short_text_is_one_window():
    assert list(windows("short text", 2_000, 500)) == [(0, "short text")]
    text = "a" * 2_000
    assert list(windows(text, 2_000, 500)) == [(0, text)]


def test_name_bearing_parts_skip_sentences_without_capitalised_words():
    text = "the stock was counted. Then Maria Lopez checked it. it was fine. The end"
    parts = list(name_bearing_parts(text))
    assert [part.strip() for _, part in parts] == ["Then Maria Lopez checked it."]
    [(offset, part)] = parts
    assert text[offset:offset + len(part)] == part
    assert list(name_bearing_parts("all lowercase here. The report is done.")) == []


def test_a_name_and_an_email_across_window_boundaries_of_a_long_text_are_redacted_whole():
    filler = "The warehouse team reviewed the quarterly stock levels and updated the shelving plan. "
    name = "Quentavious Thistlewood"  # only the spaCy model knows this name: the windows matter
    email = "quentavious.thistlewood@example.com"
    # the space inside the name falls just before the first piece's end (2000), so the cut lands there
    head = "Approved by Quentavious"
    text = (filler * 30)[:1990 - len(head)] + f"Approved by {name} yesterday. "
    text += (filler * 30)[:3489 - len(text) - len("Mail quentavious.thistle")] + f"Mail {email} today. "
    text += filler * 75
    assert 9_000 < len(text) < 11_000
    pieces = list(windows(text, 2_000, 500))
    ends = [offset + len(piece) for offset, piece in pieces]
    name_start, email_start = text.index(name), text.index(email)
    assert any(name_start < end < name_start + len(name) for end in ends)  # the name is cut by a boundary
    # the e-mail sits on the second boundary (a cut never splits a word, so it ends just before it)
    assert any(email_start - 2 <= end <= email_start + len(email) for end in ends)

    policy = replace(RedactionPolicy(), window_chars=2_000)
    [result] = Redactor(policy, workers=1).redact([text])
    assert "Approved by <PERSON> yesterday." in result.text
    assert "Mail <EMAIL_ADDRESS> today." in result.text
    assert "Quentavious" not in result.text and "Thistlewood" not in result.text
    assert result.entity_counts == {"EMAIL_ADDRESS": 1, "PERSON": 1}


# --- resolve -------------------------------------------------------------------------------------

def F(start: int, end: int, entity_type: str, score: float, recognizer: str = "test") -> Finding:
    return Finding(start, end, entity_type, score, recognizer)


def test_resolve_merges_overlapping_findings_of_one_type_into_their_union():
    merged = resolve([F(0, 5, "PERSON", 0.6, "lexicon"), F(3, 10, "PERSON", 0.85, "ner"), F(9, 14, "PERSON", 0.7)])
    assert merged == [F(0, 14, "PERSON", 0.85, "ner")]


def test_resolve_keeps_touching_and_separate_findings_of_one_type():
    findings = [F(5, 8, "PERSON", 0.7), F(0, 5, "PERSON", 0.7), F(20, 25, "PERSON", 0.9)]
    assert resolve(findings) == sorted(findings, key=lambda f: f.start)


def test_resolve_between_types_the_higher_score_wins():
    assert resolve([F(0, 20, "PHONE_NUMBER", 0.6), F(3, 14, "US_SSN", 0.85)]) == [F(3, 14, "US_SSN", 0.85)]


def test_resolve_between_types_with_equal_scores_the_longer_span_wins():
    assert resolve([F(3, 10, "PERSON", 0.8), F(0, 14, "STREET_ADDRESS", 0.8)]) == [F(0, 14, "STREET_ADDRESS", 0.8)]


def test_resolve_drops_only_what_overlaps_a_winner_and_sorts_by_start():
    findings = [F(12, 20, "PHONE_NUMBER", 0.7), F(0, 10, "EMAIL_ADDRESS", 1.0), F(5, 15, "PERSON", 0.8)]
    assert resolve(findings) == [F(0, 10, "EMAIL_ADDRESS", 1.0), F(12, 20, "PHONE_NUMBER", 0.7)]


# --- residue scan --------------------------------------------------------------------------------

def test_residue_scan_finds_pattern_pii_left_in_a_text():
    counts = residue_scan(["mail jane@example.com now", "call 555-867-5309", "card 4111 1111 1111 1111",
                           "host 10.0.0.1"])
    assert counts == [{"EMAIL_ADDRESS": 1}, {"PHONE_NUMBER": 1}, {"CREDIT_CARD": 1}, {"IP_ADDRESS": 1}]


def test_residue_scan_finds_nothing_in_redacted_output(redactor):
    texts = ["Please contact John Smith at john.smith@example.com or call 212-555-0199.",
             "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, host 10.0.0.1, SSN 536-22-8726."]
    redacted = [r.text for r in redactor.redact(texts)]
    assert all("<" in text for text in redacted)
    assert residue_scan(redacted) == [{}, {}]


def test_residue_scan_respects_the_business_identifier_context():
    assert residue_scan(["order 4417-2291 shipped", "call 4417-2291"]) == [{}, {"PHONE_NUMBER": 1}]


def test_residue_scan_respects_the_allow_list():
    policy = replace(RedactionPolicy(), allow_list=("support@acme-corp.com",))
    texts = ["Write to support@acme-corp.com.", "Write to jane@example.com."]
    assert residue_scan(texts, policy) == [{}, {"EMAIL_ADDRESS": 1}]


def test_residue_scan_checks_blocking_types_the_policy_leaves_out():
    policy = replace(RedactionPolicy(), entities=("PERSON",))
    assert residue_scan(["Write to jane@example.com or call 555-867-5309."], policy) == [
        {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}]


def test_residue_scan_ignores_names_and_the_deny_list():
    policy = replace(RedactionPolicy(), deny_list=("Nightingale",))
    assert residue_scan(["Maria Gonzalez runs Nightingale."], policy) == [{}]


# --- parallel redaction ---------------------------------------------------------------------------

PARAGRAPHS = [
    "please contact maria gonzalez at maria.gonzalez@example.com or call +44 20 7946 0958 about order 4417-2291.",
    "Dr. Okafor paid with card 4111 1111 1111 1111; iban DE89 3704 0044 0532 0130 00, ssn 536-22-8726.",
    "the parcel goes to 221B Baker Street, host 10.0.0.1 logged it, and dear priya, thanks for the note.",
    "nothing personal in this paragraph about quarterly stock levels and the shelving plan.",
]


def test_parallel_redaction_gives_exactly_the_in_process_result():
    texts: list[str] = []
    while sum(len(text) for text in texts) < PARALLEL_MIN_CHARACTERS + 1_000:
        texts.append(PARAGRAPHS[len(texts) % len(PARAGRAPHS)])
    assert PARALLEL_MIN_CHARACTERS <= sum(len(text) for text in texts) < PARALLEL_MIN_CHARACTERS + 2_000

    serial_progress, parallel_progress = [], []
    serial = Redactor(workers=1).redact(texts, on_progress=lambda *done: serial_progress.append(done))
    parallel = Redactor(workers=2).redact(texts, on_progress=lambda *done: parallel_progress.append(done))

    assert parallel == serial
    characters = sum(len(text) for text in texts)
    assert serial_progress == [(characters, characters)]
    assert len(parallel_progress) >= 4  # a line per group of texts (about four groups a worker)
    assert [done for done, _ in parallel_progress] == sorted({done for done, _ in parallel_progress})
    assert parallel_progress[-1] == (characters, characters)
    assert {total for _, total in parallel_progress} == {characters}
    assert serial[0].entity_counts == {"EMAIL_ADDRESS": 1, "PERSON": 1, "PHONE_NUMBER": 1}
    assert serial[1].entity_counts == {"CREDIT_CARD": 1, "IBAN_CODE": 1, "PERSON": 1, "US_SSN": 1}
    assert serial[3].text == PARAGRAPHS[3]


# --- the NER model ---------------------------------------------------------------------------

NER_SAMPLE = ["Maria Okafor met Tomasz Wilk in Lisbon on Monday to discuss Meridian Freight Ltd.",
              "Please forward the report to Dr. Aisha Bello at 14 Harbour Street, Leeds.",
              "The committee, chaired by Jean-Luc Moreau, approved the budget for Q3."]


def test_the_ner_model_drops_the_tok2vec_only_the_tagger_and_parser_heard_and_finds_the_same_entities():
    import spacy

    from ingest.pii.redact import _load_ner

    trimmed = _load_ner("en_core_web_md")
    assert trimmed.pipe_names == ["ner"]
    with_tok2vec = spacy.load("en_core_web_md", exclude=["tagger", "parser", "senter", "attribute_ruler",
                                                         "lemmatizer"])
    assert "tok2vec" in with_tok2vec.pipe_names

    def entities(nlp) -> list[list[tuple[int, int, str]]]:
        return [[(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents] for doc in nlp.pipe(NER_SAMPLE)]

    found = entities(trimmed)
    assert found == entities(with_tok2vec)
    assert any(label == "PERSON" for doc in found for _, _, label in doc)


def test_a_model_whose_ner_listens_to_the_tok2vec_keeps_it(tmp_path):
    import spacy

    from ingest.pii.redact import _load_ner

    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    nlp.add_pipe("ner", config={"model": {
        "@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner", "extra_state_tokens": False,
        "hidden_width": 32, "maxout_pieces": 2, "use_upper": True,
        "tok2vec": {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "*"}}})
    nlp.get_pipe("ner").add_label("PERSON")
    nlp.initialize()
    nlp.to_disk(tmp_path / "listening")

    loaded = _load_ner(str(tmp_path / "listening"))
    assert loaded.pipe_names == ["tok2vec", "ner"]
    loaded("Jane Roe wrote.")  # the listener is fed: without its tok2vec this raises
