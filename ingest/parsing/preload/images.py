"""Images: Pillow and Tesseract."""

from ingest.parsing.preload import load_quietly


def _load() -> None:
    import pytesseract  # noqa: F401
    from PIL import Image  # noqa: F401

    import ingest.parsing.isolation  # noqa: F401


load_quietly(_load)
