"""What the workers' fork server (ingest.core.workers) imports before it forks any worker.

Importing this package does nothing: `setup` prepares the fork server's process, and the other modules
each load one group of parsers or the redaction detector. `preload_modules` picks those a batch of
documents needs, so that a one-document edit loads the parser of its type and nothing for the others
(and the redaction detector only in a redaction worker, if the document has text: see
ingest.parsing.isolation). Every worker forked from the server starts with them in memory, shared
copy-on-write; what was not preloaded (the server serves every later batch of the process), a worker
imports itself.

A failure in a module is not fatal (`load_quietly`): a worker then imports what it needs itself and
reports its own errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ingest.core.workers import PRELOAD_SETUP as SETUP  # first, before any other
from ingest.core.workers import REDACTION_PRELOAD as REDACTION

PACKAGE = __name__
TEXT = f"{PACKAGE}.text"  # unstructured's text classifier and language detection: every type but images
_BY_TYPE = {
    "pdf": f"{PACKAGE}.pdf",
    **{kind: f"{PACKAGE}.images" for kind in ("png", "jpg", "jpeg", "tiff", "bmp")},
    **{kind: f"{PACKAGE}.office" for kind in ("docx", "pptx", "xlsx", "xls", "doc", "odt", "rtf", "ppt", "odp",
                                               "ods")},
    **{kind: f"{PACKAGE}.web" for kind in ("html", "md", "txt", "epub")},
    **{kind: f"{PACKAGE}.mail" for kind in ("eml", "msg")},
}
EVERYTHING = (SETUP, TEXT, *sorted(set(_BY_TYPE.values())), REDACTION)


def load_quietly(load: Callable[[], None]) -> None:
    """Run a module's loading; a failure leaves the worker to load, and report, what it needs itself. (The fork
    server survives only an ImportError of its own.)"""
    try:
        load()
    except Exception:  # noqa: BLE001
        pass


def preload_modules(file_types: Iterable[str], *, redaction: bool) -> tuple[str, ...]:
    """The modules the fork server imports for a batch of these file types, and with `redaction` the
    detector, which the batch's redaction workers then share (one load, its memory shared)."""
    wanted = {_BY_TYPE[kind] for kind in file_types if kind in _BY_TYPE}
    if wanted - {_BY_TYPE["png"]}:
        wanted.add(TEXT)
    if redaction:
        wanted.add(REDACTION)
    return (SETUP, *[module for module in EVERYTHING if module in wanted])
