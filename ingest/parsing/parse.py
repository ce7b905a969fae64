"""Parse a source file into typed elements, OCR'ing what has no text.

- PDF: pypdf says which pages carry a usable text layer. Those pages are laid
  out by pdfminer (paragraph boxes) and each box is classified by unstructured's
  text classifier; a page whose layout gives much less text than pypdf reads
  there takes pypdf's text instead (`page_extraction`); the other pages are
  rendered (pypdfium2) and OCR'd. Each element records its path (`extraction`).
  unstructured's own PDF partitioner is not used: even its `fast` strategy
  imports unstructured-inference, whose dependencies pull a multi-gigabyte
  torchvision build.
- Images (PNG, JPEG, TIFF, every frame): OCR'd with Tesseract.
- Plain text: decoded here (byte-order mark, UTF-8, else the most likely legacy
  code page, Windows-1252 on a tie) and split into paragraphs as unstructured's
  text partitioner does; Markdown and HTML get the same decoding through
  unstructured's `encoding` argument. unstructured's own guess reads Latin-1
  "crème" as Windows-1250 "crčme".
- Legacy Word and PowerPoint, OpenDocument and RTF files: converted by LibreOffice to DOCX, PPTX or
  XLSX (`ingest.parsing.convert`: in batches before the workers parse them), then read by unstructured's
  partitioner for the converted format. EPUB: converted to HTML by pandoc, then read as HTML.
- Everything else (XLS included, which unstructured reads with xlrd): unstructured's partitioners
  (no layout model involved).

A file that cannot be parsed is never fatal: the result carries a short
quarantine reason whose first word is one of the categories documented in
`ingest.parsing.limits` (encrypted, corrupt, unsupported, unavailable, too_large,
timeout, out_of_memory, empty), and the run goes on. `parse_documents` parses in this
process; `ingest.parsing.isolation` runs each file in a worker process with a
timeout and a memory cap.
"""

from __future__ import annotations

import codecs
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.core.models import Element, ParsedDocument, SourceDocument
from ingest.parsing.attachments import MESSAGE_TYPES, extract_attachment, message_attachments
from ingest.parsing.classify import (
    classify_paragraphs,
    expected_paragraphs,
    html_paragraphs,
    plain_paragraphs,
    prepared_texts,
)
from ingest.parsing.convert import (
    LIBREOFFICE_TARGETS,
    PANDOC_TYPES,
    ConversionReport,
    Converted,
    LibreOfficeConversions,
    convert_alone,
    epub_to_html,
    libreoffice_binary,
)
from ingest.parsing.language import PARTITION_LANGUAGES, document_language
from ingest.parsing.limits import ParseLimits, Quarantine
from ingest.parsing.ocr import OcrUnavailable, ocr_image

if TYPE_CHECKING:  # polars is imported where frames are built: parse workers never need it
    import polars as pl

PDF_TYPES = {"pdf"}
IMAGE_TYPES = {"png", "jpg", "jpeg", "tiff", "bmp"}
UNSTRUCTURED_TYPES = {"docx", "pptx", "xlsx", "xls", "html", "md", "txt", "eml", "msg"}
CONVERTED_TYPES = set(LIBREOFFICE_TARGETS) | PANDOC_TYPES  # converted first (ingest.parsing.convert)
PARTITIONED_TYPES = UNSTRUCTURED_TYPES | CONVERTED_TYPES  # their elements come from unstructured's partitioners
SUPPORTED_TYPES = PDF_TYPES | IMAGE_TYPES | PARTITIONED_TYPES
# 2: text decoding, long-paragraph classification, quarantine categories; 3: layout fallback; 4: the
# document's language, the classifier's sentences from spaCy's sentence recogniser; 5: pages OCR'd in grey
PARSER_VERSION = "5"
# A text page's layout (pdfminer) is replaced by its text layer (pypdf) when it holds less than this
# share of the layer's characters, judged on pages whose layer has at least LAYOUT_CHECK_MIN_CHARS
# (see page_extraction). A layout with no text at all is replaced whatever the layer's length.
LAYOUT_MIN_SHARE = 0.5
LAYOUT_CHECK_MIN_CHARS = 200
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
    paragraphs: Iterable[tuple[str, int | None, float | None]], *, ocr: bool, start: int, extraction: str
) -> list[Element]:
    """Classify plain paragraphs (text, page, ocr confidence) into typed elements, in batched passes."""
    kept = []
    for text, page, confidence in paragraphs:
        text = _normalise_whitespace(text)
        if text:
            kept.append((text, page, confidence))
    classified = classify_paragraphs([text for text, _, _ in kept])
    return [
        Element(
            index=start + position,
            category=category,
            text=text,
            page=page,
            ocr=ocr,
            ocr_confidence=round(confidence, 2) if confidence is not None else None,
            extraction=extraction,
        )
        for position, ((category, text), (_, page, confidence)) in enumerate(zip(classified, kept))
    ]


def _ocr_paragraphs(image, page: int, settings: ParseSettings):
    for paragraph in ocr_image(image, language=settings.ocr_language):
        yield paragraph.text, page, paragraph.confidence


def _visible_chars(text: str) -> int:
    """Characters that are not white space: the unit every extraction count is in."""
    return len("".join(text.split()))


def _text_layer(path: Path) -> list[str]:
    """pypdf's text of every page (its text layer), or Quarantine.

    pypdf refuses a stream that inflates past its configured limit (set from
    ParseLimits in the parse workers): that file is too large, not damaged.
    """
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Quarantine("encrypted: the PDF needs a password to open")
        return [page.extract_text() or "" for page in reader.pages]
    except Quarantine:
        raise
    except LimitReachedError as error:
        raise Quarantine(f"too_large: a PDF stream or structure exceeds the parser's limit ({error})") from error
    except (PdfReadError, ValueError, KeyError, OSError) as error:
        raise Quarantine(f"corrupt: unreadable PDF ({type(error).__name__})") from error


def page_extraction(layout_chars: int, text_layer_chars: int, min_text_layer_chars: int) -> str:
    """Which path a PDF page's text comes from: "layout", "text-layer" or "ocr".

    A page whose text layer (pypdf) has fewer than `min_text_layer_chars` is OCR'd. Otherwise
    pdfminer's layout is kept unless it fell short of the text layer: nothing at all, or, where
    the layer holds at least LAYOUT_CHECK_MIN_CHARS, less than LAYOUT_MIN_SHARE of its characters.
    pdfminer drops whole pages silently (text drawn inside a form XObject comes back as a figure,
    not as text boxes); on a short page the two counts differ too much by chance to judge.
    """
    if text_layer_chars < min_text_layer_chars:
        return "ocr"
    if layout_chars == 0 or (text_layer_chars >= LAYOUT_CHECK_MIN_CHARS
                             and layout_chars < LAYOUT_MIN_SHARE * text_layer_chars):
        return "text-layer"
    return "layout"


def _text_layer_paragraphs(text: str) -> list[str]:
    """A page's text-layer text in paragraphs: split at blank lines (pypdf keeps few), lines rejoined."""
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text) if block.strip()]


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


def _layout_paragraphs(path: Path, pages: list[int]) -> dict[int, list[str]]:
    """0-based page -> paragraphs of pdfminer's text boxes, for the given pages."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer

    found: dict[int, list[str]] = {page: [] for page in pages}
    if not pages:
        return found
    # One pass over the file; a page pdfminer does not yield keeps no paragraphs (and falls back).
    for page_index, layout in zip(pages, extract_pages(path, page_numbers=pages, laparams=LAParams()), strict=False):
        for item in layout:
            if isinstance(item, LTTextContainer):
                found[page_index].extend(_split_box_by_font(item))
    return found


@dataclass(frozen=True, slots=True)
class _PdfResult:
    elements: list[Element]
    pages: int
    ocr_pages: int
    layout_pages: int
    fallback_pages: int
    text_layer_chars: int


def _parse_pdf(path: Path, settings: ParseSettings) -> _PdfResult:
    text_layer = _text_layer(path)
    layer_chars = [_visible_chars(text) for text in text_layer]
    text_pages = [number for number, chars in enumerate(layer_chars) if chars >= settings.min_text_layer_chars]
    layout = _layout_paragraphs(path, text_pages)
    by_page: dict[int, list[Element]] = {}
    chosen: dict[int, str] = {}
    for page_index in text_pages:
        layout_chars = sum(_visible_chars(text) for text in layout[page_index])
        chosen[page_index] = page_extraction(layout_chars, layer_chars[page_index], settings.min_text_layer_chars)
    for extraction in ("layout", "text-layer"):  # the text pages' paragraphs are classified together
        paragraphs = [(text, page_index + 1, None) for page_index in text_pages if chosen[page_index] == extraction
                      for text in (layout[page_index] if extraction == "layout"
                                   else _text_layer_paragraphs(text_layer[page_index]))]
        for element in _elements_from_paragraphs(paragraphs, ocr=False, start=0, extraction=extraction):
            by_page.setdefault(element.page, []).append(element)
    scanned = [number for number in range(len(text_layer)) if number not in chosen]
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
                image = page.render(scale=scale, grayscale=True).to_pil()  # what Tesseract reads anyway
                paragraphs = list(_ocr_paragraphs(image, page_index + 1, settings))
                by_page[page_index + 1] = _elements_from_paragraphs(paragraphs, ocr=True, start=0, extraction="ocr")
        finally:
            document.close()
    ordered = [element for page in sorted(by_page) for element in by_page[page]]
    return _PdfResult(_renumber(ordered), len(text_layer), len(scanned),
                      layout_pages=sum(how == "layout" for how in chosen.values()),
                      fallback_pages=sum(how == "text-layer" for how in chosen.values()),
                      text_layer_chars=sum(layer_chars[page] for page in text_pages))


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
    return _elements_from_paragraphs(paragraphs, ocr=True, start=0, extraction="ocr"), pages, pages


def _parse_text(path: Path) -> tuple[list[Element], int, int]:
    """A plain text file's paragraphs, split and classified as unstructured's partition_text does.

    Done here rather than by partition_text so that the decoding is ours (see the
    module docstring) and a huge paragraph is classified by its beginning only.
    """
    _, text = _read_text(path)
    elements = []
    for category, paragraph in classify_paragraphs(plain_paragraphs(text)):
        paragraph = _clean(paragraph)
        if paragraph:
            elements.append(Element(index=len(elements), category=category, text=paragraph,
                                    extraction="partition"))
    return elements, 1, 0


def _parse_with_unstructured(path: Path, kind: str) -> tuple[list[Element], int, int]:
    from unstructured.partition.auto import partition

    text = None
    if kind in MESSAGE_TYPES:
        # Its attachments are documents of their own (ingest.parsing.attachments); a message holding
        # too many, or nested too deep, is refused here as it was not listed.
        message_attachments(path.read_bytes(), kind)
        kind_options = {"process_attachments": False}
    elif kind in ("md", "html"):
        encoding, text = _read_text(path)
        kind_options = {"encoding": encoding}
    else:
        kind_options = {}
    with prepared_texts(expected_paragraphs(path, kind, text)):
        return _partitioned_elements(partition(filename=str(path), languages=PARTITION_LANGUAGES, **kind_options))


def _partitioned_elements(parsed: list) -> tuple[list[Element], int, int]:
    """(elements, pages, OCR'd pages) of unstructured's elements."""
    elements = []
    pages = set()
    subject = _clean(getattr(parsed[0].metadata, "subject", None) or "") if parsed else ""
    if subject:  # an e-mail's subject is its title
        elements.append(Element(index=0, category="Title", text=subject, extraction="partition"))
    for item in parsed:
        text = _clean(item.text or "")
        if not text or item.category in ("PageBreak",):
            continue
        page = getattr(item.metadata, "page_number", None)
        if page is not None:
            pages.add(page)
        depth = getattr(item.metadata, "category_depth", None) or 0
        elements.append(Element(index=len(elements), category=item.category, text=text,
                                page=page, depth=int(depth), extraction="partition"))
    return elements, max(pages, default=1), 0


def _parse_converted(document: SourceDocument, converted: Converted | None) -> tuple[list[Element], int, int]:
    """A LibreOffice type, from its converted file; converted here, alone, when no batch did it."""
    target = LIBREOFFICE_TARGETS[document.file_type]
    if converted is not None and converted.failure:
        raise Quarantine(converted.failure)
    if converted is not None and converted.path:
        return _parse_with_unstructured(Path(converted.path), target)
    limits = ParseLimits()
    with tempfile.TemporaryDirectory(prefix="ingest-convert-") as workdir:
        path = convert_alone(document, target, Path(workdir), timeout_seconds=limits.timeout_seconds,
                             memory_mb=limits.memory_mb, own_group=True)
        return _parse_with_unstructured(path, target)


def _parse_epub(path: Path) -> tuple[list[Element], int, int]:
    from unstructured.partition.html import partition_html

    html = epub_to_html(path)
    with prepared_texts(html_paragraphs(html)):
        return _partitioned_elements(partition_html(text=html, languages=PARTITION_LANGUAGES))


def _renumber(elements: list[Element]) -> list[Element]:
    from dataclasses import replace

    return [replace(element, index=index) for index, element in enumerate(elements)]


def parse_document(document: SourceDocument, settings: ParseSettings = ParseSettings(),
                   converted: Converted | None = None) -> ParsedDocument:
    """Elements of one file, or a quarantined result with a short reason.

    A LibreOffice type is read from `converted` (a batch's conversion, `ingest.parsing.convert`); without
    it, it is converted here, alone. An e-mail attachment is taken out of its message into a private
    temporary folder first (`ingest.parsing.attachments`).
    """
    kind = document.file_type
    path = Path(document.path)

    def quarantined(reason: str, parser: str = kind) -> ParsedDocument:
        return ParsedDocument(document.doc_id, (), parser, 0, 0, quarantine_reason=reason)

    if document.member:
        with tempfile.TemporaryDirectory(prefix="ingest-attachment-") as folder:
            try:
                extracted = extract_attachment(document, Path(folder))
            except Quarantine as reason:
                return quarantined(str(reason))
            return parse_document(extracted, settings, converted)

    if document.size == 0:
        return quarantined("empty: the file has no content")
    if kind not in SUPPORTED_TYPES:
        return quarantined(f"unsupported: file type {kind!r} ({document.mime_type})")
    pdf = None
    try:
        if kind in PDF_TYPES:
            parser = "pypdf+pdfminer+tesseract"
            pdf = _parse_pdf(path, settings)
            elements, pages, ocr_pages = pdf.elements, pdf.pages, pdf.ocr_pages
        elif kind in IMAGE_TYPES:
            parser = "tesseract"
            elements, pages, ocr_pages = _parse_image(path, settings)
        elif kind == "txt":
            parser = f"unstructured:{kind}"
            elements, pages, ocr_pages = _parse_text(path)
        elif kind in LIBREOFFICE_TARGETS:
            parser = f"libreoffice+unstructured:{LIBREOFFICE_TARGETS[kind]}"
            elements, pages, ocr_pages = _parse_converted(document, converted)
        elif kind in PANDOC_TYPES:
            parser = "pandoc+unstructured:html"
            elements, pages, ocr_pages = _parse_epub(path)
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
    if kind in PARTITIONED_TYPES:
        strategy = "partition"
    elif ocr_pages == 0:
        strategy = "text-layer"
    else:
        strategy = "ocr" if ocr_pages >= pages else "text-layer+ocr"
    language = document_language(element.text for element in elements)
    if pdf is None:
        return ParsedDocument(document.doc_id, tuple(elements), parser, pages, ocr_pages, strategy=strategy,
                              language=language)
    return ParsedDocument(document.doc_id, tuple(elements), parser, pages, ocr_pages, strategy=strategy,
                          layout_pages=pdf.layout_pages, fallback_pages=pdf.fallback_pages,
                          text_layer_chars=pdf.text_layer_chars, language=language)


def parse_documents(
    documents: Iterable[SourceDocument],
    settings: ParseSettings = ParseSettings(),
    on_progress: Callable[[int, ParsedDocument], None] | None = None,
    on_conversions: Callable[[ConversionReport], None] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per document, one row per element) for a batch of files, parsed in this process.

    The LibreOffice types are converted first, in batches (`ingest.parsing.convert`);
    `on_conversions(report)` is then called with what that cost.
    `ingest.parsing.isolation.parse_documents_isolated` parses each file in a worker process under
    limits instead; the pipeline always uses it.
    """
    documents = list(documents)
    results = []
    with LibreOfficeConversions(ParseLimits()) as conversions:
        converted: dict[int, Converted] = {}
        batched = ([position for position, document in enumerate(documents)
                    if document.file_type in LIBREOFFICE_TARGETS] if libreoffice_binary() else [])
        if batched:
            conversions.convert([documents[position] for position in batched],
                                lambda index, result: converted.__setitem__(batched[index], result))
            if on_conversions is not None:
                on_conversions(conversions.report)
        for position, document in enumerate(documents):
            started = time.perf_counter()
            parsed = parse_document(document, settings, converted.get(position))
            results.append((parsed, time.perf_counter() - started))
            if on_progress is not None:
                on_progress(position + 1, parsed)
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
            "layout_pages": parsed.layout_pages, "fallback_pages": parsed.fallback_pages,
            "text_chars": sum(_visible_chars(e.text) for e in parsed.elements if not e.ocr),
            "ocr_chars": sum(_visible_chars(e.text) for e in parsed.elements if e.ocr),
            "text_layer_chars": parsed.text_layer_chars, "language": parsed.language,
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
