"""The PII evaluation: its dataset, its scoring, its report and the stock Presidio baseline.

Real generator, real SpanEvaluator, real Presidio; detectors in these tests are small
classes that return known spans, so the expected scores can be worked out by hand.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from presidio_evaluator import InputSample, Span

from benchmarks.pii_eval import (
    EVALUATED_ENTITIES,
    NON_PII_CASES,
    TARGETS,
    DetectedSpan,
    LabelledText,
    StockPresidioDetector,
    _from_generated,  # the repair of generator quirks, tested on its own
    build_dataset,
    evaluate,
    format_report,
    missed_spans,
    non_pii_survival,
    report_as_json,
    score,
    targets_met,
)
from benchmarks.pii_leaks import values_left

SAMPLES = 50
SEED = 8  # its 50 samples include a full timestamp, which once moved with the clock


@pytest.fixture(scope="module")
def dataset() -> list[LabelledText]:
    return build_dataset(SAMPLES, SEED)


@pytest.fixture(scope="module")
def stock_detector() -> StockPresidioDetector:
    return StockPresidioDetector()


def _iban_checksum_ok(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _luhn_ok(number: str) -> bool:
    digits = [int(char) for char in number if char.isdigit()][::-1]
    total = 0
    for position, digit in enumerate(digits):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


# --- the dataset ------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_dataset_and_another_seed_another(dataset):
    assert build_dataset(SAMPLES, SEED) == dataset
    other = build_dataset(SAMPLES, SEED + 1)
    assert [item.text for item in other if item.source == "faker"] != [
        item.text for item in dataset if item.source == "faker"
    ]


def test_every_gold_span_is_a_clean_slice_of_an_evaluated_type(dataset):
    for item in dataset:
        assert "\\n" not in item.text and "\\," not in item.text, item.text
        for span in item.spans:
            assert span.entity_type in EVALUATED_ENTITIES
            value = item.text[span.start : span.end]
            assert 0 <= span.start < span.end <= len(item.text)
            assert value == value.strip() and value, (item.text, span)
        assert list(item.spans) == sorted(item.spans, key=lambda s: (s.start, s.end))


def test_generated_line_breaks_are_real_and_labels_still_fit():
    # The generator's letter-head templates write a blank line as two backslash-n; with 200
    # samples some are always drawn. Only those templates make a blank line.
    items = [item for item in build_dataset(200, SEED) if item.source == "faker"]
    assert len(items) >= 190  # few or none dropped
    with_blank_lines = [item for item in items if "\n\n" in item.text]
    assert with_blank_lines
    assert any(span.start > item.text.index("\n\n") for item in with_blank_lines for span in item.spans)


def _generated(text: str, labels: list[tuple[str, str, int]]) -> InputSample:
    """A sample as the generator makes it: (entity type, value, start) per span."""
    spans = [Span(kind, value, start, start + len(value)) for kind, value, start in labels]
    return InputSample(full_text=text, spans=spans)


def test_a_generated_sample_is_repaired_and_its_labels_moved_with_the_text():
    raw = "Ann Lee \\nTel: 555-867-5309\\, or (02) 9374 4000 in Sydney"
    sample = _generated(raw, [
        ("PERSON", "Ann Lee ", 0),  # a name from the records with a trailing space
        ("PHONE_NUMBER", "555-867-5309", raw.index("555")),
        ("PHONE_NUMBER", "(02) 9374 4000", raw.index("(02)")),
        ("GPE", "Sydney", raw.index("Sydney")),  # out of scope: not gold
    ])
    item = _from_generated(sample)
    assert item is not None
    assert item.text == "Ann Lee \nTel: 555-867-5309, or (02) 9374 4000 in Sydney"
    assert [(item.text[s.start : s.end], s.entity_type) for s in item.spans] == [
        ("Ann Lee", "PERSON"),
        ("555-867-5309", "PHONE_NUMBER"),
        ("(02) 9374 4000", "PHONE_NUMBER"),
    ]


def test_a_generated_sample_whose_label_is_elsewhere_is_dropped():
    assert _from_generated(_generated("Call Ann Lee today", [("PERSON", "Ann Lee", 0)])) is None


def test_case_variants_change_the_case_of_names_or_whole_texts(dataset):
    by_source = Counter(item.source for item in dataset)
    assert by_source["faker"] <= SAMPLES
    assert by_source["faker-lowercase"] >= round(SAMPLES * 0.15) - 2
    assert by_source["faker-uppercase"] >= 1
    faker_texts = {item.text for item in dataset if item.source == "faker"}
    for item in dataset:
        if item.source == "faker-lowercase":
            names = [item.text[s.start : s.end] for s in item.spans if s.entity_type == "PERSON"]
            assert names and all(name == name.lower() for name in names)
            assert item.text not in faker_texts
        elif item.source == "faker-uppercase":
            assert item.text == item.text.upper() and item.text not in faker_texts


def test_hand_cases_cover_every_type_with_unique_valid_values(dataset):
    hand = [item for item in dataset if item.source == "hand"]
    assert len(hand) >= 60
    assert {span.entity_type for item in hand for span in item.spans} == set(EVALUATED_ENTITIES)
    for item in hand:
        for span in item.spans:
            value = item.text[span.start : span.end]
            assert item.text.count(value) == 1, value
            if span.entity_type == "IBAN_CODE":
                assert _iban_checksum_ok(value), value
            if span.entity_type == "CREDIT_CARD":
                assert _luhn_ok(value), value
    texts = [item.text for item in hand]
    assert "please ask maria gonzalez to call me back" in texts
    assert "call me at+44 20 7946 0958 after six" in texts


def test_non_pii_cases_are_many_distinct_and_hold_their_identifier():
    assert len(NON_PII_CASES) >= 60
    assert len(set(NON_PII_CASES)) == len(NON_PII_CASES)
    for text, identifier in NON_PII_CASES:
        assert identifier in text


# --- scoring ----------------------------------------------------------------------------


def test_a_perfect_detector_scores_one_everywhere(dataset):
    scores = score(dataset, [item.spans for item in dataset])
    gold_types = {span.entity_type for item in dataset for span in item.spans}
    assert set(scores.per_type) == gold_types
    for entity_scores in [*scores.per_type.values(), scores.overall]:
        assert (entity_scores.precision, entity_scores.recall, entity_scores.f2) == (1.0, 1.0, 1.0)
        assert entity_scores.annotated == entity_scores.predicted > 0


def test_a_detector_that_finds_nothing_has_recall_zero_for_every_type(dataset):
    scores = score(dataset, [[] for _ in dataset])
    assert set(scores.per_type) == {span.entity_type for item in dataset for span in item.spans}
    for entity_scores in [*scores.per_type.values(), scores.overall]:
        assert entity_scores.recall == 0.0 and entity_scores.f2 == 0.0
        assert entity_scores.precision is None and entity_scores.predicted == 0


def _person(text: str, value: str) -> DetectedSpan:
    start = text.index(value)
    return DetectedSpan(start, start + len(value), "PERSON")


NAME_TEXT = "The form was signed by Maria Elena Gonzalez Fernandez yesterday."
NAME = "Maria Elena Gonzalez Fernandez"


def test_the_wrong_type_is_not_credited():
    item = LabelledText(NAME_TEXT, (_person(NAME_TEXT, NAME),), "hand")
    wrong = DetectedSpan(item.spans[0].start, item.spans[0].end, "STREET_ADDRESS")
    scores = score([item], [[wrong]])
    assert scores.per_type["PERSON"].recall == 0.0
    assert scores.per_type["STREET_ADDRESS"].precision == 0.0
    # Overall ignores types: the value was found as PII.
    assert scores.overall.recall == 1.0


def test_a_span_matches_only_from_an_iou_of_three_quarters():
    item = LabelledText(NAME_TEXT, (_person(NAME_TEXT, NAME),), "hand")
    too_short = score([item], [[_person(NAME_TEXT, "Fernandez")]])  # IoU 9/30
    assert too_short.per_type["PERSON"].recall == 0.0
    assert too_short.per_type["PERSON"].precision == 0.0
    long_enough = score([item], [[_person(NAME_TEXT, "Elena Gonzalez Fernandez")]])  # IoU 24/30
    assert long_enough.per_type["PERSON"].recall == 1.0


def test_f2_follows_from_precision_and_recall():
    # Four names, two found, one false alarm: P = 2/3, R = 1/2, F2 = 5PR / (4P + R) = 10/19.
    texts = ["Ask Anna Berg.", "Ask Carl Dahl.", "Ask Eva Frost.", "Ask Gus Hale.", "Ask Acme Corp."]
    names = ["Anna Berg", "Carl Dahl", "Eva Frost", "Gus Hale"]
    dataset = [LabelledText(text, (_person(text, name),), "hand") for text, name in zip(texts, names)]
    dataset.append(LabelledText(texts[4], (), "hand"))
    predictions = [[_person(texts[0], "Anna Berg")], [_person(texts[1], "Carl Dahl")], [], [],
                   [_person(texts[4], "Acme Corp")]]
    person = score(dataset, predictions).per_type["PERSON"]
    assert (person.annotated, person.predicted) == (4, 3)
    assert person.precision == pytest.approx(2 / 3)
    assert person.recall == pytest.approx(1 / 2)
    p, r = person.precision, person.recall
    assert person.f2 == pytest.approx(5 * p * r / (4 * p + r))
    assert person.f2 == pytest.approx(10 / 19)


def test_score_refuses_predictions_that_do_not_line_up(dataset):
    with pytest.raises(ValueError):
        score(dataset, [])


def test_non_pii_survival_counts_identifiers_touched_by_an_evaluated_type():
    none = [[] for _ in NON_PII_CASES]
    assert non_pii_survival(none) == 1.0
    text, identifier = NON_PII_CASES[0]
    start = text.index(identifier)
    touched = [[DetectedSpan(start + 1, start + 3, "PHONE_NUMBER")], *none[1:]]
    assert non_pii_survival(touched) == pytest.approx(1 - 1 / len(NON_PII_CASES))
    out_of_scope = [[DetectedSpan(start, start + len(identifier), "DATE_TIME")], *none[1:]]
    assert non_pii_survival(out_of_scope) == 1.0
    next_to_it = [[DetectedSpan(0, start, "PERSON")], *none[1:]]
    assert non_pii_survival(next_to_it) == 1.0


def test_targets_are_met_by_perfect_scores_and_missed_below(dataset):
    perfect = score(dataset, [item.spans for item in dataset])
    assert set(targets_met(perfect, 1.0)) == {target.name for target in TARGETS}
    assert all(targets_met(perfect, 1.0).values())
    assert not targets_met(perfect, 0.9)["non-PII survival >= 0.95"]
    nothing = score(dataset, [[] for _ in dataset])
    assert not any(targets_met(nothing, 1.0)[t.name] for t in TARGETS if t.metric != "survival")


# --- the runner and its report ----------------------------------------------------------


class _Oracle:
    """Returns the gold spans of the texts it knows: what a perfect detector would find."""

    name = "oracle"

    def __init__(self, dataset: list[LabelledText]) -> None:
        self._gold = {item.text: item.spans for item in dataset}
        self.calls = 0

    def detect(self, texts: list[str]) -> list[list[DetectedSpan]]:
        self.calls += 1
        return [list(self._gold.get(text, ())) for text in texts]


class _Nothing:
    name = "nothing"

    def detect(self, texts: list[str]) -> list[list[DetectedSpan]]:
        return [[] for _ in texts]


def test_evaluate_reports_each_detector_side_by_side(dataset):
    oracle = _Oracle(dataset)
    report = evaluate([_Nothing(), oracle], samples=SAMPLES, seed=SEED)
    assert oracle.calls == 2  # the dataset in one batch, then the non-PII cases
    assert report.dataset.texts == len(dataset)
    assert report.dataset.characters == sum(len(item.text) for item in dataset)
    assert sum(report.dataset.by_source.values()) == len(dataset)
    nothing, ours = report.results
    assert ours.scores.overall.recall == 1.0 and nothing.scores.overall.recall == 0.0
    assert ours.non_pii_survival == 1.0 and ours.chars_per_second > 0

    table = format_report(report)
    assert "nothing" in table and "oracle" in table and "overall" in table
    assert "targets for 'oracle'" in table and "MISSED" not in table
    person_row = next(line for line in table.splitlines() if line.startswith("PERSON"))
    assert "0.000" in person_row and "1.000" in person_row

    values_row = next(line for line in table.splitlines() if line.startswith("values left"))
    assert f"{nothing.values_left.values} (100.0%)" in values_row and "0 (0.0%)" in values_row

    data = json.loads(json.dumps(report_as_json(report), allow_nan=False))
    assert [d["name"] for d in data["detectors"]] == ["nothing", "oracle"]
    assert data["detectors"][0]["overall"]["precision"] is None
    assert all(data["detectors"][1]["targets_met"].values())
    assert data["detectors"][1]["values_left"]["left"] == 0 and data["detectors"][0]["values_left"]["share"] == 1.0


def test_a_value_is_left_when_one_of_its_words_is_outside_every_detected_span():
    text = "Call Anna M. Kowalczyk on +1 212 555 0187 today."
    name = DetectedSpan(text.index("Anna"), text.index(" on"), "PERSON")
    phone = DetectedSpan(text.index("+1"), text.index(" today"), "PHONE_NUMBER")
    item = LabelledText(text=text, spans=(name, phone), source="hand")
    first_name_only = DetectedSpan(name.start, name.start + 4, "PERSON")
    initial_left = [DetectedSpan(name.start, name.start + 4, "PERSON"),
                    DetectedSpan(text.index("Kowalczyk"), name.end, "PERSON")]
    wider_of_another_type = DetectedSpan(name.start - 5, phone.end, "LOCATION")
    assert values_left([item], [[name, phone]]).left == 0
    assert values_left([item], [[first_name_only, phone]]).per_type == {"PERSON": (1, 1), "PHONE_NUMBER": (0, 1)}
    assert values_left([item], [[*initial_left, phone]]).left == 0  # a lone initial tells little
    assert values_left([item], [[name, DetectedSpan(phone.start, phone.end - 4, "PHONE_NUMBER")]]).left == 1
    assert values_left([item], [[wider_of_another_type]]).left == 0  # any redaction hides it
    assert values_left([item], [[]]).share == 1.0
    corner = LabelledText(text="Meet at the corner of 92 Circle Way.", source="hand",
                          spans=(DetectedSpan(8, 35, "STREET_ADDRESS"),))
    assert values_left([corner], [[DetectedSpan(22, 35, "STREET_ADDRESS")]]).left == 0  # skip words tell nothing
    assert values_left([corner], [[DetectedSpan(25, 35, "STREET_ADDRESS")]]).left == 1  # the house number does
    with pytest.raises(ValueError):
        values_left([item], [])


def test_missed_spans_are_the_gold_spans_no_prediction_of_their_type_matches():
    text = "Call Jane Doe, at 212-555-0147 now."
    item = LabelledText(text, (DetectedSpan(5, 13, "PERSON"), DetectedSpan(18, 30, "PHONE_NUMBER")), "hand")
    # The name found with its comma (a skip word, trimmed as the metric trims it); the phone as an SSN.
    predicted = [DetectedSpan(5, 14, "PERSON"), DetectedSpan(18, 30, "US_SSN")]
    [miss] = missed_spans([item], [predicted])
    assert (miss.text_index, miss.span.entity_type) == (0, "PHONE_NUMBER")
    assert miss.overlapping == (DetectedSpan(18, 30, "US_SSN"),)
    assert missed_spans([item], [[DetectedSpan(5, 9, "PERSON"), DetectedSpan(18, 30, "PHONE_NUMBER")]]) == [
        type(miss)(0, DetectedSpan(5, 13, "PERSON"), (DetectedSpan(5, 9, "PERSON"),))]  # half a name is a miss


# --- the stock Presidio baseline --------------------------------------------------------


def test_stock_presidio_finds_an_email_and_a_card_number(stock_detector):
    texts = [
        "Write to jane.doe@example.org about the refund.",
        "The card 4111 1111 1111 1111 was charged twice.",
        "Nothing to see here.",
        "Call 212-555-0147 tomorrow.",
        "",
    ]
    found = stock_detector.detect(texts)
    assert len(found) == len(texts)
    assert ("jane.doe@example.org", "EMAIL_ADDRESS") in {(texts[0][s.start : s.end], s.entity_type) for s in found[0]}
    assert ("4111 1111 1111 1111", "CREDIT_CARD") in {(texts[1][s.start : s.end], s.entity_type) for s in found[1]}
    assert found[4] == []


def test_eval_pii_scores_stock_presidio_and_our_policy_side_by_side(capsys):
    from benchmarks.__main__ import main

    assert main(["eval-pii", "--samples", "40", "--seed", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    stock, ours = report["detectors"]
    assert stock["name"] == "presidio (stock)" and ours["name"].startswith("ours")
    # Card numbers of 12 to 19 digits with the Luhn check are ours to find completely.
    assert ours["per_type"]["CREDIT_CARD"]["recall"] == 1.0
    assert ours["overall"]["f2"] > stock["overall"]["f2"]
    assert report["dataset"]["texts"] > 40  # the hand-written cases come on top
    assert main(["eval-pii", "--samples", "40", "--seed", "3", "--show-misses"]) == 0
    text = capsys.readouterr().out
    assert "overall" in text and "non-PII survival" in text
    assert "met" in text or "MISSED" in text
    assert "missed " in text or "no missed spans" in text
