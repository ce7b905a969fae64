"""Writers for synthetic documents of every supported type.

Tests, the bundled sample corpus and the benchmark build their inputs with these
functions, so no test depends on a binary file someone must remember to ship.
Each writer takes a destination path and plain text content and returns the path.
"""

from __future__ import annotations

import email.message
import email.policy
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


@dataclass(frozen=True, slots=True)
class Section:
    """A titled run of paragraphs: the unit every writer lays out."""

    title: str
    paragraphs: tuple[str, ...]


def _sections(sections: Sequence[Section]) -> list[Section]:
    if not sections:
        raise ValueError("a document needs at least one section")
    return list(sections)


def write_text_pdf(path: Path, sections: Sequence[Section], *, password: str | None = None,
                   form_pages: Sequence[int] = ()) -> Path:
    """A PDF with a real text layer, one section per page.

    The pages numbered (from 1) in `form_pages` draw their content through a form XObject, as
    PDF merge and imposition tools do: pypdf reads that text, pdfminer's layout analysis
    returns it as a figure with no text boxes.
    """
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    for section in _sections(sections):
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=16)
        pdf.multi_cell(0, 10, section.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for paragraph in section.paragraphs:
            pdf.multi_cell(0, 5, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    if password is not None:
        from fpdf.enums import EncryptionMethod

        pdf.set_encryption(owner_password=password + "-owner", user_password=password,
                           encryption_method=EncryptionMethod.AES_128)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    if form_pages:
        _wrap_pages_in_forms(path, form_pages)
    return path


def _wrap_pages_in_forms(path: Path, pages: Sequence[int]) -> None:
    """Move each listed page's content stream and resources into a form XObject the page draws."""
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject

    writer = PdfWriter(clone_from=str(path))
    for number in pages:
        page = writer.pages[number - 1]
        form = DecodedStreamObject()
        form.set_data(page.get_contents().get_data())
        form.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
                     NameObject("/BBox"): ArrayObject(FloatObject(value) for value in page.mediabox),
                     NameObject("/Resources"): page["/Resources"]})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject(
            {NameObject("/Page"): writer._add_object(form)})})
        drawing = DecodedStreamObject()
        drawing.set_data(b"q /Page Do Q")
        page.replace_contents(drawing)
    writer.write(str(path))


def render_page_image(lines: Sequence[str], *, width: int = 1700, font_size: int = 34) -> Image.Image:
    """Black text on a white page, as a scanner would deliver it (about 200 dpi)."""
    font = ImageFont.load_default(size=font_size)
    line_height = int(font_size * 1.6)
    height = max(2200, 200 + line_height * len(lines))
    image = Image.new("L", (width, height), color=255)
    draw = ImageDraw.Draw(image)
    y = 120
    for line in lines:
        draw.text((120, y), line, fill=0, font=font)
        y += line_height
    return image


def write_scanned_pdf(path: Path, pages: Sequence[Sequence[str]]) -> Path:
    """A PDF whose pages are images only: no text layer, so only OCR can read it."""
    images = [render_page_image(lines).convert("RGB") for lines in pages]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, format="PDF", resolution=200.0, save_all=True, append_images=images[1:])
    return path


def write_image(path: Path, lines: Sequence[str]) -> Path:
    """A PNG, JPEG or TIFF photo of a page, by the path's extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"compression": "tiff_deflate"} if path.suffix.lower() in (".tif", ".tiff") else {}
    render_page_image(lines).save(path, dpi=(200, 200), **options)
    return path


def write_docx(path: Path, sections: Sequence[Section]) -> Path:
    import docx

    document = docx.Document()
    for section in _sections(sections):
        document.add_heading(section.title, level=1)
        for paragraph in section.paragraphs:
            document.add_paragraph(paragraph)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def write_pptx(path: Path, sections: Sequence[Section]) -> Path:
    import pptx

    presentation = pptx.Presentation()
    layout = presentation.slide_layouts[1]  # title and content
    for section in _sections(sections):
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = section.title
        body = slide.placeholders[1].text_frame
        body.text = section.paragraphs[0] if section.paragraphs else ""
        for paragraph in section.paragraphs[1:]:
            body.add_paragraph().text = paragraph
    path.parent.mkdir(parents=True, exist_ok=True)
    presentation.save(str(path))
    return path


def write_xlsx(path: Path, sheet_title: str, rows: Sequence[Sequence[str | int | float]]) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = sheet_title
    for row in rows:
        sheet.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(str(path))
    return path


def _markup(sections: Sequence[Section], heading: str, paragraph: str) -> list[str]:
    """Each section's title and paragraphs, escaped for XML or HTML, put into the `{}` of their template."""
    from html import escape

    parts = []
    for section in _sections(sections):
        parts.append(heading.format(escape(section.title)))
        parts.extend(paragraph.format(escape(text)) for text in section.paragraphs)
    return parts


def write_html(path: Path, sections: Sequence[Section]) -> Path:
    from html import escape

    body = _markup(sections, "<h2>{}</h2>", "<p>{}</p>")
    title = escape(sections[0].title)
    html = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
            f"<body>\n{chr(10).join(body)}\n</body></html>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def write_markdown(path: Path, sections: Sequence[Section]) -> Path:
    parts = []
    for section in _sections(sections):
        parts.append(f"## {section.title}\n")
        parts.extend(f"{paragraph}\n" for paragraph in section.paragraphs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_text(path: Path, sections: Sequence[Section]) -> Path:
    parts = []
    for section in _sections(sections):
        parts.append(section.title)
        parts.extend(section.paragraphs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


def write_eml(path: Path, *, sender: str, to: str, subject: str, body: str,
              attachments: Sequence[tuple[str, bytes]] = ()) -> Path:
    """An e-mail; each attachment (file name, bytes) is typed by its name's extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(eml_bytes(sender=sender, to=to, subject=subject, body=body, attachments=attachments))
    return path


def eml_bytes(*, sender: str, to: str, subject: str, body: str, attachments: Sequence[tuple[str, bytes]] = ()
              ) -> bytes:
    import mimetypes

    message = email.message.EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Tue, 03 Nov 2026 09:30:00 +0000"
    digest = hashlib.sha256(f"{subject}\n{body}".encode()).hexdigest()[:16]
    message["Message-ID"] = f"<{digest}@example.invalid>"
    message.set_content(body)
    for name, data in attachments:
        maintype, subtype = (mimetypes.guess_type(name)[0] or "application/octet-stream").split("/", 1)
        if maintype in ("text", "message"):  # raw bytes as they are, whatever their charset or structure
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def write_msg(path: Path, *, sender_name: str, sender: str, to: str, subject: str, body: str,
              attachments: Sequence[tuple[str, bytes]] = ()) -> Path:
    """An Outlook .msg file: a compound file with the message's properties as streams, and a storage per
    attachment (file name, bytes), attached by value."""
    import struct

    from cfbwrite import Entry, write_ole

    def stream(name: str, data: bytes) -> Entry:
        return Entry(name=name, is_storage=False, size=len(data), read=lambda: data, children=[])

    def property_streams(values: dict[int, str | bytes | int]) -> tuple[list[Entry], bytes]:
        """The streams of string and binary properties, and the property table's entries for all of them."""
        entries, table = [], b""
        for property_id, value in values.items():
            if isinstance(value, int):  # PT_LONG: fixed length, its value in the table itself
                table += struct.pack("<IIIi", (property_id << 16) | 0x0003, 0x6, value, 0)
                continue
            kind, data = (0x0102, value) if isinstance(value, bytes) else (0x001F, value.encode("utf-16-le"))
            tag = (property_id << 16) | kind
            entries.append(stream(f"__substg1.0_{tag:08X}", data))
            # Variable-length entry: tag, flags (readable, writable), size (strings: with the terminator).
            table += struct.pack("<IIII", tag, 0x6, len(data) + (2 if kind == 0x001F else 0), 0)
        return entries, table

    entries, table = property_streams({0x001A: "IPM.Note", 0x0037: subject, 0x1000: body.replace("\n", "\r\n"),
                                       0x0C1A: sender_name, 0x0C1F: sender, 0x0E04: to})
    header = b"\x00" * 8 + struct.pack("<IIII", 0, len(attachments), 0, len(attachments)) + b"\x00" * 8
    entries.append(stream("__properties_version1.0", header + table))
    for number, (name, data) in enumerate(attachments):
        # PidTagAttachDataBinary, PidTagAttachLongFilename, PidTagAttachMethod (1: by value)
        children, attachment_table = property_streams({0x3701: data, 0x3707: name, 0x3705: 1})
        children.append(stream("__properties_version1.0", b"\x00" * 8 + attachment_table))
        entries.append(Entry(name=f"__attach_version1.0_#{number:08X}", is_storage=True, size=0, read=None,
                             children=children))
    entries.append(Entry(name="__nameid_version1.0", is_storage=True, size=0, read=None, children=[
        stream(f"__substg1.0_000{kind}0102", b"") for kind in (2, 3, 4)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_ole(path, entries)
    return path


# --- OpenDocument, RTF and EPUB written here; legacy Office files converted by LibreOffice -------------

_ODF_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" office:version="1.2"'
)


def _write_odf(path: Path, media_type: str, body: str, styles: str = "") -> Path:
    """A minimal OpenDocument package: the stored mimetype first, a manifest, the content (and styles)."""
    import zipfile

    manifest = ('<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{media_type}"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                + ('<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
                   if styles else "") + '</manifest:manifest>')
    content = (f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {_ODF_NAMESPACES}>'
               f"<office:body>{body}</office:body></office:document-content>")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), media_type, compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
        if styles:
            archive.writestr("styles.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles '
                             f"{_ODF_NAMESPACES}><office:styles>{styles}</office:styles></office:document-styles>")
    return path


def write_odt(path: Path, sections: Sequence[Section]) -> Path:
    body = _markup(sections, '<text:h text:style-name="Heading_20_1" text:outline-level="1">{}</text:h>',
                   "<text:p>{}</text:p>")
    heading = ('<style:style style:name="Heading_20_1" style:display-name="Heading 1" style:family="paragraph" '
               'style:default-outline-level="1"/>')
    return _write_odf(path, "application/vnd.oasis.opendocument.text", f"<office:text>{''.join(body)}</office:text>",
                      styles=heading)


def write_odp(path: Path, sections: Sequence[Section]) -> Path:
    """One slide per section: the title in the title frame, the paragraphs as the outline's items."""
    from html import escape

    slides = []
    for number, section in enumerate(_sections(sections), start=1):
        items = "".join(f"<text:list-item><text:p>{escape(paragraph)}</text:p></text:list-item>"
                        for paragraph in section.paragraphs)
        slides.append(
            f'<draw:page draw:name="slide{number}">'
            '<draw:frame presentation:class="title" svg:x="2cm" svg:y="1cm" svg:width="24cm" svg:height="3cm">'
            f"<draw:text-box><text:p>{escape(section.title)}</text:p></draw:text-box></draw:frame>"
            '<draw:frame presentation:class="outline" svg:x="2cm" svg:y="5cm" svg:width="24cm" svg:height="12cm">'
            f"<draw:text-box><text:list>{items}</text:list></draw:text-box></draw:frame></draw:page>")
    return _write_odf(path, "application/vnd.oasis.opendocument.presentation",
                      f"<office:presentation>{''.join(slides)}</office:presentation>")


def write_ods(path: Path, sheet_title: str, rows: Sequence[Sequence[str | int | float]]) -> Path:
    from html import escape

    def cell(value: str | int | float) -> str:
        if isinstance(value, (int, float)):
            return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                    f"<text:p>{value}</text:p></table:table-cell>")
        return f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'

    table = "".join(f"<table:table-row>{''.join(cell(value) for value in row)}</table:table-row>" for row in rows)
    return _write_odf(path, "application/vnd.oasis.opendocument.spreadsheet",
                      f'<office:spreadsheet><table:table table:name="{escape(sheet_title)}">{table}'
                      "</table:table></office:spreadsheet>")


def _rtf_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
    # RTF's \uN takes a signed 16-bit number; "?" is what a reader without Unicode shows instead
    return "".join(character if ord(character) < 128 else f"\\u{ord(character) - 65536 * (ord(character) > 32767)}?"
                   for character in escaped)


def write_rtf(path: Path, sections: Sequence[Section]) -> Path:
    """RTF with a "heading 1" style for the section titles, as word processors write it."""
    parts = [r"{\rtf1\ansi\deff0{\fonttbl{\f0\fswiss Helvetica;}}"
             r"{\stylesheet{\s0 Normal;}{\s1\b\fs32 heading 1;}}"]
    for section in _sections(sections):
        parts.append(rf"\pard\plain\s1\b\fs32 {_rtf_text(section.title)}\par")
        parts.extend(rf"\pard\plain\s0 {_rtf_text(paragraph)}\par" for paragraph in section.paragraphs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "}\n", encoding="ascii")
    return path


def write_epub(path: Path, sections: Sequence[Section]) -> Path:
    """An EPUB book, one chapter per section, written by pandoc from Markdown."""
    import subprocess

    markdown = "\n\n".join(f"# {section.title}\n\n" + "\n\n".join(section.paragraphs)
                           for section in _sections(sections))
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pandoc", "--from", "markdown", "--to", "epub", "--metadata", f"title={sections[0].title}",
                    "--output", str(path)], input=markdown.encode(), check=True, capture_output=True, timeout=120)
    return path


def convert_with_libreoffice(paths: Sequence[Path], extension: str, outdir: Path) -> list[Path]:
    """Each file converted to `extension` (doc, ppt, xls ...) by one headless LibreOffice call; the new paths."""
    import shutil
    import subprocess
    import tempfile

    binary = shutil.which("soffice") or shutil.which("libreoffice")
    if binary is None:
        raise FileNotFoundError("LibreOffice (soffice) is not installed: scripts/setup.sh installs it as root")
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="corpus-libreoffice-") as profile:
        subprocess.run([binary, "--headless", "--norestore", f"-env:UserInstallation={Path(profile).as_uri()}",
                        "--convert-to", extension, "--outdir", str(outdir), *map(str, paths)],
                       check=True, capture_output=True, timeout=600)
    converted = [outdir / f"{Path(path).stem}.{extension}" for path in paths]
    missing = [path.name for path in converted if not path.is_file()]
    if missing:
        raise RuntimeError(f"LibreOffice did not write {', '.join(missing)}")
    return converted
