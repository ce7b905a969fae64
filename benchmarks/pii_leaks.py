"""Personal values left in a text after redaction: what the index would hold.

The span metric (`benchmarks.pii_eval`) counts a value as missed when no span of its type matches it at
IoU 0.75, though a span of another type, or a longer or shorter one, may still hide it. Here a labelled
value is *left* when one of its words is not wholly inside some detected span, whatever that span's type:
that word would reach the index. A word is a run of letters or digits; a lone letter (an initial) and
the span metric's skip words ("the corner of", "Apt.", "my" ...) are not counted: they tell nothing on
their own, and the span metric trims them off the labels too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

_WORD = re.compile(r"\w+")
GOAL = 0.01  # at most this share of personal values may be left


class SpanLike(Protocol):
    """Anything with character offsets (end exclusive) and an entity type."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def entity_type(self) -> str: ...


class Labelled(Protocol):
    """A text with its labelled values."""

    @property
    def text(self) -> str: ...

    @property
    def spans(self) -> Sequence[SpanLike]: ...


@dataclass(frozen=True, slots=True)
class ValuesLeft:
    """Labelled values with a word left unredacted, overall and per entity type: (left, values)."""

    left: int
    values: int
    per_type: dict[str, tuple[int, int]]

    @property
    def share(self) -> float:
        return self.left / self.values if self.values else 0.0


@functools.cache
def skip_words() -> frozenset[str]:
    """The span metric's skip words, lower-cased: presidio-evaluator's list ("the", "corner", "apt" ...)."""
    from presidio_evaluator.evaluation.skipwords import get_skip_words

    return frozenset(word.lower() for word in get_skip_words())


def _left_words(text: str, value: SpanLike, covered: bytearray, skip: frozenset[str]) -> list[str]:
    """The words of `value` that a detected span does not wholly cover (lone letters and skip words aside)."""
    left = []
    for word in _WORD.finditer(text, value.start, value.end):
        if (len(word.group()) == 1 and not word.group().isdigit()) or word.group().lower() in skip:
            continue
        if not all(covered[word.start():word.end()]):
            left.append(word.group())
    return left


def values_left(dataset: Sequence[Labelled], predictions: Sequence[Sequence[SpanLike]]) -> ValuesLeft:
    """How many labelled values keep a word outside every detected span (of any type)."""
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for {len(dataset)} texts")
    skip = skip_words()
    left: dict[str, int] = {}
    values: dict[str, int] = {}
    for item, found in zip(dataset, predictions, strict=True):
        covered = bytearray(len(item.text))
        for span in found:
            covered[span.start:span.end] = b"\x01" * (min(span.end, len(item.text)) - span.start)
        for value in item.spans:
            values[value.entity_type] = values.get(value.entity_type, 0) + 1
            if _left_words(item.text, value, covered, skip):
                left[value.entity_type] = left.get(value.entity_type, 0) + 1
    per_type = {entity: (left.get(entity, 0), count) for entity, count in sorted(values.items())}
    return ValuesLeft(sum(left.values()), sum(values.values()), per_type)
