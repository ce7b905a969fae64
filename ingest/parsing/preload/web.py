"""HTML (EPUB becomes HTML), Markdown and plain text."""

from ingest.parsing.preload import load_quietly


def _load() -> None:
    import unstructured.partition.html  # noqa: F401
    import unstructured.partition.md  # noqa: F401


load_quietly(_load)
