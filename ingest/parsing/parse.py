"""Parse a source file into typed elements, OCR'ing what has no text.

- PDF: pypdf says which pages carry a usable text layer. Those pages are laid
  out by pdfminer (paragraph boxes) and each box is classified by unstructured's
  text classifier; the other pages are rendered (pypdfium2) and OCR'd.
  unstructured's own PDF partitioner is not used: even its `fast` strategy
  imports unstructured-inference, whose dependencies pull a multi-gigabyte
  torchvision build.
- Images (PNG, JPEG, TIFF, every frame): OCR'd with Tesseract.
- Plain text: decoded here (byte-order mark, UTF-8, else the most likely legacy
  code page, Windows-1252 on a tie) and split into paragraphs as unstructured's
  text partitioner does; Markdown and HTML get the same decoding through
  unstructured's `encoding` argument. unstructured's own guess reads Latin-1
  "crème" as Windows-1250 "crčme".
- Everything else: unstructured's partitioners (no layout model involved).

A file that cannot be parsed is never fatal: the result carries a short
quarantine reason whose first word is one of the categories documented in
`ingest.parsing.limits` (encrypted, corrupt, unsupported, too_large, timeout,
out_of_memory, empty), and the run goes on. `parse_documents` parses in this
process; `ingest.parsing.isolation` runs each file in a worker process with a
timeout and a memory cap.
"""

from __future__ import annotations

import codecs
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.core.models import Element, ParsedDocument, SourceDocument
from ingest.parsing.limits import Quarantine
from ingest.parsing.ocr import OcrUnavailable, ocr_image

if TYPE_CHECKING:  # polars is imported where frames are built: parse workers never need it
    import polars as pl

PDF_TYPES = {"pdf"}
IMAGE_TYPES = {"png", "jpg", "jpeg", "tiff", "bmp"}
UNSTRUCTURED_TYPES = {"docx", "pptx", "xlsx", "html", "md", "txt", "eml", "msg"}
SUPPORTED_TYPES = PDF_TYPES | IMAGE_TYPES | UNSTRUCTURED_TYPES
PARSER_VERSION = "2"  # 2: text decoding, long-paragraph classification, quarantine categories
# unstructured's classifier runs spaCy over the whole paragraph, three times when it is longer
# than spaCy's cache (8,192 characters): minutes for a 20 MB one-line file. A paragraph is
# classified by its first CLASSIFY_CHARS characters, which decide it as well as the rest would.
CLASSIFY_CHARS = 8192
BYTE_ORDER_MARKS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True, slots=True)
class ParseSettings:
    ocr_language: str = "eng"
    ocr_dpi: int = 200
    # A page whose text layer has fewer visible characters than this is OCR'd.
    min_text_layer_chars: int = 16

    @property
    def version(self) -> str:
        return f"parse-{PARSER_VERSION}/ocr-{self.ocr_language}-{self.ocr_dpi}/min-{self.min_text_layer_chars}"


def _classify(text: str) -> tuple[str, str]:
    """(category, text) of a paragraph by unstructured's heuristics, judged on its first CLASSIFY_CHARS."""
    from unstructured.partition.text import element_from_text

    head, tail = text[:CLASSIFY_CHARS], text[CLASSIFY_CHARS:]
    classified = element_from_text(head)
    return classified.category, (classified.text or head) + tail  # the classifier may strip a bullet


def detect_encoding(data: bytes) -> str | None:
    """The text encoding of a file's bytes, or None when it does not look like text.

    A byte-order mark decides; then strict UTF-8 (unless there are NUL bytes, which
    BOM-less UTF-16 has); then charset_normalizer's best guess, except that
    Windows-1252 wins a tie: Western European text in Latin-1 is the common legacy
    case, and charset_normalizer ranks Windows-1250 first when it cannot tell them apart.
    """
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return encoding
    if b"\x00" not in data:
        try:
            data.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    best = matches[0]
    tied = {name for match in matches if (match.chaos, match.coherence) == (best.chaos, best.coherence)
            for name in (match.encoding, *match.could_be_from_charset)}
    return "cp1252" if "cp1252" in tied else best.encoding


def _read_text(path: Path) -> tuple[str, str]:
    """(encoding, text) of a text file, or Quarantine when it is not text in any encoding."""
    data = path.read_bytes()
    encoding = detect_encoding(data)
    if encoding is None:
        raise Quarantine("corrupt: the text encoding cannot be determined")
    return encoding, data.decode(encoding, errors="replace")


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
        category, text = _classify(text)
        elements.append(
            Element(
                index=start + len(elements),
                category=category,
                text=text,
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
    """(page count, 0-based pages with a usable text layer), or Quarantine.

    pypdf refuses a stream that inflates past its configured limit (set from
    ParseLimits in the parse workers): that file is too large, not damaged.
    """
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

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
    except LimitReachedError as error:
        raise Quarantine(f"too_large: a PDF stream or structure exceeds the parser's limit ({error})") from error
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
        from PIL import Image

        scale = settings.ocr_dpi / 72
        document = pypdfium2.PdfDocument(str(path))
        try:
            for page_index in scanned:
                page = document[page_index]
                width, height = page.get_size()  # points
                pixels = int(width * scale) * int(height * scale)
                if Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS:  # Pillow's guard, set by the limits
                    raise Quarantine(f"too_large: page {page_index + 1} would render to {pixels:,} pixels "
                                     f"(limit {Image.MAX_IMAGE_PIXELS:,})")
                image = page.render(scale=scale).to_pil()
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
    except Image.DecompressionBombError as error:
        raise Quarantine(f"too_large: {error}") from error
    except (UnidentifiedImageError, OSError) as error:
        raise Quarantine(f"corrupt: unreadable image ({type(error).__name__})") from error
    return _elements_from_paragraphs(paragraphs, ocr=True, start=0), pages, pages


def _parse_text(path: Path) -> tuple[list[Element], int, int]:
    """A plain text file's paragraphs, split and classified as unstructured's partition_text does.

    Done here rather than by partition_text so that the decoding is ours (see the
    module docstring) and a huge paragraph is classified by its beginning only.
    """
    from unstructured.cleaners.core import auto_paragraph_grouper
    from unstructured.nlp.patterns import PARAGRAPH_PATTERN, UNICODE_BULLETS_RE

    _, text = _read_text(path)
    elements = []
    for paragraph in re.split(PARAGRAPH_PATTERN, auto_paragraph_grouper(text).strip()):
        paragraph = paragraph.strip()
        if not paragraph or (len(paragraph) == 1 and UNICODE_BULLETS_RE.match(paragraph)):
            continue  # nothing, or a lone bullet
        category, paragraph = _classify(paragraph)
        paragraph = _clean(paragraph)
        if paragraph:
            elements.append(Element(index=len(elements), category=category, text=paragraph))
    return elements, 1, 0


def _parse_with_unstructured(path: Path, kind: str) -> tuple[list[Element], int, int]:
    from unstructured.partition.auto import partition

    if kind in ("eml", "msg"):
        kind_options = {"process_attachments": False}
    elif kind in ("md", "html"):
        kind_options = {"encoding": _read_text(path)[0]}
    else:
        kind_options = {}
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
        elif kind == "txt":
            parser = f"unstructured:{kind}"
            elements, pages, ocr_pages = _parse_text(path)
        else:
            parser = f"unstructured:{kind}"
            elements, pages, ocr_pages = _parse_with_unstructured(path, kind)
    except Quarantine as reason:
        return quarantined(str(reason))
    except OcrUnavailable:
        raise  # a broken installation is not the document's fault: fail the run
    except MemoryError:  # under a worker's memory cap (ingest.parsing.isolation)
        return quarantined(f"out_of_memory: the {kind} parser ran out of memory")
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
    """(one row per document, one row per element) for a batch of files, parsed in this process.

    `ingest.parsing.isolation.parse_documents_isolated` parses each file in a worker process under
    limits instead; the pipeline always uses it.
    """
    results = []
    for position, document in enumerate(documents, start=1):
        started = time.perf_counter()
        parsed = parse_document(document, settings)
        results.append((parsed, time.perf_counter() - started))
        if on_progress is not None:
            on_progress(position, parsed)
    return parsed_frames(results)


def parsed_frames(results: Iterable[tuple[ParsedDocument, float | None]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(documents frame, elements frame) of parsed documents with their parse seconds, in order."""
    from ingest.core import tables

    document_rows = []
    element_rows = []
    for parsed, seconds in results:
        confidences = [e.ocr_confidence for e in parsed.elements if e.ocr_confidence is not None]
        document_rows.append({
            "doc_id": parsed.doc_id, "parser": parsed.parser, "pages": parsed.pages,
            "ocr_pages": parsed.ocr_pages, "elements": len(parsed.elements),
            "ocr_confidence": round(sum(confidences) / len(confidences), 2) if confidences else None,
            "quarantine_reason": parsed.quarantine_reason, "strategy": parsed.strategy,
            "parse_seconds": round(seconds, 4) if seconds is not None else None,
        })
        element_rows.extend({"doc_id": parsed.doc_id, **asdict(element)} for element in parsed.elements)
    return tables.frame(document_rows, tables.PARSED_DOCUMENTS), tables.frame(element_rows, tables.ELEMENTS)


def elements_by_document(elements: pl.DataFrame) -> dict[str, list[Element]]:
    """Rebuild each document's elements, in order, from an elements frame."""
    grouped: dict[str, list[Element]] = {}
    for row in elements.sort(["doc_id", "index"]).iter_rows(named=True):
        doc_id = row.pop("doc_id")
        grouped.setdefault(doc_id, []).append(Element(**row))
    return grouped
