"""Parse a source file into typed elements, OCR'ing what has no text.

- PDF: pypdf says which pages carry a usable text layer. Those pages are laid
  out by pdfminer (paragraph boxes) and each box is classified by unstructured's
  text classifier; the other pages are rendered (pypdfium2) and OCR'd.
  unstructured's own PDF partitioner is not used: even its `fast` strategy
  imports unstructured-inference, whose dependencies pull a multi-gigabyte
  torchvision build.
- Images (PNG, JPEG, TIFF, every frame): OCR'd with Tesseract.
- Everything else: unstructured's partitioners (no layout model involved).

A file that cannot be parsed is never fatal: the result carries a short
quarantine reason and the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from ingest import tables
from ingest.models import Element, ParsedDocument, SourceDocument
from ingest.ocr import OcrUnavailable, ocr_image

PDF_TYPES = {"pdf"}
IMAGE_TYPES = {"png", "jpg", "jpeg", "tiff", "bmp"}
UNSTRUCTURED_TYPES = {"docx", "pptx", "xlsx", "html", "md", "txt", "eml", "msg"}
SUPPORTED_TYPES = PDF_TYPES | IMAGE_TYPES | UNSTRUCTURED_TYPES
PARSER_VERSION = "1"


class Quarantine(Exception):
    """A document that cannot be ingested; str(self) is the short reason."""


@dataclass(frozen=True, slots=True)
class ParseSettings:
    ocr_language: str = "eng"
    ocr_dpi: int = 200
    # A page whose text layer has fewer visible characters than this is OCR'd.
    min_text_layer_chars: int = 16

    @property
    def version(self) -> str:
        return f"parse-{PARSER_VERSION}/ocr-{self.ocr_language}-{self.ocr_dpi}/min-{self.min_text_layer_chars}"


def _classify(text: str):
    from unstructured.partition.text import element_from_text

    return element_from_text(text)


def _clean(text: str) -> str:
    """Text without NUL characters (some Outlook files keep string terminators) or outer space."""
    return text.replace("\x00", "").strip()


def _normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


def _elements_from_paragraphs(
    paragraphs: Iterable[tuple[str, int | None, float | None]], *, ocr: bool, start: int
) -> list[Element]:
    """Classify plain paragraphs (text, page, ocr confidence) into typed elements."""
    elements = []
    for text, page, confidence in paragraphs:
        text = _normalise_whitespace(text)
        if not text:
            continue
        classified = _classify(text)
        elements.append(
            Element(
                index=start + len(elements),
                category=classified.category,
                text=classified.text or text,
                page=page,
                ocr=ocr,
                ocr_confidence=round(confidence, 2) if confidence is not None else None,
            )
        )
    return elements


def _ocr_paragraphs(image, page: int, settings: ParseSettings):
    for paragraph in ocr_image(image, language=settings.ocr_language):
        yield paragraph.text, page, paragraph.confidence


def _text_layer_pages(path: Path, min_chars: int) -> tuple[int, list[int]]:
    """(page count, 0-based pages with a usable text layer), or Quarantine."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Quarantine("encrypted: the PDF needs a password to open")
        pages = list(reader.pages)
        with_text = [
            number for number, page in enumerate(pages)
            if len("".join((page.extract_text() or "").split())) >= min_chars
        ]
    except Quarantine:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as error:
        raise Quarantine(f"corrupt: unreadable PDF ({type(error).__name__})") from error
    return len(pages), with_text


def _line_style(line) -> tuple[float, bool]:
    """(font size, bold) of a pdfminer text line, from its characters."""
    from pdfminer.layout import LTChar

    characters = [c for c in line if isinstance(c, LTChar) and c.get_text().strip()]
    if not characters:
        return 0.0, False
    size = sorted(c.size for c in characters)[len(characters) // 2]
    bold = sum("bold" in c.fontname.lower() for c in characters) > len(characters) / 2
    return round(size, 1), bold


def _split_box_by_font(box) -> list[str]:
    """Paragraphs of a pdfminer text box, split where the font changes.

    pdfminer groups lines by distance alone, so a heading set close above its
    paragraph lands in the same box; a change of size or weight separates them.
    """
    from pdfminer.layout import LTTextLine

    paragraphs: list[list[str]] = []
    previous_style = None
    for line in box:
        if not isinstance(line, LTTextLine):
            continue
        style = _line_style(line)
        if previous_style is None or style != previous_style:
            paragraphs.append([])
        paragraphs[-1].append(line.get_text())
        previous_style = style
    return ["".join(lines) for lines in paragraphs]


def _parse_pdf(path: Path, settings: ParseSettings) -> tuple[list[Element], int, int]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer

    page_count, text_pages = _text_layer_pages(path, settings.min_text_layer_chars)
    by_page: dict[int, list[Element]] = {}
    if text_pages:
        boxes = []
        for page_index, layout in zip(text_pages, extract_pages(path, page_numbers=text_pages,
                                                                 laparams=LAParams()), strict=True):
            for item in layout:
                if isinstance(item, LTTextContainer):
                    boxes.extend((text, page_index + 1, None) for text in _split_box_by_font(item))
        for element in _elements_from_paragraphs(boxes, ocr=False, start=0):
            by_page.setdefault(element.page, []).append(element)
    scanned = [number for number in range(page_count) if number not in set(text_pages)]
    if scanned:
        import pypdfium2

        document = pypdfium2.PdfDocument(str(path))
        try:
            for page_index in scanned:
                image = document[page_index].render(scale=settings.ocr_dpi / 72).to_pil()
                paragraphs = list(_ocr_paragraphs(image, page_index + 1, settings))
                by_page[page_index + 1] = _elements_from_paragraphs(paragraphs, ocr=True, start=0)
        finally:
            document.close()
    ordered = [element for page in sorted(by_page) for element in by_page[page]]
    return _renumber(ordered), page_count, len(scanned)


def _parse_image(path: Path, settings: ParseSettings) -> tuple[list[Element], int, int]:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            paragraphs = []
            pages = 0
            for page_number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                pages = page_number
                paragraphs.extend(_ocr_paragraphs(frame.copy(), page_number, settings))
    except (UnidentifiedImageError, OSError) as error:
        raise Quarantine(f"corrupt: unreadable image ({type(error).__name__})") from error
    return _elements_from_paragraphs(paragraphs, ocr=True, start=0), pages, pages


def _parse_with_unstructured(path: Path) -> tuple[list[Element], int, int]:
    from unstructured.partition.auto import partition

    kind_options = {"process_attachments": False} if path.suffix.lower() in (".eml", ".msg") else {}
    parsed = partition(filename=str(path), **kind_options)
    elements = []
    pages = set()
    subject = _clean(getattr(parsed[0].metadata, "subject", None) or "") if parsed else ""
    if subject:  # an e-mail's subject is its title
        elements.append(Element(index=0, category="Title", text=subject))
    for item in parsed:
        text = _clean(item.text or "")
        if not text or item.category in ("PageBreak",):
            continue
        page = getattr(item.metadata, "page_number", None)
        if page is not None:
            pages.add(page)
        depth = getattr(item.metadata, "category_depth", None) or 0
        elements.append(Element(index=len(elements), category=item.category, text=text,
                                page=page, depth=int(depth)))
    return elements, max(pages, default=1), 0


def _renumber(elements: list[Element]) -> list[Element]:
    from dataclasses import replace

    return [replace(element, index=index) for index, element in enumerate(elements)]


def parse_document(document: SourceDocument, settings: ParseSettings = ParseSettings()) -> ParsedDocument:
    """Elements of one file, or a quarantined result with a short reason."""
    kind = document.file_type
    path = Path(document.path)

    def quarantined(reason: str, parser: str = kind) -> ParsedDocument:
        return ParsedDocument(document.doc_id, (), parser, 0, 0, quarantine_reason=reason)

    if document.size == 0:
        return quarantined("empty: the file has no content")
    if kind not in SUPPORTED_TYPES:
        return quarantined(f"unsupported: file type {kind!r} ({document.mime_type})")
    try:
        if kind in PDF_TYPES:
            parser = "pypdf+pdfminer+tesseract"
            elements, pages, ocr_pages = _parse_pdf(path, settings)
        elif kind in IMAGE_TYPES:
            parser = "tesseract"
            elements, pages, ocr_pages = _parse_image(path, settings)
        else:
            parser = f"unstructured:{kind}"
            elements, pages, ocr_pages = _parse_with_unstructured(path)
    except Quarantine as reason:
        return quarantined(str(reason))
    except OcrUnavailable:
        raise  # a broken installation is not the document's fault: fail the run
    except Exception as error:  # any parser failure quarantines this file only
        return quarantined(f"corrupt: {kind} parser failed ({type(error).__name__})")
    if not elements:
        return quarantined("empty: no text found", parser)
    if kind in UNSTRUCTURED_TYPES:
        strategy = "partition"
    elif ocr_pages == 0:
        strategy = "text-layer"
    else:
        strategy = "ocr" if ocr_pages >= pages else "text-layer+ocr"
    return ParsedDocument(document.doc_id, tuple(elements), parser, pages, ocr_pages, strategy=strategy)


def parse_documents(
    documents: Iterable[SourceDocument],
    settings: ParseSettings = ParseSettings(),
    on_progress: Callable[[int, ParsedDocument], None] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per document, one row per element) for a batch of files."""
    document_rows = []
    element_rows = []
    for position, document in enumerate(documents, start=1):
        started = time.perf_counter()
        parsed = parse_document(document, settings)
        confidences = [e.ocr_confidence for e in parsed.elements if e.ocr_confidence is not None]
        document_rows.append({
            "doc_id": parsed.doc_id, "parser": parsed.parser, "pages": parsed.pages,
            "ocr_pages": parsed.ocr_pages, "elements": len(parsed.elements),
            "ocr_confidence": round(sum(confidences) / len(confidences), 2) if confidences else None,
            "quarantine_reason": parsed.quarantine_reason, "strategy": parsed.strategy,
            "parse_seconds": round(time.perf_counter() - started, 4),
        })
        element_rows.extend({"doc_id": parsed.doc_id, **asdict(element)} for element in parsed.elements)
        if on_progress is not None:
            on_progress(position, parsed)
    return tables.frame(document_rows, tables.PARSED_DOCUMENTS), tables.frame(element_rows, tables.ELEMENTS)


def elements_by_document(elements: pl.DataFrame) -> dict[str, list[Element]]:
    """Rebuild each document's elements, in order, from an elements frame."""
    grouped: dict[str, list[Element]] = {}
    for row in elements.sort(["doc_id", "index"]).iter_rows(named=True):
        doc_id = row.pop("doc_id")
        grouped.setdefault(doc_id, []).append(Element(**row))
    return grouped
