"""How well do PII detectors find PII? Precision, recall and F2 on a labelled synthetic set.

This is the engine behind `python -m benchmarks eval-pii` (`make eval-pii`). It scores several detectors side by side on
the same data, so a change to our detector can be judged against stock Presidio.

- Data: sentences from presidio-evaluator's generator (its templates and Faker providers),
  repaired where the generator mislabels, plus lowercase / uppercase copies and
  hand-written hard cases. Only the entity types in EVALUATED_ENTITIES are gold; spans of
  other types (places, organisations, dates, ...) count as ordinary text.
- Metric: presidio-evaluator's SpanEvaluator, the span-level metric of Presidio's own
  benchmark: a gold span is found when a prediction of the same type covers it with a
  character IoU of at least 0.75, after leading and trailing skip words (stop words,
  punctuation, "street", "suite", ...) are trimmed from both. Per type and overall
  ("is it PII at all", types ignored). F2 weighs recall four times as much as precision:
  a missed value leaks into the index, an over-redacted word only costs some context.
- Non-PII survival: order numbers, SKUs, gene names and the like must not be redacted,
  or the redacted text loses what users search for; NON_PII_CASES measures that.

Detectors are plain objects with a `name` and a batched `detect`; this module never
imports ingest.pii.redact, so any detector can be compared. Nothing here downloads anything.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from benchmarks.pii_cases import _HAND_CASES, NON_PII_CASES
from benchmarks.pii_leaks import GOAL as LEFT_GOAL
from benchmarks.pii_leaks import SpanLike, ValuesLeft, skip_words, values_left

if TYPE_CHECKING:
    from presidio_evaluator import InputSample
    from spacy.tokenizer import Tokenizer

EVALUATED_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "STREET_ADDRESS",
    "US_DRIVER_LICENSE",
)
SOURCES: tuple[str, ...] = ("faker", "faker-lowercase", "faker-uppercase", "hand")
IOU_THRESHOLD = 0.75  # as in Presidio's benchmark
BETA = 2
# Shares of the generated samples copied with lowercased names / as all-caps text: real
# documents have both (chat messages, form fields, legal headers), the generator neither.
LOWERCASE_SHARE = 0.15
UPPERCASE_SHARE = 0.05
# Columns of presidio-evaluator's fake-people file -> the Faker formatter names its templates
# use, as its loader renames them. The card numbers are left out, as there: the file's are
# mangled into floats, Faker's are valid.
_PEOPLE_FIELDS = {
    "Number": "number",
    "Gender": "gender",
    "NameSet": "nationality",
    "Title": "prefix",
    "GivenName": "first_name",
    "MiddleInitial": "middle_initial",
    "Surname": "last_name",
    "StreetAddress": "street_name",
    "City": "city",
    "State": "state_abbr",
    "StateFull": "state",
    "ZipCode": "zipcode",
    "Country": "country_code",
    "CountryFull": "country",
    "EmailAddress": "email",
    "Username": "user_name",
    "Password": "password",
    "TelephoneNumber": "phone_number",
    "TelephoneCountryCode": "country_calling_code",
    "MothersMaiden": "mothers_maiden",
    "Birthday": "date_of_birth",
    "Age": "age",
    "CCType": "credit_card_provider",
    "CVV2": "cvv2",
    "CCExpires": "credit_card_expire",
    "NationalID": "national_id",
    "Occupation": "job",
    "Company": "company",
    "Domain": "domain_name",
}
_DATES_END = datetime(2025, 1, 1)  # naive, so read as UTC: the same on every machine
# The generator's templates escape a line break as backslash-n and a comma as backslash-comma.
_TEMPLATE_ESCAPES = {"n": "\n", ",": ","}


@dataclass(frozen=True, slots=True)
class DetectedSpan:
    """A found (or gold) value: text[start:end] is of type entity_type."""

    start: int
    end: int
    entity_type: str


class Detector(Protocol):
    """A PII detector under evaluation. detect gets all texts at once so it can batch."""

    name: str

    def detect(self, texts: list[str]) -> Sequence[Sequence[SpanLike]]: ...


@dataclass(frozen=True, slots=True)
class LabelledText:
    """A text with its gold spans (our entity names) and where it came from (one of SOURCES)."""

    text: str
    spans: tuple[DetectedSpan, ...]
    source: str


# --- the dataset ------------------------------------------------------------------------


def build_dataset(samples: int = 1000, seed: int = 42) -> list[LabelledText]:
    """Generated samples (repaired), their case variants, then the hand-written cases.

    The same samples and seed always give the same dataset. Note that presidio-evaluator
    seeds the global `random`, numpy and Faker generators with `seed`.
    """
    return _build_dataset(samples, seed)[0]


def _build_dataset(samples: int, seed: int) -> tuple[list[LabelledText], int]:
    """The dataset, and how many generated samples were dropped as wrongly labelled."""
    generated: list[LabelledText] = []
    dropped = 0
    for sample in _generate(samples, seed):
        labelled = _from_generated(sample)
        if labelled is None:
            dropped += 1
        else:
            generated.append(labelled)
    return generated + _case_variants(generated, samples, seed) + _hand_cases(), dropped


def _fake_people(seed: int) -> list[dict[str, str]]:
    """presidio-evaluator's fake people (from FakeNameGenerator.com), prepared as it prepares them.

    Its own loader (load_fake_person_df) picks who gets a middle initial from the global
    `random` before the generator seeds it, so one seed gave different names from run to
    run, and it calls `DataFrame.rename(inplace=True)`, deprecated in pandas 3. Here the
    picks come from a seeded generator, and a missing field is empty (Faker then fills it)
    where pandas would have made it "nan".
    """
    from presidio_evaluator.data_generator import raw_data_dir

    rng = random.Random(seed)
    people = []
    with (raw_data_dir / "FakeNameGenerator.com_3000.csv").open(encoding="utf-8-sig", newline="") as file:
        for row in csv.DictReader(file):
            person = {_PEOPLE_FIELDS[column]: value for column, value in row.items() if column in _PEOPLE_FIELDS}
            first, last = person["first_name"], person["last_name"]
            if rng.random() > 0.2:
                full_name = f"{first} {last}"
            else:
                full_name = f"{first} {person['middle_initial']}{' ' if rng.random() > 0.5 else '. '}{last}"
            person["person"] = person["name"] = full_name
            for gender in ("female", "male"):
                same = person["gender"] == gender
                person[f"first_name_{gender}"] = first if same else ""
                person[f"last_name_{gender}"] = last if same else ""
                person[f"prefix_{gender}"] = person["prefix"] if same else ""
            people.append(person)
    return people


def _generate(samples: int, seed: int) -> list[InputSample]:
    from faker.providers.date_time import Provider as DateTimeProvider
    from presidio_evaluator.data_generator.presidio_sentence_faker import (
        PresidioSentenceFaker,
        presidio_additional_entity_providers,
    )

    class FixedEndDates(DateTimeProvider):
        """Faker's dates (and years, weekdays) end at a fixed day, not today.

        Otherwise a date drawn with the same seed moves with the clock, and with it the text.
        """

        def date_time(self, tzinfo: Any = None, end_datetime: Any = None) -> datetime:
            return super().date_time(tzinfo=tzinfo, end_datetime=end_datetime or _DATES_END)

    # HospitalProvider queries Wikidata when constructed, and no template uses it.
    providers = [p for p in presidio_additional_entity_providers if p.__name__ != "HospitalProvider"]
    providers.append(FixedEndDates)  # added last, so its methods replace Faker's
    # The generator prints defaults it falls back to and draws a progress bar; the command's
    # output is the report alone.
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
        faker = PresidioSentenceFaker(
            locale="en_US",
            lower_case_ratio=0.0,  # it would lowercase the span values but not the text
            entity_providers=providers,
            entity_type_mapping=dict(PresidioSentenceFaker.ENTITY_TYPE_MAPPING),  # a copy: it adds to it
            provider_aliases=list(PresidioSentenceFaker.PROVIDER_ALIASES),
            base_records=_fake_people(seed),
            random_seed=seed,
        )
        return faker.generate_new_fake_sentences(samples)


def _unescape(text: str) -> tuple[str, list[int]]:
    """The text with template escapes resolved, and the new offset of every old offset.

    Each escape is two characters that become one, so offsets after it shift left by one.
    """
    out: list[str] = []
    new_offsets: list[int] = []
    i = 0
    while i < len(text):
        new_offsets.append(len(out))
        if text[i] == "\\" and text[i + 1 : i + 2] in _TEMPLATE_ESCAPES:
            new_offsets.append(len(out))
            out.append(_TEMPLATE_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    new_offsets.append(len(out))
    return "".join(out), new_offsets


def _from_generated(sample: InputSample) -> LabelledText | None:
    """Our labelled text for a generated sample, or None where a label is not where it says."""
    text, new_offsets = _unescape(sample.full_text)
    spans = []
    for span in sample.spans:
        if not 0 <= span.start_position <= span.end_position <= len(sample.full_text):
            return None
        start, end = new_offsets[span.start_position], new_offsets[span.end_position]
        value = _unescape(str(span.entity_value))[0]
        if text[start:end].lower() != value.lower():
            return None
        if span.entity_type in EVALUATED_ENTITIES:
            trimmed = _trimmed(text, start, end, span.entity_type)
            if trimmed is not None:
                spans.append(trimmed)
    return LabelledText(text, _sorted(spans), "faker")


def _trimmed(text: str, start: int, end: int, entity_type: str) -> DetectedSpan | None:
    """The span without surrounding whitespace (some generated names end in a space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return DetectedSpan(start, end, entity_type) if start < end else None


def _sorted(spans: Sequence[DetectedSpan]) -> tuple[DetectedSpan, ...]:
    return tuple(sorted(spans, key=lambda span: (span.start, span.end)))


def _case_variants(generated: Sequence[LabelledText], samples: int, seed: int) -> list[LabelledText]:
    """Copies of seeded picks among samples with a name: names lowercased, or all text uppercased.

    Picks whose case change would alter a length (e.g. 'İ', 'ß') are skipped, so the gold
    offsets stay right.
    """
    with_person = [item for item in generated if any(span.entity_type == "PERSON" for span in item.spans)]
    lowercase_count = round(samples * LOWERCASE_SHARE)
    uppercase_count = round(samples * UPPERCASE_SHARE)
    picked = random.Random(seed).sample(with_person, min(lowercase_count + uppercase_count, len(with_person)))
    variants = []
    for item in picked[:lowercase_count]:
        lowered = _lowercase_people(item)
        if lowered is not None:
            variants.append(lowered)
    for item in picked[lowercase_count:]:
        if len(item.text.upper()) == len(item.text):
            variants.append(LabelledText(item.text.upper(), item.spans, "faker-uppercase"))
    return variants


def _lowercase_people(item: LabelledText) -> LabelledText | None:
    text = item.text
    for span in item.spans:
        if span.entity_type == "PERSON":
            name = text[span.start : span.end]
            if len(name.lower()) != len(name):
                return None
            text = text[: span.start] + name.lower() + text[span.end :]
    return LabelledText(text, item.spans, "faker-lowercase")


def _hand_cases() -> list[LabelledText]:
    cases = []
    for text, labels in _HAND_CASES:
        spans = []
        for value, entity_type in labels:
            start = text.index(value)
            spans.append(DetectedSpan(start, start + len(value), entity_type))
        cases.append(LabelledText(text, _sorted(spans), "hand"))
    return cases


# --- scoring ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityScores:
    """Precision, recall and F2 of one entity type (or overall), with the span counts behind them.

    None means undefined: precision with nothing predicted, recall with nothing annotated.
    """

    precision: float | None
    recall: float | None
    f2: float | None
    annotated: int
    predicted: int


@dataclass(frozen=True, slots=True)
class PiiScores:
    """Per evaluated entity type (those with gold or predicted spans), and overall.

    Overall ignores types (PII or not) and, like Presidio, first merges neighbouring spans
    of any type separated only by skip words, so its counts are not the per-type sums.
    """

    per_type: dict[str, EntityScores]
    overall: EntityScores


def score(
    dataset: Sequence[LabelledText],
    predictions: Sequence[Sequence[SpanLike]],
    entities: Sequence[str] = EVALUATED_ENTITIES,
) -> PiiScores:
    """Presidio's span-level precision, recall and F2 of predictions against the gold spans.

    Gold and predicted spans of types outside `entities` are ignored.
    """
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for {len(dataset)} texts")
    import pandas as pd
    from presidio_evaluator.evaluation import SpanEvaluator
    from presidio_evaluator.evaluation.skipwords import get_skip_words

    kept = frozenset(entities)
    rows: list[dict[str, Any]] = []
    for sentence_id, (item, predicted) in enumerate(zip(dataset, predictions, strict=True)):
        rows.extend(_token_rows(sentence_id, item.text, item.spans, predicted, kept))
    frame = pd.DataFrame(rows, columns=["sentence_id", "token", "annotation", "prediction", "start_indices"])
    evaluator = SpanEvaluator(iou_threshold=IOU_THRESHOLD, char_based=True, skip_words=get_skip_words())
    result = evaluator.calculate_score_on_df(results_df=frame, beta=BETA)

    per_type = {}
    for entity in entities:
        metrics = result.per_type.get(entity)
        if metrics is not None and (metrics.num_annotated or metrics.num_predicted):
            per_type[entity] = _entity_scores(
                metrics.precision, metrics.recall, metrics.f_beta, metrics.num_annotated, metrics.num_predicted
            )
    overall = _entity_scores(
        result.pii_precision, result.pii_recall, result.pii_f, result.pii_annotated, result.pii_predicted
    )
    return PiiScores(per_type, overall)


@functools.cache
def _tokenizer() -> Tokenizer:
    import spacy

    return spacy.blank("en").tokenizer


def _token_rows(
    sentence_id: int,
    text: str,
    gold: Sequence[SpanLike],
    predicted: Sequence[SpanLike],
    entities: frozenset[str],
) -> list[dict[str, Any]]:
    """One IO-tagged row per token, the frame presidio-evaluator's predict_dataset builds."""
    rows = []
    for token in _tokenizer()(text):
        if token.is_space:
            continue
        start, end = token.idx, token.idx + len(token.text)
        rows.append({
            "sentence_id": sentence_id,
            "token": token.text,
            "annotation": _tag(start, end, gold, entities),
            "prediction": _tag(start, end, predicted, entities),
            "start_indices": start,
        })
    return rows


def _tag(start: int, end: int, spans: Sequence[SpanLike], entities: frozenset[str]) -> str:
    """The type of the span overlapping the token most, or "O"."""
    tag, most = "O", 0
    for span in spans:
        overlap = min(end, span.end) - max(start, span.start)
        if overlap > most and span.entity_type in entities:
            tag, most = span.entity_type, overlap
    return tag


def _entity_scores(precision: float, recall: float, f_beta: float, annotated: int, predicted: int) -> EntityScores:
    """Presidio's numbers with NaN as None, and F2 = 0 at recall 0.

    Presidio reports F as NaN when nothing was found, which would read as "not applicable";
    F-beta tends to 0 as recall does, whatever the precision.
    """
    recall_or_none = _defined(recall)
    f2 = 0.0 if recall_or_none == 0.0 else _defined(f_beta)
    return EntityScores(_defined(precision), recall_or_none, f2, int(annotated), int(predicted))


def _defined(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def non_pii_survival(predictions: Sequence[Sequence[SpanLike]]) -> float:
    """Share of NON_PII_CASES whose identifier no predicted span of an evaluated type touches.

    `predictions` are a detector's findings for the NON_PII_CASES texts, in that order.
    """
    if len(predictions) != len(NON_PII_CASES):
        raise ValueError(f"{len(predictions)} predictions for {len(NON_PII_CASES)} non-PII cases")
    survived = 0
    for (text, identifier), spans in zip(NON_PII_CASES, predictions, strict=True):
        start = text.index(identifier)
        end = start + len(identifier)
        if not any(s.entity_type in EVALUATED_ENTITIES and s.start < end and start < s.end for s in spans):
            survived += 1
    return survived / len(NON_PII_CASES)


# --- targets ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A minimum for one metric: scope is "overall", an entity type, or "non-PII"."""

    scope: str
    metric: str  # "recall", "precision", "f2" or "survival"
    minimum: float

    @property
    def name(self) -> str:
        return f"{self.scope} {self.metric} >= {self.minimum:g}"


# What our detector must reach. Types found by patterns and checksums must never be missed; at most
# 3% of personal values may be left overall, 5% of names and of addresses (postcodes included), while
# over-redaction (which costs retrieval) keeps precision at 0.85 or more.
_NEVER_MISSED = ("EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
TARGETS: tuple[Target, ...] = (
    Target("overall", "recall", 0.97),
    Target("overall", "precision", 0.85),
    Target("overall", "f2", 0.92),
    *(Target(entity, "recall", 1.0) for entity in _NEVER_MISSED),
    Target("PERSON", "recall", 0.95),
    Target("STREET_ADDRESS", "recall", 0.95),
    Target("PHONE_NUMBER", "recall", 0.90),
    Target("non-PII", "survival", 0.95),
)


def targets_met(scores: PiiScores, survival: float) -> dict[str, bool]:
    """Target name -> reached. A metric that is undefined (no gold spans of a type) is not reached."""
    met = {}
    for target in TARGETS:
        value = _target_value(target, scores, survival)
        met[target.name] = value is not None and value >= target.minimum
    return met


def _target_value(target: Target, scores: PiiScores, survival: float) -> float | None:
    if target.metric == "survival":
        return survival
    entity_scores = scores.overall if target.scope == "overall" else scores.per_type.get(target.scope)
    return None if entity_scores is None else getattr(entity_scores, target.metric)


# --- running and reporting --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MissedSpan:
    """A gold span no prediction of its type matches, in text `text_index` of the dataset, with the
    predictions (any type) that overlap it."""

    text_index: int
    span: DetectedSpan
    overlapping: tuple[DetectedSpan, ...]


@dataclass(frozen=True, slots=True)
class DetectorResult:
    name: str
    scores: PiiScores
    non_pii_survival: float
    seconds: float  # wall time of the detect call over the dataset
    chars_per_second: float
    misses: tuple[MissedSpan, ...] = ()  # only where asked for: see `evaluate`
    values_left: ValuesLeft | None = None  # values with a word no detected span hides (benchmarks.pii_leaks)


def missed_spans(dataset: Sequence[LabelledText], predictions: Sequence[Sequence[SpanLike]]) -> list[MissedSpan]:
    """The gold spans that no prediction of the same type matches at IoU >= IOU_THRESHOLD, both
    trimmed of leading and trailing skip words as the metric trims them: close to the metric's
    misses (it merges neighbouring spans first), for reading what a detector leaves."""
    skip = skip_words()
    missed = []
    for index, (item, predicted) in enumerate(zip(dataset, predictions, strict=True)):
        predicted = _joined(item.text, [DetectedSpan(p.start, p.end, p.entity_type) for p in predicted], skip)
        for gold in _joined(item.text, list(item.spans), skip):
            core = _core(item.text, gold.start, gold.end, skip)
            if not any(p.entity_type == gold.entity_type and _iou(core, _core(item.text, p.start, p.end, skip))
                       >= IOU_THRESHOLD for p in predicted):
                overlapping = tuple(DetectedSpan(p.start, p.end, p.entity_type) for p in predicted
                                    if p.start < gold.end and gold.start < p.end)
                missed.append(MissedSpan(index, gold, overlapping))
    return missed


def _joined(text: str, spans: list[DetectedSpan], skip: frozenset[str]) -> list[DetectedSpan]:
    """Neighbouring spans of one type with only skip words between them as one, as the metric joins
    them ("0387 | R Cortinhas Fonte 106 | Suite 660")."""
    joined: list[DetectedSpan] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        last = joined[-1] if joined else None
        if last is not None and last.entity_type == span.entity_type and span.start >= last.end and all(
                t.is_space or t.text.lower() in skip for t in _tokenizer()(text[last.end:span.start])):
            joined[-1] = DetectedSpan(last.start, max(last.end, span.end), span.entity_type)
        else:
            joined.append(span)
    return joined


def _core(text: str, start: int, end: int, skip: frozenset[str]) -> tuple[int, int]:
    """The span from its first to its last token that is no skip word (the span itself if all are)."""
    tokens = [(start + t.idx, start + t.idx + len(t.text)) for t in _tokenizer()(text[start:end])
              if not t.is_space and t.text.lower() not in skip]
    return (tokens[0][0], tokens[-1][1]) if tokens else (start, end)


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    overlap = min(a[1], b[1]) - max(a[0], b[0])
    return overlap / (max(a[1], b[1]) - min(a[0], b[0])) if overlap > 0 else 0.0


def format_misses(report: EvaluationReport, dataset: Sequence[LabelledText], context: int = 60) -> str:
    """One line per span the last detector missed: type, value, what it found there, the text around."""
    lines = []
    for miss in report.results[-1].misses if report.results else ():
        text, span = dataset[miss.text_index].text, miss.span
        found = ", ".join(f"{text[o.start:o.end]!r} {o.entity_type}" for o in miss.overlapping) or "nothing"
        around = text[max(0, span.start - context):span.end + context]
        lines.append(f"missed {span.entity_type} {text[span.start:span.end]!r} (found: {found}) in {around!r}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    generated: int  # samples asked of the generator
    dropped: int  # generated samples dropped because a label did not match its text
    seed: int
    texts: int
    characters: int
    by_source: dict[str, int]
    spans_per_type: dict[str, int]


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    dataset: DatasetSummary
    results: tuple[DetectorResult, ...]  # in the order given; the last is ours


def evaluate(detectors: Sequence[Detector], samples: int = 1000, seed: int = 42, *,
             dataset_out: list[LabelledText] | None = None, misses: bool = False) -> EvaluationReport:
    """Every detector on one dataset (built once) and on NON_PII_CASES, timed and scored; with
    `misses`, the last detector's result lists the spans it missed, and `dataset_out` receives the
    dataset they point into."""
    dataset, dropped = _build_dataset(samples, seed)
    if dataset_out is not None:
        dataset_out.extend(dataset)
    texts = [item.text for item in dataset]
    characters = sum(len(text) for text in texts)
    non_pii_texts = [text for text, _ in NON_PII_CASES]
    results = []
    for position, detector in enumerate(detectors):
        predictions, seconds = _timed_detect(detector, texts)
        non_pii_predictions, _ = _timed_detect(detector, non_pii_texts)
        results.append(DetectorResult(
            name=detector.name,
            scores=score(dataset, predictions),
            non_pii_survival=non_pii_survival(non_pii_predictions),
            seconds=seconds,
            chars_per_second=characters / seconds,
            misses=tuple(missed_spans(dataset, predictions)) if misses and position == len(detectors) - 1 else (),
            values_left=values_left(dataset, predictions),
        ))
    summary = DatasetSummary(
        generated=samples,
        dropped=dropped,
        seed=seed,
        texts=len(dataset),
        characters=characters,
        by_source={source: sum(1 for item in dataset if item.source == source) for source in SOURCES},
        spans_per_type=_spans_per_type(dataset),
    )
    return EvaluationReport(summary, tuple(results))


def _timed_detect(detector: Detector, texts: list[str]) -> tuple[Sequence[Sequence[SpanLike]], float]:
    started = time.perf_counter()
    predictions = detector.detect(texts)
    # A detector that does nothing can finish within the clock's resolution.
    seconds = max(time.perf_counter() - started, 1e-9)
    if len(predictions) != len(texts):
        raise ValueError(f"detector {detector.name!r} returned {len(predictions)} results for {len(texts)} texts")
    return predictions, seconds


def _spans_per_type(dataset: Sequence[LabelledText]) -> dict[str, int]:
    counts = Counter(span.entity_type for item in dataset for span in item.spans)
    return {entity: counts[entity] for entity in EVALUATED_ENTITIES}


_TYPE_WIDTH = 19
_COUNT_WIDTH = 6
_SCORES_HEADER = f"{'P':>5} {'R':>5} {'F2':>5}"
_SCORES_WIDTH = len(_SCORES_HEADER)


def format_report(report: EvaluationReport) -> str:
    """A plain-text table: rows per entity type and overall, P / R / F2 per detector side by side."""
    dataset = report.dataset
    results = report.results
    widths = [max(_SCORES_WIDTH, len(r.name)) for r in results]
    label_width = _TYPE_WIDTH + _COUNT_WIDTH
    lines = [
        f"PII detection: {dataset.texts} labelled texts (seed {dataset.seed}), "
        f"span match at IoU >= {IOU_THRESHOLD}, F{BETA} weighs recall over precision",
        "",
        " " * label_width + "".join(f"  {r.name:<{width}}" for r, width in zip(results, widths)),
        f"{'entity type':<{_TYPE_WIDTH}}{'gold':>{_COUNT_WIDTH}}" + _columns([_SCORES_HEADER] * len(results), widths),
    ]
    shown = [
        e for e in EVALUATED_ENTITIES if dataset.spans_per_type[e] or any(e in r.scores.per_type for r in results)
    ]
    for entity in shown:
        cells = [_scores_cell(r.scores.per_type.get(entity)) for r in results]
        lines.append(f"{entity:<{_TYPE_WIDTH}}{_scored_gold(report, entity):>{_COUNT_WIDTH}}" + _columns(cells, widths))
    lines.append(f"{'overall':<{label_width}}" + _columns([_scores_cell(r.scores.overall) for r in results], widths))
    lines += [
        "",
        f"{'non-PII survival':<{label_width}}" + _columns([_number(r.non_pii_survival) for r in results], widths),
        f"{'values left':<{label_width}}" + _columns([_left(r.values_left) for r in results], widths),
        f"{'chars/s':<{label_width}}" + _columns([f"{r.chars_per_second:,.0f}" for r in results], widths),
        f"{'seconds':<{label_width}}" + _columns([f"{r.seconds:.2f}" for r in results], widths),
        "",
    ]
    sources = ", ".join(f"{source} {count}" for source, count in dataset.by_source.items())
    labelled = ", ".join(f"{entity} {count}" for entity, count in dataset.spans_per_type.items())
    lines += [
        f"dataset: {dataset.texts} texts, {dataset.characters:,} characters: {sources}",
        f"  {dataset.generated} generated, {dataset.dropped} of them dropped for labels that did not match "
        f"their text; {len(NON_PII_CASES)} non-PII identifiers",
        f"gold spans as labelled: {labelled}",
        "(the gold column counts them as scored: neighbours of one type with only skip words between are one span)",
        f"values left: labelled values with a word that no detected span of any type covers, which the index "
        f"would hold (goal <= {LEFT_GOAL:.0%})",
    ]
    if results:
        ours = results[-1]
        lines.append("")
        lines.append(f"targets for {ours.name!r} (the last column):")
        met = targets_met(ours.scores, ours.non_pii_survival)
        for target in TARGETS:
            value = _target_value(target, ours.scores, ours.non_pii_survival)
            lines.append(f"  {target.name:<30}{_number(value):>7}  {'met' if met[target.name] else 'MISSED'}")
    return "\n".join(line.rstrip() for line in lines)


def _scored_gold(report: EvaluationReport, entity: str) -> int:
    """Gold spans of a type as the metric counts them (the same for every detector)."""
    for result in report.results:
        if entity in result.scores.per_type:
            return result.scores.per_type[entity].annotated
    return report.dataset.spans_per_type[entity]


def _scores_cell(scores: EntityScores | None) -> str:
    """P, R and F2 in one cell, "-" where undefined."""
    values = (None, None, None) if scores is None else (scores.precision, scores.recall, scores.f2)
    return " ".join(f"{_number(value):>5}" for value in values)


def _columns(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "".join(f"  {cell:>{width}}" for cell, width in zip(cells, widths, strict=True))


def _left(left: ValuesLeft | None) -> str:
    return "-" if left is None else f"{left.left} ({left.share:.1%})"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def report_as_json(report: EvaluationReport) -> dict[str, Any]:
    """The report as JSON-ready data (undefined metrics are null), for `--json`."""
    return {
        "dataset": asdict(report.dataset),
        "iou_threshold": IOU_THRESHOLD,
        "beta": BETA,
        "targets": [
            {"name": t.name, "scope": t.scope, "metric": t.metric, "minimum": t.minimum} for t in TARGETS
        ],
        "detectors": [
            {
                "name": r.name,
                "seconds": r.seconds,
                "chars_per_second": r.chars_per_second,
                "non_pii_survival": r.non_pii_survival,
                "values_left": r.values_left and {**asdict(r.values_left), "share": r.values_left.share},
                "overall": asdict(r.scores.overall),
                "per_type": {entity: asdict(s) for entity, s in r.scores.per_type.items()},
                "targets_met": targets_met(r.scores, r.non_pii_survival),
            }
            for r in report.results
        ],
    }


# --- the baseline -----------------------------------------------------------------------


class StockPresidioDetector:
    """Presidio's analyser as shipped (default recognisers and threshold): the baseline to beat."""

    name: str = "presidio (stock)"

    def __init__(self, model: str = "en_core_web_sm") -> None:
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        # Presidio warns about every recogniser for languages we do not load.
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
        })
        analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
        supported = set(analyzer.get_supported_entities("en"))
        # Only the types Presidio can find: it has no STREET_ADDRESS recogniser.
        self._entities = [entity for entity in EVALUATED_ENTITIES if entity in supported]
        self._batch = BatchAnalyzerEngine(analyzer_engine=analyzer)

    def detect(self, texts: list[str]) -> list[list[DetectedSpan]]:
        findings = self._batch.analyze_iterator(texts, language="en", batch_size=32, entities=self._entities)
        return [[DetectedSpan(f.start, f.end, f.entity_type) for f in found] for found in findings]
