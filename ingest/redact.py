"""PII redaction with Presidio: found values become typed placeholders.

Only counts per entity type leave this module; the values themselves are never
returned, logged or stored.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

# Entity types found by patterns and checksums, not by a language model: a re-scan for them is
# fast and precise, so any left after redaction blocks the run.
BLOCKING_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
DEFAULT_ENTITIES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
)
POLICY_FORMAT_VERSION = "1"


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    entities: tuple[str, ...] = DEFAULT_ENTITIES
    score_threshold: float = 0.4
    spacy_model: str = "en_core_web_sm"

    @property
    def version(self) -> str:
        entities = ",".join(sorted(self.entities))
        return f"redact-{POLICY_FORMAT_VERSION}/{self.spacy_model}/{self.score_threshold}/{entities}"


@dataclass(frozen=True, slots=True)
class RedactedText:
    text: str
    entity_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    entity_type: str
    score: float


def _non_overlapping(spans: Sequence[_Span]) -> list[_Span]:
    """Keep the best of overlapping findings: higher score, then longer span."""
    ranked = sorted(spans, key=lambda span: (-span.score, -(span.end - span.start), span.start))
    kept: list[_Span] = []
    for span in ranked:
        if all(span.end <= other.start or span.start >= other.end for other in kept):
            kept.append(span)
    return sorted(kept, key=lambda span: span.start)


def apply_placeholders(text: str, spans: Sequence[_Span]) -> RedactedText:
    """Replace each span by `<ENTITY_TYPE>` and count what was replaced."""
    pieces = []
    cursor = 0
    counts: Counter[str] = Counter()
    for span in _non_overlapping(spans):
        pieces.append(text[cursor:span.start])
        pieces.append(f"<{span.entity_type}>")
        counts[span.entity_type] += 1
        cursor = span.end
    pieces.append(text[cursor:])
    return RedactedText("".join(pieces), dict(sorted(counts.items())))


class Redactor:
    """Presidio analyser over a local spaCy model; loads once, redacts in batches."""

    def __init__(self, policy: RedactionPolicy = RedactionPolicy()) -> None:
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        # Presidio warns about every recogniser for languages we do not load.
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        self.policy = policy
        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": policy.spacy_model}],
        })
        self._analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
        self._batch = BatchAnalyzerEngine(analyzer_engine=self._analyzer)

    def redact(self, texts: Sequence[str], *, batch_size: int = 32) -> list[RedactedText]:
        results = self._batch.analyze_iterator(
            list(texts),
            language="en",
            batch_size=batch_size,
            entities=list(self.policy.entities),
            score_threshold=self.policy.score_threshold,
        )
        redacted = []
        for text, findings in zip(texts, results, strict=True):
            spans = [_Span(f.start, f.end, f.entity_type, f.score) for f in findings]
            redacted.append(apply_placeholders(text, spans))
        return redacted


def redact_elements(elements: pl.DataFrame, redactor: Redactor) -> pl.DataFrame:
    """The elements with redacted text and an `entities` column: JSON counts by entity type."""
    redacted = redactor.redact(elements["text"].to_list())
    return elements.with_columns(
        pl.Series("text", [r.text for r in redacted], dtype=pl.String),
        pl.Series("entities", [json.dumps(r.entity_counts, sort_keys=True) for r in redacted], dtype=pl.String),
    )


def entity_counts_by_document(redacted: pl.DataFrame) -> dict[str, dict[str, int]]:
    """doc id -> {entity type: count} over a redacted elements frame."""
    totals: dict[str, Counter[str]] = {}
    for doc_id, entities in redacted.select("doc_id", "entities").iter_rows():
        totals.setdefault(doc_id, Counter()).update(json.loads(entities))
    return {doc_id: dict(sorted(counts.items())) for doc_id, counts in totals.items()}


@functools.cache
def _pattern_recognizers(entities: tuple[str, ...]) -> list:
    from presidio_analyzer import RecognizerRegistry

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"])
    return [r for r in registry.recognizers if set(r.supported_entities) & set(entities)]


def residue_scan(texts: Sequence[str], entities: Sequence[str] = BLOCKING_ENTITIES,
                 score_threshold: float = 0.4) -> list[dict[str, int]]:
    """Counts by entity type of PII still present in already-redacted texts.

    Uses Presidio's pattern and checksum recognisers directly, without the spaCy
    pipeline: fast enough to re-scan everything before it is embedded.
    """
    recognizers = _pattern_recognizers(tuple(entities))
    results = []
    for text in texts:
        counts: Counter[str] = Counter()
        for recognizer in recognizers:
            for finding in recognizer.analyze(text, entities=list(entities), nlp_artifacts=None) or []:
                if finding.score >= score_threshold and finding.entity_type in entities:
                    counts[finding.entity_type] += 1
        results.append(dict(counts))
    return results
