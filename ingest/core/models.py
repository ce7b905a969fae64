"""The records that flow through the pipeline: frozen, slotted dataclasses.

Each stage's output is also written as a parquet file; the `*_SCHEMA` mappings
name the columns so readers and writers agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DocStatus(StrEnum):
    INDEXED = "indexed"
    QUARANTINED = "quarantined"
    DELETED = "deleted"


class Change(StrEnum):
    """How a document in this run compares with the manifest of the last run."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One file in a tenant's source folder."""

    doc_id: str
    source: str  # path relative to the tenant's source folder, '/'-separated
    path: str  # absolute path, for reading
    sha256: str
    size: int
    modified_at: float  # seconds since the epoch
    file_type: str  # lower-case kind: pdf, docx, html, png, ...
    mime_type: str
    # An e-mail attachment (ingest.parsing.attachments): the message's doc id, and where in the message it
    # is; `path` is then the message's file and `source` "<message source>#<attachment name>".
    parent_id: str = ""
    member: str = ""


@dataclass(frozen=True, slots=True)
class Element:
    """A typed piece of a document (title, narrative text, list item, table ...)."""

    index: int
    category: str
    text: str
    page: int | None = None
    depth: int = 0  # heading level for titles, when the format has one
    ocr: bool = False
    ocr_confidence: float | None = None  # mean word confidence 0-100, OCR'd text only
    # Which path produced the text: layout, text-layer or ocr (PDF pages), ocr (images), partition (others).
    extraction: str = ""


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """The result of parsing one file: its elements, or why it was quarantined."""

    doc_id: str
    elements: tuple[Element, ...]
    parser: str  # which partitioner produced the elements
    pages: int
    ocr_pages: int
    quarantine_reason: str | None = None
    strategy: str = ""  # text-layer, ocr, text-layer+ocr (PDF), partition (other formats)
    layout_pages: int = 0  # PDF pages whose text pdfminer's layout analysis gave
    fallback_pages: int = 0  # PDF pages whose text came from pypdf's text layer: the layout gave too little
    text_layer_chars: int | None = None  # PDF: pypdf's non-space characters on the pages with a text layer
    language: str | None = None  # the text's main language (ISO 639-1 or 'unknown'); None when quarantined

    @property
    def ok(self) -> bool:
        return self.quarantine_reason is None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A span of a redacted document, small enough for the embedding model."""

    doc_id: str
    chunk_index: int
    text: str
    start: int  # character span in the document's redacted text
    end: int
    token_count: int
    section_path: tuple[str, ...]
    pages: tuple[int, ...]
    element_types: tuple[str, ...]
    ocr: bool = False
    extraction: tuple[str, ...] = ()  # the extraction paths of the elements it covers


@dataclass(frozen=True, slots=True)
class SearchHit:
    point_id: str
    score: float
    text: str
    payload: dict = field(default_factory=dict)
