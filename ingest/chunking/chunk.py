"""Title-aware chunking that respects the embedding model's token limit.

A document's elements are joined into one text; every chunk is an exact span
of that text, so its character offsets are true. Titles open sections (with
their heading level, when the format has one); chunks never cross a section,
and a title stays with the text that follows it. Elements longer than the
budget are split on token boundaries. Consecutive chunks of one section share
`overlap_tokens` tokens of context. Tokens are counted with the model's own
tokenizer, on the exact chunk text.

Speed: a document is tokenised once, and the chunking decisions count the
tokens of a span from those offsets, which is exact wherever the span is cut
next to white space (WordPiece tokens and words never cross it). Spans cut
elsewhere are tokenised on their own, and every finished chunk is counted on
its own text and split if a tokenizer made it larger than the budget.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ingest.core.models import Chunk, Element

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


# White space that WordPiece (BERT) splits words on and never puts in a token. Other characters
# Python calls space (U+001C..U+001F, U+0085, ...) are removed by BERT's normaliser and can join words.
_PLAIN_SPACE = frozenset(" \t\n\r")


class _Tokens:
    """A document's tokens from one tokenizer call, to count the tokens of spans of it."""

    __slots__ = ("text", "offsets", "starts")

    def __init__(self, text: str, offsets: list[tuple[int, int]]) -> None:
        self.text = text
        self.offsets = sorted(offsets)  # already in text order for real tokenizers: this is linear
        self.starts = [start for start, _ in self.offsets]

    def between(self, start: int, end: int) -> tuple[int, int]:
        """Index range of the tokens that begin in text[start:end]."""
        return bisect_left(self.starts, start), bisect_left(self.starts, end)

    def is_boundary(self, position: int) -> bool:
        """Whether a span that begins or ends here tokenises as the whole text does there.

        True at the ends of the text and next to plain white space that no token covers:
        a WordPiece word never crosses it, so a span cut there holds exactly the document's
        tokens that fall inside it. Elsewhere (inside a word) the span must be tokenised itself.
        """
        text = self.text
        if position <= 0 or position >= len(text):
            return True
        if text[position - 1] not in _PLAIN_SPACE and text[position] not in _PLAIN_SPACE:
            return False
        before = bisect_left(self.starts, position) - 1  # the last token that begins before position
        return before < 0 or self.offsets[before][1] <= position  # a token that spans white space: no


def document_text(elements: Sequence[Element]) -> tuple[str, list[tuple[int, int]]]:
    """The text chunks are cut from, and each element's span in it."""
    spans = []
    cursor = 0
    for element in elements:
        spans.append((cursor, cursor + len(element.text)))
        cursor += len(element.text) + len(ELEMENT_SEPARATOR)
    return ELEMENT_SEPARATOR.join(element.text for element in elements), spans


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without the white space it may begin or end on (between words or elements)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


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

    def _span_token_starts(self, tokens: _Tokens, start: int, end: int) -> list[int]:
        """Where the tokens of text[start:end] begin (document positions): from the document's tokens
        when both ends are boundaries, else from tokenising the span itself."""
        if tokens.is_boundary(start) and tokens.is_boundary(end):
            first, last = tokens.between(start, end)
            return tokens.starts[first:last]
        return [start + token_start for token_start, _ in self._offsets(tokens.text[start:end])]

    def _span_count(self, tokens: _Tokens, start: int, end: int) -> int:
        return len(self._span_token_starts(tokens, start, end))

    def _piece_ends(self, offsets: list[tuple[int, int]], end: int) -> list[int]:
        """Where to cut a long element into pieces of at most a quarter budget, at word starts.

        `offsets` are the element's tokens, `end` where it ends. Small pieces let a chunk be
        filled close to the budget, leave room for a title and for overlap, and cutting between
        words keeps the count of every piece exact when it is tokenised again on its own.
        """
        limit = max(4, self.settings.max_tokens // 4)
        ends = []
        first = 0  # index of the first token of the current piece
        while len(offsets) - first > limit:
            cut = first + limit  # the token that would not fit
            word_start = next((i for i in range(cut, first, -1)
                               if offsets[i][0] > offsets[i - 1][1]), None)  # whitespace before token i
            cut = word_start or cut  # a single word longer than the piece is cut between tokens
            ends.append(offsets[cut][0])
            first = cut
        ends.append(end)
        return ends

    def _units(self, elements: Sequence[Element], tokens: _Tokens, spans: list[tuple[int, int]]) -> list[_Unit]:
        units = []
        headings: list[tuple[int, int, str]] = []  # (depth, element index, title) stack
        for element, (start, end) in zip(elements, spans, strict=True):
            if element.category == "Title":
                headings = [heading for heading in headings if heading[0] < element.depth]
                headings.append((element.depth, element.index, element.text))
            section = tuple(title for _, _, title in headings)
            section_key = tuple(index for _, index, _ in headings)
            first, last = tokens.between(start, end)
            piece_start = start
            for piece_end in self._piece_ends(tokens.offsets[first:last], end):
                units.append(_Unit(piece_start, piece_end, element, section, section_key))
                piece_start = piece_end
        return units

    def _overlap_start(self, tokens: _Tokens, start: int, end: int) -> int:
        """Where the last `overlap_tokens` tokens of text[start:end] begin, moved to a word start."""
        overlap = self.settings.overlap_tokens
        if overlap == 0:
            return end
        text = tokens.text
        starts = self._span_token_starts(tokens, start, end)
        if len(starts) <= overlap:
            return end
        position = starts[-overlap]
        while position < end and not text[position - 1].isspace():
            position += 1
        return position

    def chunk(self, doc_id: str, elements: Sequence[Element]) -> list[Chunk]:
        if not elements:
            return []
        text, spans = document_text(elements)
        tokens = _Tokens(text, self._offsets(text))  # the only tokenisation of the whole document
        units = self._units(elements, tokens, spans)
        budget = self.settings.max_tokens
        groups: list[tuple[int, int, list[_Unit]]] = []  # (start, end, units) per chunk
        current: list[_Unit] = []
        current_start = 0
        for unit in units:
            if current:
                same_section = unit.section_key == current[-1].section_key
                only_titles = all(u.element.category == "Title" for u in current)
                if ((same_section or only_titles)
                        and self._span_count(tokens, current_start, unit.end) <= budget):
                    current.append(unit)
                    continue
                groups.append((current_start, current[-1].end, current))
                overlap_from = self._overlap_start(tokens, current_start, current[-1].end)
                if (same_section and overlap_from < unit.start
                        and self._span_count(tokens, overlap_from, unit.end) <= budget):
                    current_start = overlap_from
                else:
                    current_start = unit.start
                current = [unit]
            else:
                current, current_start = [unit], unit.start
        if current:
            trailing_titles = all(u.element.category == "Title" for u in current)
            if (trailing_titles and groups
                    and self._span_count(tokens, groups[-1][0], current[-1].end) <= budget):
                # A heading with nothing after it (a signature, a closing line) joins the chunk before.
                start, _, members = groups.pop()
                groups.append((start, current[-1].end, members + current))
            else:
                groups.append((current_start, current[-1].end, current))
        fitted = [piece for start, end, members in groups for piece in self._fit(text, start, end, members)]
        element_starts = [start for start, _ in spans]
        element_ends = [end for _, end in spans]
        chunks = []
        for index, (start, end, members, token_count) in enumerate(fitted):
            # Elements are in text order and do not overlap: those the chunk covers are a run of them.
            covered = elements[bisect_right(element_ends, start):bisect_left(element_starts, end)]
            chunks.append(self._make_chunk(doc_id, index, text[start:end], start, end, token_count,
                                           covered, members))
        return chunks

    def _fit(self, text: str, start: int, end: int,
             members: list[_Unit]) -> list[tuple[int, int, list[_Unit], int]]:
        """The group as final chunks (trimmed span, units, exact token count), none over budget.

        The count on the chunk's own text is the one that is stored, so it is the one that must
        fit. The fast counts above make it fit for WordPiece; for a tokenizer whose tokens
        change with context (BPE, SentencePiece) a chunk can come out over: it is then split,
        dropping the overlap first, then between its units, then inside its one unit.
        """
        trimmed_start, trimmed_end = _trimmed(text, start, end)
        token_count = self.count(text[trimmed_start:trimmed_end])
        # Within budget, or one character, which cannot be cut any further.
        if token_count <= self.settings.max_tokens or trimmed_end - trimmed_start <= 1:
            return [(trimmed_start, trimmed_end, members, token_count)]
        if start < members[0].start:  # begins with overlap from the chunk before
            return self._fit(text, members[0].start, end, members)
        if len(members) > 1:
            half = len(members) // 2
            return (self._fit(text, start, members[half - 1].end, members[:half])
                    + self._fit(text, members[half].start, end, members[half:]))
        [unit] = members
        offsets = self._offsets(text[start:end])
        middle = start + offsets[len(offsets) // 2][0] if len(offsets) > 1 else start
        if not start < middle < end:
            middle = (start + end) // 2
        return (self._fit(text, start, middle, [replace(unit, start=start, end=middle)])
                + self._fit(text, middle, end, [replace(unit, start=middle, end=end)]))

    def _make_chunk(self, doc_id: str, index: int, chunk_text: str, start: int, end: int, token_count: int,
                    covered: Sequence[Element], members: list[_Unit]) -> Chunk:
        content = [member for member in members if member.element.category != "Title"]
        return Chunk(
            doc_id=doc_id,
            chunk_index=index,
            text=chunk_text,
            start=start,
            end=end,
            token_count=token_count,
            section_path=(content[0] if content else members[-1]).section,
            pages=tuple(sorted({e.page for e in covered if e.page is not None})),
            element_types=tuple(sorted({e.category for e in covered})),
            ocr=any(e.ocr for e in covered),
            extraction=tuple(sorted({e.extraction for e in covered if e.extraction})),
        )


def chunk_documents(elements_by_doc: dict[str, list[Element]], chunker: Chunker) -> list[Chunk]:
    return [chunk for doc_id, elements in elements_by_doc.items() for chunk in chunker.chunk(doc_id, elements)]
