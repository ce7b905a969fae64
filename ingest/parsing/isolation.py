"""Parse each document in a worker process, under a wall-clock timeout and a memory cap.

A hung or exploding parser is killed and its document quarantined with the reason
(`timeout`, `out_of_memory`, ...: the categories are in ingest.parsing.limits); the batch goes
on and the pool starts a new worker. The pool is pebble's ProcessPool: on a task's
timeout it kills that task's worker and replaces it, where concurrent.futures'
ProcessPoolExecutor can only cancel tasks that have not started and breaks the
whole pool when a worker dies.

Workers are forked from multiprocessing's fork server, which imports the parsers of the batch's file
types and loads unstructured's spaCy model once, and the redaction detector for a batch of
PRELOAD_REDACTION_MIN_DOCUMENTS or more (ingest.parsing.preload); the redaction workers of
ingest.pii.redact fork from the same server. A one-document edit so loads one parser, and a redaction
worker loads the detector only if the document has text. The server serves every later batch of the
process as it was started: a worker imports the parsers it lacks as it starts, outside any task's time
limit.
A spawned worker spends about 5 s (more on a busy machine) loading them, and so would every
replacement after a timeout; a forked one starts in a fraction of a second. The fork server is
itself a fresh interpreter, as a spawned worker would be, so no thread or lock of the calling process
(Dagster's, polars') reaches a worker.
An idle worker holds about 1.3 GB of address space (0.6 GB of it the NER model and
name lexicon), hence the 2,048 MB default cap.

Each worker, on start:
- takes the environment of the process that made the pool (the fork server keeps
  the environment of whichever batch started it);
- limits Tesseract to one thread (OMP_THREAD_LIMIT=1), so that pages OCR'd in
  parallel workers do not thrash the cores;
- caps its address space (RLIMIT_AS); the Tesseract processes it starts inherit the cap;
- leads its own process group and answers SIGTERM (what pebble sends on a timeout)
  by killing the group, so the Tesseract, LibreOffice or pandoc it was waiting for dies with it.

Legacy Office, OpenDocument and RTF files are converted by LibreOffice in batches
(ingest.parsing.convert) in a thread of this process while the workers start and parse the
other documents; each converted document is handed to a worker as soon as its batch has
written it. The converted files are removed when the batch of documents is done.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from pebble import ProcessExpired, ProcessPool

from ingest.core.models import ParsedDocument, SourceDocument
from ingest.core.workers import contain_this_process, worker_context
from ingest.parsing.attachments import extract_attachment
from ingest.parsing.convert import (
    LIBREOFFICE_TARGETS,
    ConversionReport,
    Converted,
    LibreOfficeConversions,
    convert_alone,
    libreoffice_binary,
)
from ingest.parsing.limits import ParseLimits, Quarantine, check_before_parsing, check_converted
from ingest.parsing.parse import ParseSettings, parse_document, parsed_frames
from ingest.parsing.preload import preload_modules

if TYPE_CHECKING:
    import polars as pl


# From this many documents the fork server loads the redaction detector before parsing, for the batch's
# redaction workers to share (one load, its memory shared). Below it a redaction worker loads it when
# the batch has text to redact: a one-document edit of a scan with no text never loads it.
PRELOAD_REDACTION_MIN_DOCUMENTS = 10


def parse_documents_isolated(
    documents: Iterable[SourceDocument],
    settings: ParseSettings,
    limits: ParseLimits,
    on_progress: Callable[[int, ParsedDocument], None] | None = None,
    on_conversions: Callable[[ConversionReport], None] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The frames of `parse_documents`, each document checked and parsed in a worker under `limits`.

    Rows come in input order; `on_progress(position, parsed)` is called as each
    document finishes, `position` counting the documents finished so far;
    `on_conversions(report)` once, with what the LibreOffice batches cost, when there were any.
    OcrUnavailable (Tesseract missing) fails the batch, as it does in process.
    """
    documents = list(documents)
    results: list[tuple[ParsedDocument, float | None]] = []
    if documents:  # no document, no worker
        types = {document.file_type for document in documents}
        pool = ProcessPool(max_workers=min(limits.workers, len(documents)), max_tasks=limits.tasks_per_worker,
                           initializer=_start_worker,
                           initargs=(limits, dict(os.environ), preload_modules(types, redaction=False)),
                           context=worker_context(preload_modules(
                               types, redaction=len(documents) >= PRELOAD_REDACTION_MIN_DOCUMENTS)))
        with LibreOfficeConversions(limits) as conversions:
            batch = _Batch(documents, settings, limits, pool, conversions)
            try:
                outcomes = batch.run(on_progress)
            finally:
                pool.stop()  # every task is done, or the batch failed: no worker is needed any more
                pool.join()
                conversions.cancel()  # a failed batch of documents leaves no LibreOffice behind
                if batch.converting.is_alive():
                    batch.converting.join()
        if batch.batched and on_conversions is not None:
            on_conversions(conversions.report)
        results = [outcomes[position] for position in range(len(documents))]
    return parsed_frames(results)


class _Batch:
    """One batch of documents on the pool: LibreOffice's conversions in a thread, every document scheduled
    as soon as it can be parsed, and the outcomes as they come (one queue of events, O(1) each)."""

    def __init__(self, documents: list[SourceDocument], settings: ParseSettings, limits: ParseLimits,
                 pool: ProcessPool, conversions: LibreOfficeConversions) -> None:
        self.documents, self.settings, self.limits, self.pool = documents, settings, limits, pool
        self.conversions = conversions
        self.convertible = {position for position, document in enumerate(documents)
                            if document.file_type in LIBREOFFICE_TARGETS}
        # Without LibreOffice, each worker quarantines its document saying what to install.
        # An attachment has no file of its own until its worker takes it out of the message: converted there.
        self.batched = sorted(position for position in self.convertible if not documents[position].member) \
            if libreoffice_binary() else []
        self.events: queue.Queue[tuple[str, object]] = queue.Queue()
        self.converting = threading.Thread(target=self._convert, name="libreoffice", daemon=True)

    def run(self, on_progress: Callable[[int, ParsedDocument], None] | None
            ) -> dict[int, tuple[ParsedDocument, float | None]]:
        waiting = set(self.batched)  # for their conversion
        if self.batched:
            self.converting.start()
        for position in largest_first(self.documents):
            if position not in waiting:
                self._schedule(position, self._alone(position) if position in self.convertible else None)
        outcomes: dict[int, tuple[ParsedDocument, float | None]] = {}
        while len(outcomes) < len(self.documents):
            event, item = self.events.get()
            if event == "converted":
                position, converted = item
                waiting.discard(position)
                self._schedule(position, converted)
            elif event == "converting-ended":  # whatever the thread did not settle is converted alone
                for position in sorted(waiting):
                    self._schedule(position, self._alone(position))
                waiting.clear()
            else:
                position, future = item
                outcomes[position] = _outcome(self.documents[position], future, self.limits)
                if on_progress is not None:
                    on_progress(len(outcomes), outcomes[position][0])
        return outcomes

    def _alone(self, position: int) -> Converted:
        """What tells the worker to convert the document itself (ingest.parsing.convert.Converted)."""
        return Converted(LIBREOFFICE_TARGETS[self.documents[position].file_type], str(self.conversions.workdir))

    def _schedule(self, position: int, converted: Converted | None) -> None:
        future = self.pool.schedule(_parse_contained, timeout=self.limits.timeout_seconds,
                                    args=(self.documents[position], self.settings, self.limits, converted,
                                          str(self.conversions.workdir)))
        future.add_done_callback(lambda done: self.events.put(("parsed", (position, done))))

    def _convert(self) -> None:
        try:
            self.conversions.convert([self.documents[position] for position in self.batched],
                                     lambda index, converted: self.events.put(
                                         ("converted", (self.batched[index], converted))))
        finally:
            self.events.put(("converting-ended", None))


def largest_first(documents: list[SourceDocument]) -> list[int]:
    """Positions of `documents`, the largest file first (ties in input order).

    The pool takes tasks in the order given; a long document left to the end (a scan to OCR, a large
    PDF) would keep one worker busy while the others wait idle. Size stands in for the parse time.
    """
    return sorted(range(len(documents)), key=lambda position: -documents[position].size)


def _outcome(document: SourceDocument, future: Future, limits: ParseLimits) -> tuple[ParsedDocument, float | None]:
    """(parsed document, seconds) of a finished task; a killed or dead worker quarantines its document."""
    try:
        return future.result()
    except TimeoutError:
        return _quarantined(document, f"timeout: parsing took longer than {limits.timeout_seconds:g} s"), \
            float(limits.timeout_seconds)
    except MemoryError:  # raised in the worker outside the parser, e.g. sending a huge result back
        return _quarantined(document, f"out_of_memory: the worker exceeded its {limits.memory_mb} MB cap"), None
    except ProcessExpired as died:
        if died.exitcode == -signal.SIGKILL:  # what the kernel's OOM killer sends
            return _quarantined(document, "out_of_memory: the parser process was killed by the system "
                                          "(SIGKILL), most likely for lack of memory"), None
        return _quarantined(document, f"corrupt: the parser process died (exit code {died.exitcode})"), None


def _quarantined(document: SourceDocument, reason: str) -> ParsedDocument:
    return ParsedDocument(document.doc_id, (), document.file_type, 0, 0, quarantine_reason=reason)


# --- in the worker ----------------------------------------------------------------

def _start_worker(limits: ParseLimits, environment: dict[str, str], parsers: tuple[str, ...]) -> None:
    """Set up a new worker process: environment, Tesseract threads, process group, memory cap, and the
    batch's parsers where the fork server did not load them (it was started for an earlier batch of other
    types): here, before its first task, the load does not count against the task's time limit."""
    import importlib

    from PIL import Image

    os.environ.clear()
    os.environ.update(environment)
    os.environ["OMP_THREAD_LIMIT"] = "1"
    contain_this_process(limits.memory_mb)
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels  # images, and PDF pages rendered for OCR
    for module in parsers:  # already imported (free) when the fork server preloaded them
        importlib.import_module(module)


def _parse_contained(document: SourceDocument, settings: ParseSettings, limits: ParseLimits,
                     converted: Converted | None, workdir: str) -> tuple[ParsedDocument, float]:
    """(parsed document, seconds) for one document: the checks first, then the parser.

    An e-mail attachment is first taken out of its message into `workdir` (the batch's private folder,
    removed by the batch). A LibreOffice type comes with its batch's conversion; one the batch left
    undecided (or without a batch) is converted here, alone, under this worker's time limit and memory cap.
    """
    from pypdf import apply_configuration

    started = time.perf_counter()
    try:
        if document.member:
            document = extract_attachment(document, Path(workdir))
        check_before_parsing(document, limits)
        if converted is not None and not (converted.path or converted.failure):  # left to this worker
            path = convert_alone(document, converted.kind, Path(converted.workdir), timeout_seconds=None,
                                 memory_mb=None, own_group=False)
            converted = Converted(converted.kind, converted.workdir, path=str(path))
        if converted is not None and converted.path:
            check_converted(Path(converted.path), limits)
    except Quarantine as reason:
        return _quarantined(document, str(reason)), time.perf_counter() - started
    except MemoryError:
        return _quarantined(document, f"out_of_memory: the checks exceeded the {limits.memory_mb} MB cap"), \
            time.perf_counter() - started
    except Exception as error:  # a check that trips over a strange file quarantines it, as a parser would
        return _quarantined(document, f"corrupt: the checks before parsing failed ({type(error).__name__})"), \
            time.perf_counter() - started
    with apply_configuration(**limits.pdf_configuration()):
        parsed = parse_document(document, settings, converted)
    return parsed, time.perf_counter() - started
