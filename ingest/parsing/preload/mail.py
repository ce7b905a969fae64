"""E-mail: .eml and Outlook's .msg."""

from ingest.parsing.preload import load_quietly


def _load() -> None:
    import unstructured.partition.email  # noqa: F401
    import unstructured.partition.msg  # noqa: F401


load_quietly(_load)
