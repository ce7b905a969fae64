"""What every recogniser shares: the `Finding` it returns, the words before a match it is judged by, and
the line above a line (contact blocks are read by their lines).

Every recogniser returns `Finding`s: offsets, type, score and its own name. Values never leave.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str


def preceding_words(text: str, start: int, window: int = 40, words: int = 4) -> list[str]:
    """The last few words before `start`, lowercased: the context a finding is judged by."""
    return re.findall(r"[\w#']+", text[max(0, start - window):start].lower())[-words:]


def has_context(text: str, start: int, cues: Iterable[str], *, window: int = 40, words: int = 4) -> bool:
    before = preceding_words(text, start, window, words)
    cue_set = set(cues)
    return any(word in cue_set or word.rstrip("s") in cue_set for word in before) or (
        "#" in cue_set and "#" in text[max(0, start - 3):start])


def line_above(text: str, line_start: int) -> tuple[int, int] | None:
    """The (start, end) of the nearest line above the line starting at `line_start` that holds a word
    (lines of quote marks alone, "}}", "???", are skipped), or None."""
    end = line_start - 1
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        if re.search(r"\w", text[start:end]):
            return start, end
        end = start - 1
    return None
