"""PDF: pypdf for the text layer, pdfminer for the layout, pypdfium2 and Tesseract for pages without text."""

from ingest.parsing.preload import load_quietly


def _load() -> None:
    import pdfminer.high_level  # noqa: F401
    import pdfminer.layout  # noqa: F401
    import pypdf  # noqa: F401
    import pypdfium2  # noqa: F401
    import pytesseract  # noqa: F401
    from PIL import Image  # noqa: F401


load_quietly(_load)
