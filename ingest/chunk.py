"""Title-aware chunking that respects the embedding model's token limit.

A document's elements are joined into one text; every chunk is an exact span
of that text, so its character offsets are true. Titles open sections (with
their heading level, when the format has one); chunks never cross a section,
and a title stays with the text that follows it. Elements longer than the
budget are split on token boundaries. Consecutive chunks of one section share
`overlap_tokens` tokens of context. Tokens are counted with the model's own
tokenizer, on the exact chunk text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.models import Chunk, Element

ELEMENT_SEPARATOR = "\n\n"
CHUNKER_VERSION = "1"


class TokenOffsets(Protocol):
    """The model's tokenizer: character spans of the tokens of a text, no special tokens."""

    def __call__(self, text: str) -> list[tuple[int, int]]: ...


@dataclass(frozen=True, slots=True)
class ChunkSettings:
    max_tokens: int = 200
    overlap_tokens: int = 32

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError("max_tokens must be at least 16")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError("overlap_tokens must be between 0 and half of max_tokens")

    def version(self, model: str) -> str:
        return f"chunk-{CHUNKER_VERSION}/{self.max_tokens}/{self.overlap_tokens}/{model}"


@dataclass(frozen=True, slots=True)
class _Unit:
    """An element, or a word-aligned piece of a long one, placed in the document text."""

    start: int
    end: int
    element: Element
    section: tuple[str, ...]  # heading texts, outermost first
    section_key: tuple[int, ...]  # element indices of those headings: equal texts stay distinct sections


def document_text(elements: Sequence[Element]) -> tuple[str, list[tuple[int, int]]]:
    """The text chunks are cut from, and each element's span in it."""
    spans = []
    cursor = 0
    for element in elements:
        spans.append((cursor, cursor + len(element.text)))
        cursor += len(element.text) + len(ELEMENT_SEPARATOR)
    return ELEMENT_SEPARATOR.join(element.text for element in elements), spans


class Chunker:
    def __init__(self, token_offsets: TokenOffsets, settings: ChunkSettings, model_limit: int) -> None:
        if settings.max_tokens > model_limit:
            raise ValueError(
                f"max_tokens={settings.max_tokens} exceeds the embedding model's limit of "
                f"{model_limit} tokens; lower it"
            )
        self._offsets = token_offsets
        self.settings = settings

    def count(self, text: str) -> int:
        return len(self._offsets(text))

    def _piece_ends(self, text: str) -> list[int]:
        """Where to cut a long text into pieces of at most a quarter budget, at word starts.

        Small pieces let a chunk be filled close to the budget, leave room for a title
        and for overlap, and cutting between words keeps the count of every piece
        exact when it is tokenised again on its own.
        """
        limit = max(4, self.settings.max_tokens // 4)
        offsets = self._offsets(text)
        ends = []
        first = 0  # index of the first token of the current piece
        while len(offsets) - first > limit:
            cut = first + limit  # the token that would not fit
            word_start = next((i for i in range(cut, first, -1)
                               if offsets[i][0] > offsets[i - 1][1]), None)  # whitespace before token i
            cut = word_start or cut  # a single word longer than the piece is cut between tokens
            ends.append(offsets[cut][0])
            first = cut
        ends.append(len(text))
        return ends

    def _units(self, elements: Sequence[Element], text: str, spans: list[tuple[int, int]]) -> list[_Unit]:
        units = []
        headings: list[tuple[int, int, str]] = []  # (depth, element index, title) stack
        for element, (start, end) in zip(elements, spans, strict=True):
            if element.category == "Title":
                headings = [heading for heading in headings if heading[0] < element.depth]
                headings.append((element.depth, element.index, element.text))
            section = tuple(title for _, _, title in headings)
            section_key = tuple(index for _, index, _ in headings)
            piece_start = start
            for piece_end in self._piece_ends(text[start:end]):
                units.append(_Unit(piece_start, start + piece_end, element, section, section_key))
                piece_start = start + piece_end
        return units

    def _overlap_start(self, text: str, start: int, end: int) -> int:
        """Where the last `overlap_tokens` tokens of text[start:end] begin, moved to a word start."""
        if self.settings.overlap_tokens == 0:
            return end
        offsets = self._offsets(text[start:end])
        if len(offsets) <= self.settings.overlap_tokens:
            return end
        position = start + offsets[-self.settings.overlap_tokens][0]
        while position < end and not text[position - 1].isspace():
            position += 1
        return position

    def chunk(self, doc_id: str, elements: Sequence[Element]) -> list[Chunk]:
        text, spans = document_text(elements)
        units = self._units(elements, text, spans)
        budget = self.settings.max_tokens
        groups: list[tuple[int, int, list[_Unit]]] = []  # (start, end, units) per chunk
        current: list[_Unit] = []
        current_start = 0
        for unit in units:
            if current:
                same_section = unit.section_key == current[-1].section_key
                only_titles = all(u.element.category == "Title" for u in current)
                if (same_section or only_titles) and self.count(text[current_start:unit.end]) <= budget:
                    current.append(unit)
                    continue
                groups.append((current_start, current[-1].end, current))
                overlap_from = self._overlap_start(text, current_start, current[-1].end)
                if (same_section and overlap_from < unit.start
                        and self.count(text[overlap_from:unit.end]) <= budget):
                    current_start = overlap_from
                else:
                    current_start = unit.start
                current = [unit]
            else:
                current, current_start = [unit], unit.start
        if current:
            trailing_titles = all(u.element.category == "Title" for u in current)
            if trailing_titles and groups and self.count(text[groups[-1][0]:current[-1].end]) <= budget:
                # A heading with nothing after it (a signature, a closing line) joins the chunk before.
                start, _, members = groups.pop()
                groups.append((start, current[-1].end, members + current))
            else:
                groups.append((current_start, current[-1].end, current))
        return [self._make_chunk(doc_id, index, text, spans, elements, start, end, members)
                for index, (start, end, members) in enumerate(groups)]

    def _make_chunk(self, doc_id, index, text, spans, elements, start, end, members) -> Chunk:
        # Spans may begin or end on the white space between words or elements: trim it.
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        covered = [element for element, (s, e) in zip(elements, spans, strict=True) if s < end and e > start]
        chunk_text = text[start:end]
        content = [member for member in members if member.element.category != "Title"]
        return Chunk(
            doc_id=doc_id,
            chunk_index=index,
            text=chunk_text,
            start=start,
            end=end,
            token_count=self.count(chunk_text),
            section_path=(content[0] if content else members[-1]).section,
            pages=tuple(sorted({e.page for e in covered if e.page is not None})),
            element_types=tuple(sorted({e.category for e in covered})),
            ocr=any(e.ocr for e in covered),
        )


def chunk_documents(elements_by_doc: dict[str, list[Element]], chunker: Chunker) -> list[Chunk]:
    return [chunk for doc_id, elements in elements_by_doc.items() for chunk in chunker.chunk(doc_id, elements)]
