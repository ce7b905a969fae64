"""Writers of hostile and awkward input files, built byte by byte in the test's folder.

Nothing here is committed as a binary: each writer makes its file in a fraction
of a second and little memory, however much the file claims to expand to.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from benchmarks.corpus import Section, write_docx, write_text_pdf

MIB = 1 << 20


def deflate_of_spaces(mebibytes: int, *, raw: bool) -> bytes:
    """A deflate stream of `mebibytes` MiB of spaces, built without compressing them all.

    A full flush resets the compressor, so every further MiB compresses to the
    same block: the stream is one block repeated, then an empty final block
    (and, for zlib format, the header and the Adler-32 of the content).
    """
    chunk = b" " * MIB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15 if raw else 15)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    header = first[: len(first) - len(block)]  # the zlib header, or nothing for raw deflate
    assert first[len(header):] == block
    final_block = b"\x03\x00"  # an empty final block with fixed codes
    if raw:
        return header + block * mebibytes + final_block
    adler = 1
    for _ in range(mebibytes):
        adler = zlib.adler32(chunk, adler)
    return header + block * mebibytes + final_block + struct.pack(">I", adler)


def _pdf(objects: list[bytes], *, prev_points_to_itself: bool = False) -> bytes:
    """A PDF of the given object bodies (object 1 is the catalogue), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    prev = b" /Prev %d" % xref if prev_points_to_itself else b""
    out.write(b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, prev, xref))
    return out.getvalue()


def _one_page_pdf(content: bytes, stream_dictionary: bytes = b"") -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d%s >>\nstream\n" % (len(content), stream_dictionary) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def write_xref_loop_pdf(path: Path) -> Path:
    """A one-page PDF whose trailer's /Prev points back at its own xref table."""
    content = b"BT /F1 18 Tf 72 700 Td (An xref table that points at itself) Tj ET"
    path.write_bytes(_pdf(_one_page_pdf(content), prev_points_to_itself=True))
    return path


def write_flate_bomb_pdf(path: Path, *, mebibytes: int = 8192, layers: int = 3) -> Path:
    """A one-page PDF whose content stream is `mebibytes` MiB of spaces, deflated `layers` times.

    The file is a few kilobytes; the innermost layer alone is 8 MB of deflate.
    """
    data = deflate_of_spaces(mebibytes, raw=False)
    for _ in range(layers - 1):
        data = zlib.compress(data, 9)
    filters = b" /Filter [" + b" ".join([b"/FlateDecode"] * layers) + b"]"
    path.write_bytes(_pdf(_one_page_pdf(data, filters)))
    return path


def write_owner_password_pdf(path: Path, sections: list[Section]) -> Path:
    """A PDF that opens without a password but restricts editing (owner password only)."""
    plain = write_text_pdf(path.with_suffix(".plain.pdf"), sections)
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-128")
    with path.open("wb") as handle:
        writer.write(handle)
    plain.unlink()
    return path


def write_lying_zip_bomb_docx(path: Path, *, mebibytes: int = 2048) -> Path:
    """A DOCX whose word/document.xml inflates to `mebibytes` MiB of spaces while the zip says 2 KB.

    The other members come from a real document, so the file passes as a DOCX;
    the bomb member's central directory and local header both lie about its
    size and CRC.
    """
    real = write_docx(path.with_suffix(".real.docx"), [Section("Bomb", ("Nothing to see here.",))])
    bomb = deflate_of_spaces(mebibytes, raw=True)
    members = []
    with zipfile.ZipFile(real) as archive:
        for info in archive.infolist():
            if info.filename != "word/document.xml":
                members.append((info.filename, zipfile.ZIP_STORED, archive.read(info.filename), None))
    members.insert(0, ("word/document.xml", zipfile.ZIP_DEFLATED, bomb, 2048))
    real.unlink()
    path.write_bytes(_zip(members))
    return path


def _zip(members: list[tuple[str, int, bytes, int | None]]) -> bytes:
    """A zip of (name, method, stored bytes, declared size or None for the truth), written by hand."""
    out = io.BytesIO()
    directory = []
    for name, method, data, declared in members:
        encoded = name.encode()
        size = declared if declared is not None else len(data)
        crc = 0 if declared is not None else zlib.crc32(data)
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size,
                              len(encoded), 0) + encoded + data)
        directory.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(data), size,
                                     len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    start = out.tell()
    out.write(b"".join(directory))
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(directory), len(directory),
                          out.tell() - start, start, 0))
    return out.getvalue()


def write_external_entity_docx(path: Path) -> Path:
    """A DOCX whose word/document.xml declares an external entity that reads /etc/passwd."""
    real = write_docx(path.with_suffix(".real.docx"), [Section("Entity", ("The entity says: PLACEHOLDER",))])
    with zipfile.ZipFile(real) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                declaration, _, rest = data.partition(b"?>")
                data = (declaration + b'?>\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                        + rest.replace(b"PLACEHOLDER", b"&xxe;"))
            target.writestr(info, data)
    real.unlink()
    return path


def write_huge_png(path: Path, width: int = 30_000, height: int = 30_000) -> Path:
    """A one-colour, one-bit PNG of width x height pixels: 900 M pixels in about 100 KB."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte "none", then white pixels
    compressor = zlib.compressobj(9)
    rows_per_piece = 1000
    data = b"".join(compressor.compress(row * min(rows_per_piece, height - start))
                    for start in range(0, height, rows_per_piece)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def write_deep_html(path: Path, depth: int = 60_000) -> Path:
    """HTML whose only text sits `depth` <div> elements deep."""
    path.write_text("<!DOCTYPE html><html><body>" + "<div>" * depth
                    + "<p>The deepest paragraph of the page.</p>" + "</div>" * depth + "</body></html>")
    return path


def write_one_line_text(path: Path, megabytes: int = 20) -> Path:
    """`megabytes` MB of prose with no line break."""
    sentence = "The quick brown fox jumps over the lazy dog near the riverbank at dawn. "
    path.write_text((sentence * (megabytes * 1_000_000 // len(sentence) + 1))[: megabytes * 1_000_000])
    return path


def write_password_docx(path: Path) -> Path:
    """A DOCX encrypted with a password: an OLE compound file holding the encrypted package."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = write_docx(path.with_suffix(".plain.docx"), [Section("Locked", ("Only with the password.",))])
    with plain.open("rb") as source, path.open("wb") as target:
        OOXMLFile(source).encrypt("secret", target)
    plain.unlink()
    return path
