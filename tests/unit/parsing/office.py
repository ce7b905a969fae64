"""A folder with one file of every type that goes through LibreOffice or pandoc, and broken ones.

Legacy Word, PowerPoint and Excel files are converted by LibreOffice from DOCX, PPTX and XLSX written
with python-docx, python-pptx and openpyxl (one LibreOffice call per format); OpenDocument and RTF files
are written directly, EPUB by pandoc. Built once per test session (`office_folder` in conftest.py):
LibreOffice takes seconds to start.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.corpus import (
    convert_with_libreoffice,
    write_docx,
    write_epub,
    write_odp,
    write_ods,
    write_odt,
    write_pptx,
    write_rtf,
    write_text,
    write_xlsx,
)
from tests.unit.parsing.test_parse import SECTION_TEXT, SECTIONS

ROWS = [["Item", "Price"], ["Widget", 12.5], ["Gadget", 7]]
ROW_TEXT = ["Widget", "12.5", "Gadget"]

# file name -> (parser, text the elements must contain, whether the section titles come out as titles)
EXPECTED = {
    "memo.doc": ("libreoffice+unstructured:docx", SECTION_TEXT, True),
    "memo.odt": ("libreoffice+unstructured:docx", SECTION_TEXT, True),
    "memo.rtf": ("libreoffice+unstructured:docx", SECTION_TEXT, True),
    "deck.ppt": ("libreoffice+unstructured:pptx", SECTION_TEXT, True),
    "deck.odp": ("libreoffice+unstructured:pptx", SECTION_TEXT, True),
    "prices.xls": ("unstructured:xls", ROW_TEXT, False),
    "prices.ods": ("libreoffice+unstructured:xlsx", ROW_TEXT, False),
    "book.epub": ("pandoc+unstructured:html", SECTION_TEXT, True),
}
# file name -> the quarantine reason it must get
BROKEN = {
    "random_bytes.doc": "corrupt: not a Word 97-2003 document (no compound file header)",
    "truncated.doc": "corrupt: unreadable Word 97-2003 document",
    "password.doc": "encrypted: the Word 97-2003 document is password-protected",
}


def write_office_folder(folder: Path) -> Path:
    """Every file of EXPECTED and BROKEN in `folder`, and a text file that needs no converter."""
    originals = folder.parent / f"{folder.name}-originals"
    write_docx(originals / "memo.docx", SECTIONS)
    write_pptx(originals / "deck.pptx", SECTIONS)
    write_xlsx(originals / "prices.xlsx", "Prices", ROWS)
    for original, extension in (("memo.docx", "doc"), ("deck.pptx", "ppt"), ("prices.xlsx", "xls")):
        convert_with_libreoffice([originals / original], extension, folder)
    write_odt(folder / "memo.odt", SECTIONS)
    write_odp(folder / "deck.odp", SECTIONS)
    write_ods(folder / "prices.ods", "Prices", ROWS)
    write_rtf(folder / "memo.rtf", SECTIONS)
    write_epub(folder / "book.epub", SECTIONS)
    (folder / "random_bytes.doc").write_bytes(os.urandom(4096))
    whole = (folder / "memo.doc").read_bytes()
    (folder / "truncated.doc").write_bytes(whole[:len(whole) // 3])
    write_password_flagged_doc(folder / "memo.doc", folder / "password.doc")
    write_text(folder / "notes.txt", SECTIONS)
    return folder


def write_password_flagged_doc(source: Path, path: Path) -> Path:
    """A copy of a .doc whose header says it is encrypted (the FIB's fEncrypted flag), as Word's
    password protection marks it; its text is not really encrypted, but every reader must refuse it."""
    import olefile

    path.write_bytes(source.read_bytes())
    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        stream = bytearray(ole.openstream("WordDocument").read())
        flags = int.from_bytes(stream[10:12], "little") | 0x0100  # FibBase: fEncrypted
        stream[10:12] = flags.to_bytes(2, "little")
        ole.write_stream("WordDocument", bytes(stream))
    return path
