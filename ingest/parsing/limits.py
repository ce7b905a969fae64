"""Resource limits for parsing one document, and the checks made before a parser opens it.

Every quarantined document's reason starts with one of these categories, then
':' and a short explanation. Only `timeout` may be transient: retrying the others
gives the same result until the file, the parser or the limits change.

- encrypted:     the file needs a password to open (PDF user password, encrypted Office or
                 OpenDocument file, zip member, an EPUB under DRM). Retry: no; ask for an unprotected copy.
- corrupt:       the file is damaged or malformed: truncated, not what its type says, a parser
                 failed on it or its process died, LibreOffice could not open it, or an Office XML
                 part declares a DOCTYPE or entities (the Office format forbids them; they are how XML
                 external-entity and entity-expansion attacks start; OpenDocument and EPUB parts may
                 declare a DOCTYPE but not entities). Retry: no.
- unsupported:   a file type or feature we do not read (a .zip, an unusual zip compression method).
                 Retry: no, unless a parser for it is added (the next run retries a type that became
                 supported).
- unavailable:   the type needs a program that is not installed here (LibreOffice for legacy Office,
                 OpenDocument and RTF files, pandoc for EPUB); the reason says what to install.
                 Retry: yes, every run tries again, so installing the program is enough.
- too_large:     over a limit checked before or during parsing: file size, page count, image
                 pixels (Pillow's decompression-bomb guard), zip expansion (bytes or ratio), a PDF
                 stream inflating past its budget, HTML nested deeper than the parser goes, an
                 e-mail with too many attachments or messages attached too deep.
                 Retry: no, unless the limits are raised.
- timeout:       parsing took longer than the time limit; the worker was killed. Retry: may help
                 when the machine was busy, though a file that hangs its parser times out again.
- out_of_memory: parsing needed more memory than the worker's cap (MemoryError), or the worker was
                 killed by the system (SIGKILL, which is what the kernel's OOM killer sends).
                 Retry: no, unless the cap is raised.
- empty:         no text was found: a zero-byte file, a blank page or image. Retry: no.
"""

from __future__ import annotations

import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingest.core.models import SourceDocument

CATEGORIES = ("encrypted", "corrupt", "unsupported", "unavailable", "too_large", "timeout", "out_of_memory",
              "empty")
# Quarantines the next run tries again: the machine may have been busy, or the program installed since.
RETRIED_CATEGORIES = ("timeout", "unavailable")
OFFICE_TYPES = {"docx", "pptx", "xlsx"}  # zip packages of XML parts
# Zip packages of XML parts that may declare a DOCTYPE (older OpenDocument manifests, EPUB's NCX) but,
# like Office files, never entities.
PACKAGE_TYPES = {"odt", "ods", "odp", "epub"}
# Legacy Office files are OLE compound files; each keeps its content in one of these streams.
LEGACY_OFFICE_STREAMS = {"doc": ("WordDocument",), "xls": ("Workbook", "Book"), "ppt": ("PowerPoint Document",)}
LEGACY_OFFICE_NAMES = {"doc": "Word 97-2003 document", "xls": "Excel 97-2003 workbook",
                       "ppt": "PowerPoint 97-2003 presentation"}
# An EPUB whose encryption.xml names one of these ciphers has encrypted content (DRM); fonts obfuscated
# by the IDPF or Adobe algorithm are not.
EPUB_CONTENT_CIPHERS = (b"2001/04/xmlenc#aes", b"2001/04/xmlenc#tripledes", b"2009/xmlenc11#aes")
HTML_TYPES = {"html"}
IMAGE_TYPES = {"png", "jpg", "jpeg", "tiff", "bmp"}
# Zip members whose names end so are XML; only they are scanned for DOCTYPE and ENTITY
# declarations (an HTML alternative chunk inside a .docx may well say <!DOCTYPE html>).
XML_SUFFIXES = (".xml", ".rels", ".vml")
# A member this small (inflated) is never refused for its ratio: tiny, repetitive XML parts
# compress more than 100:1 and cannot hurt.
RATIO_GRACE_BYTES = 1 << 20
INFLATE_CHUNK_BYTES = 1 << 20
# The declarations are looked for in every encoding an XML parser detects from the first bytes.
_XML_CODECS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
_DECLARATIONS = tuple(word.encode(codec) for word in ("<!doctype", "<!entity") for codec in _XML_CODECS)
_ENTITY_DECLARATIONS = tuple("<!entity".encode(codec) for codec in _XML_CODECS)


class Quarantine(Exception):
    """A document that cannot be ingested; str(self) is the short reason."""



@dataclass(frozen=True, slots=True)
class ParseLimits:
    """How much one document may cost to parse, and how many workers parse at once.

    memory_mb caps each worker's address space (RLIMIT_AS), not only what it
    writes to: a worker with the parsers and the spaCy model loaded maps about
    0.6 GB before it reads a file, so the cap leaves roughly 0.9 GB for the document.
    """

    timeout_seconds: float = 120.0  # wall clock, per document
    memory_mb: int = 2048  # per worker (and each Tesseract it starts); an idle worker holds ~1.3 GB
    max_file_mb: int = 200
    max_pages: int = 2000  # PDF pages or image frames
    max_image_pixels: int = 100_000_000  # Pillow's guard (its default is ~89 M); also for rendered PDF pages
    max_zip_uncompressed_mb: int = 1024  # all members of a DOCX/PPTX/XLSX together, counted as inflated
    max_zip_ratio: int = 100  # inflated / compressed, per member and for the whole file
    max_pdf_stream_mb: int = 100  # one PDF stream after all its filters (pypdf's own default is 75)
    workers: int = 2
    tasks_per_worker: int = 100  # a worker is replaced after this many documents, to bound leaks

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0 or self.workers < 1 or self.tasks_per_worker < 1 or self.memory_mb < 1:
            raise ValueError(f"timeout, memory, workers and tasks per worker must be positive: {self}")

    @property
    def version(self) -> str:
        """The limits that can change a document's outcome, for the parser's settings version."""
        return (f"limits-{self.timeout_seconds:g}s-{self.memory_mb}mb-file{self.max_file_mb}mb"
                f"-{self.max_pages}p-{self.max_image_pixels}px-zip{self.max_zip_uncompressed_mb}mb"
                f"x{self.max_zip_ratio}-stream{self.max_pdf_stream_mb}mb")

    def pdf_configuration(self) -> dict[str, int]:
        """pypdf configuration overrides that hold every decoded stream to max_pdf_stream_mb."""
        budget = self.max_pdf_stream_mb << 20
        return {
            "zlib_maximum_output_length": budget, "lzw_maximum_output_length": budget,
            "run_length_maximum_output_length": budget, "jbig2_maximum_output_length": budget,
            "brotli_maximum_output_length": budget, "array_based_stream_maximum_output_length": budget,
            "maximum_declared_stream_length": budget, "image_maximum_buffer_size": budget,
            # the work of every filter of a stream adds up: four budgets allow a few nested filters
            "stream_decoding_work_maximum_length": 4 * budget,
        }


def check_before_parsing(document: SourceDocument, limits: ParseLimits) -> None:
    """Raise Quarantine when the file is over a limit or hostile, before any parser opens it.

    Runs in the parse worker, under its timeout and memory cap: opening a PDF's
    page tree or inflating a zip is already work a hostile file can abuse.
    """
    path = Path(document.path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise Quarantine(f"corrupt: the file cannot be read ({type(error).__name__})") from error
    if size > limits.max_file_mb << 20:
        raise Quarantine(f"too_large: the file has {size / (1 << 20):.0f} MB (limit {limits.max_file_mb} MB)")
    if size == 0:
        return  # parse_document says empty
    kind = document.file_type
    if kind == "pdf":
        _check_pdf(path, limits)
    elif kind in IMAGE_TYPES:
        _check_image(path, limits)
    elif kind in OFFICE_TYPES:
        _check_office(path, limits)
    elif kind in PACKAGE_TYPES:
        _check_package(path, kind, limits)
    elif kind in LEGACY_OFFICE_STREAMS:
        _check_legacy_office(path, kind)
    elif kind == "rtf":
        _check_rtf(path)

    elif kind in HTML_TYPES:
        _check_html(path)


def check_converted(path: Path, limits: ParseLimits) -> None:
    """The checks of a DOCX/PPTX/XLSX, on a file LibreOffice converted, before the parser opens it."""
    size = path.stat().st_size
    if size > limits.max_file_mb << 20:
        raise Quarantine(f"too_large: the converted file has {size / (1 << 20):.0f} MB "
                         f"(limit {limits.max_file_mb} MB)")
    _check_office(path, limits)


def _check_pdf(path: Path, limits: ParseLimits) -> None:
    """Page count from the page tree (no content stream is decoded), and encryption."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError

    try:
        with apply_configuration(**limits.pdf_configuration()):
            reader = PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise Quarantine("encrypted: the PDF needs a password to open")
            pages = len(reader.pages)
    except Quarantine:
        raise
    except LimitReachedError as error:
        raise Quarantine(f"too_large: the PDF exceeds the parser's limits ({error})") from error
    except MemoryError:
        raise
    except Exception as error:  # pypdf raises many kinds on damaged files, RecursionError included
        raise Quarantine(f"corrupt: unreadable PDF ({type(error).__name__})") from error
    if pages > limits.max_pages:
        raise Quarantine(f"too_large: the PDF has {pages} pages (limit {limits.max_pages})")


def _check_image(path: Path, limits: ParseLimits) -> None:
    """Pixel count of every frame against Pillow's decompression-bomb guard, and the frame count."""
    from PIL import Image, UnidentifiedImageError

    previous_limit = Image.MAX_IMAGE_PIXELS  # a worker sets it for good (ingest.parsing.isolation); leave callers' alone
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and refuses only above twice that
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                frames = getattr(image, "n_frames", 1)
                if frames > limits.max_pages:
                    raise Quarantine(f"too_large: the image has {frames} frames (limit {limits.max_pages})")
                for frame in range(frames):
                    image.seek(frame)
                    width, height = image.size
                    if width * height > limits.max_image_pixels:
                        raise Quarantine(f"too_large: frame {frame + 1} has {width} x {height} pixels "
                                         f"(limit {limits.max_image_pixels:,})")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise Quarantine(f"too_large: {error}") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise Quarantine(f"corrupt: unreadable image ({type(error).__name__})") from error
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit


def _check_html(path: Path) -> None:
    """Refuse HTML beyond libxml2's limits (nesting deeper than 256 levels, for one).

    libxml2 stops there and unstructured would index what came before, or report
    an empty page, without saying that the rest was lost.
    """
    from lxml import etree

    parser = etree.HTMLParser(remove_comments=True, remove_pis=True)  # as unstructured parses it
    try:
        etree.fromstring(path.read_bytes(), parser)
    except (etree.XMLSyntaxError, ValueError):
        return  # unstructured decides what an unparsable page yields
    for entry in parser.error_log:
        if entry.type_name == "ERR_RESOURCE_LIMIT" or "Excessive depth" in entry.message:
            raise Quarantine(f"too_large: the HTML exceeds the parser's limits ({entry.message.strip()})")


def _check_office(path: Path, limits: ParseLimits) -> None:
    """Inflate every member of an Office zip package, counting real bytes, before a parser opens it.

    The sizes in the zip's directory are not trusted (a bomb lies about them):
    each member is inflated here in chunks and its bytes counted against the
    byte budget and the ratio budget, stopping at the first overrun. XML members
    that declare a DOCTYPE or entities are refused.
    """
    if _is_encrypted_office_file(path):
        raise Quarantine("encrypted: the Office file is password-protected")
    _scan_zip(path, limits, "Office files", _DECLARATIONS, "a DOCTYPE or entities, which Office files never do")


def _check_package(path: Path, kind: str, limits: ParseLimits) -> None:
    """An OpenDocument file or EPUB: the zip checks of Office files (entities refused, a DOCTYPE allowed),
    and encryption: an OpenDocument manifest with encryption data, an EPUB with encrypted content."""
    if kind == "epub":
        family, watched = "EPUB files", {"meta-inf/encryption.xml": EPUB_CONTENT_CIPHERS}
    else:
        family, watched = "OpenDocument files", {"meta-inf/manifest.xml": (b"encryption-data",)}
    found = _scan_zip(path, limits, family, _ENTITY_DECLARATIONS, f"entities, which {family} never do", watched)
    if found and kind == "epub":
        raise Quarantine("encrypted: the EPUB's content is encrypted (DRM)")
    if found:
        raise Quarantine("encrypted: the OpenDocument file is password-protected")


def _scan_zip(path: Path, limits: ParseLimits, family: str, declarations: tuple[bytes, ...], refused: str,
              watched: dict[str, tuple[bytes, ...]] | None = None) -> set[str]:
    """Inflate every member against the byte and ratio budgets; refuse XML members that contain one of
    `declarations`. Returns the `watched` members (lower-case names) that contain one of their patterns."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise Quarantine(f"corrupt: not a zip package ({family} are zip archives)") from error
    watched = watched or {}
    found: set[str] = set()
    file_size = max(path.stat().st_size, 1)
    budget = limits.max_zip_uncompressed_mb << 20
    total = 0
    with archive, path.open("rb") as handle:
        for member in archive.infolist():
            if member.is_dir():
                continue
            if member.flag_bits & 0x1:
                raise Quarantine(f"encrypted: zip member {member.filename} is encrypted")
            name = member.filename.lower()
            scanner = _PatternScanner(declarations) if name.endswith(XML_SUFFIXES) else None
            watcher = _PatternScanner(watched[name]) if name in watched else None
            inflated = 0
            for chunk in _inflate(handle, member):
                inflated += len(chunk)
                total += len(chunk)
                if total > budget:
                    raise Quarantine(f"too_large: the zip inflates past {limits.max_zip_uncompressed_mb} MB "
                                     f"(stopped in {member.filename})")
                if inflated > RATIO_GRACE_BYTES and inflated > limits.max_zip_ratio * max(member.compress_size, 1):
                    raise Quarantine(f"too_large: zip member {member.filename} inflates more than "
                                     f"{limits.max_zip_ratio}:1 (declared {member.file_size} bytes)")
                if total > RATIO_GRACE_BYTES and total > limits.max_zip_ratio * file_size:
                    raise Quarantine(f"too_large: the zip inflates more than {limits.max_zip_ratio}:1")
                if scanner is not None and scanner.found(chunk):
                    raise Quarantine(f"corrupt: XML part {member.filename} declares {refused}")
                if watcher is not None and watcher.found(chunk):
                    found.add(name)
    return found


def _check_legacy_office(path: Path, kind: str) -> None:
    """A legacy Office file is an OLE compound file with its content stream, and not password-protected."""
    import msoffcrypto
    import olefile

    name, streams = LEGACY_OFFICE_NAMES[kind], LEGACY_OFFICE_STREAMS[kind]
    try:
        if not olefile.isOleFile(str(path)):
            raise Quarantine(f"corrupt: not a {name} (no compound file header)")
        with olefile.OleFileIO(str(path)) as ole:
            if ole.exists("EncryptedPackage"):  # an encrypted DOCX/PPTX/XLSX under a legacy name
                raise Quarantine("encrypted: the Office file is password-protected")
            if not any(ole.exists(stream) for stream in streams):
                raise Quarantine(f"corrupt: not a {name} (no {streams[0]} stream)")
    except (Quarantine, MemoryError):
        raise
    except Exception as error:  # olefile raises many kinds on damaged files
        raise Quarantine(f"corrupt: unreadable {name} ({type(error).__name__})") from error
    try:
        with path.open("rb") as handle:
            encrypted = msoffcrypto.OfficeFile(handle).is_encrypted()
    except MemoryError:
        raise
    except Exception:  # a structure msoffcrypto does not know: LibreOffice decides
        encrypted = False
    if encrypted:
        raise Quarantine(f"encrypted: the {name} is password-protected")


def _check_rtf(path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(64).lstrip()
    if not head.startswith(b"{\\rtf"):
        raise Quarantine("corrupt: not an RTF document (it does not start with {\\rtf)")


def _is_encrypted_office_file(path: Path) -> bool:
    """A password-protected DOCX/PPTX/XLSX is an OLE compound file holding an EncryptedPackage stream."""
    import olefile

    try:
        if not olefile.isOleFile(str(path)):
            return False
        with olefile.OleFileIO(str(path)) as ole:
            return ole.exists("EncryptedPackage")
    except (OSError, ValueError):
        return False


def _inflate(handle: BinaryIO, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's real content in chunks of at most INFLATE_CHUNK_BYTES, read from its raw data.

    zipfile's own reader stops at the declared size, which is the number a bomb lies about.
    """
    raw = _raw_data(handle, member)
    if member.compress_type == zipfile.ZIP_STORED:
        yield from raw
        return
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise Quarantine(f"unsupported: zip member {member.filename} uses compression method "
                         f"{member.compress_type}")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as zip stores it
    try:
        for block in raw:
            pending = block
            while pending and not inflater.eof:
                chunk = inflater.decompress(pending, INFLATE_CHUNK_BYTES)
                pending = inflater.unconsumed_tail
                if chunk:
                    yield chunk
        while not inflater.eof:  # output still held back by the chunk size
            chunk = inflater.decompress(inflater.unconsumed_tail, INFLATE_CHUNK_BYTES)
            if not chunk:
                break
            yield chunk
    except zlib.error as error:
        raise Quarantine(f"corrupt: zip member {member.filename} does not inflate ({error})") from error
    if not inflater.eof:
        raise Quarantine(f"corrupt: zip member {member.filename} is truncated")


def _raw_data(handle: BinaryIO, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's stored (compressed) bytes, located through its local file header."""
    handle.seek(member.header_offset)
    header = handle.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise Quarantine(f"corrupt: zip member {member.filename} has no local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    handle.seek(member.header_offset + 30 + name_length + extra_length)
    remaining = member.compress_size
    while remaining > 0:
        block = handle.read(min(INFLATE_CHUNK_BYTES, remaining))
        if not block:
            raise Quarantine(f"corrupt: zip member {member.filename} is truncated")
        remaining -= len(block)
        yield block


class _PatternScanner:
    """Finds any of `patterns` (lower-case bytes) in a stream fed chunk by chunk, across chunk boundaries."""

    def __init__(self, patterns: tuple[bytes, ...]) -> None:
        self._patterns = patterns
        self._overlap = max(len(pattern) for pattern in patterns) - 1
        self._tail = b""

    def found(self, chunk: bytes) -> bool:
        window = self._tail + chunk.lower()  # bytes.lower() folds ASCII letters only, in any of these encodings
        self._tail = window[-self._overlap:]
        return any(pattern in window for pattern in self._patterns)
