"""Files unstructured cannot read as they are, converted into ones it can.

- LibreOffice (headless) converts legacy Word and PowerPoint files, OpenDocument text, slides and
  sheets and RTF: doc, odt, rtf -> docx; ppt, odp -> pptx; ods -> xlsx. It starts in seconds (a
  fresh profile, its libraries, its type detection), so a parse run converts all its files of one
  target format in one `soffice --convert-to` call (`LibreOfficeConversions`), before and beside the
  parse workers, instead of one start per document as unstructured's own partitioners do.
  Each call has a private profile folder (two LibreOffice processes sharing a profile hand their work
  to one another) and runs under the parse limits: its own process group, killed whole (the `soffice`
  script starts `soffice.bin`) when no file finishes within the time limit, and the memory cap.
  LibreOffice converts in argument order and says so per file ("convert A -> B" once A is loaded,
  "Error: source file could not be loaded" when it is not), so a batch that hangs or dies is known to
  have finished the files before the last one it named; the one or two it may have been working on are
  converted by the parse worker itself, alone, under the worker's time limit and memory cap, and the
  rest go on in a new batch. A document LibreOffice cannot open is quarantined as corrupt.
- pandoc converts EPUB to HTML inside the parse worker (it starts in milliseconds): the worker's time
  limit and memory cap hold it, and its process dies with the worker's process group.

Converted files live in one temporary folder per parse run (created private, outside INGEST_HOME:
they hold the unredacted text) that the run's owner removes at the end, whatever happened.
"""

from __future__ import annotations

import functools
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.core.models import SourceDocument
from ingest.parsing.limits import ParseLimits, Quarantine

# What LibreOffice converts each type to: the format whose unstructured partitioner reads the result.
LIBREOFFICE_TARGETS = {"doc": "docx", "odt": "docx", "rtf": "docx", "ppt": "pptx", "odp": "pptx", "ods": "xlsx"}
PANDOC_TYPES = {"epub"}
LIBREOFFICE_PACKAGES = {"docx": "libreoffice-writer-nogui", "pptx": "libreoffice-impress-nogui",
                        "xlsx": "libreoffice-calc-nogui"}
# After this many batches in a row that hung or died before converting anything, the rest of the files are
# converted one by one in the parse workers: LibreOffice itself is failing, not one file.
MAX_FRUITLESS_BATCHES = 2
EXIT_GRACE_SECONDS = 30  # how long LibreOffice may take to exit once its output has ended
GROUP_EXIT_SECONDS = 5  # how long a killed LibreOffice's processes may take to be gone
_LOAD_ERROR = "Error: source file could not be loaded"
_STORE_ERROR = "Error: Please verify input parameters"  # written when the converted file cannot be stored


def libreoffice_binary() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def converter_programs() -> dict[str, tuple[str | None, list[str]]]:
    """Each converter program: where it is installed (None: it is not) and the file types it reads."""
    return {"LibreOffice": (libreoffice_binary(), sorted(LIBREOFFICE_TARGETS)),
            "pandoc": (shutil.which("pandoc"), sorted(PANDOC_TYPES))}


def converter_missing(kind: str) -> str | None:
    """The quarantine reason for a type whose converter is not installed, or None."""
    if kind in LIBREOFFICE_TARGETS and libreoffice_binary() is None:
        package = LIBREOFFICE_PACKAGES[LIBREOFFICE_TARGETS[kind]]
        return (f"unavailable: reading .{kind} files needs LibreOffice, which is not installed "
                f"(sudo apt-get install -y --no-install-recommends {package}; scripts/setup.sh does it as root)")
    if kind in PANDOC_TYPES and shutil.which("pandoc") is None:
        return (f"unavailable: reading .{kind} files needs pandoc, which is not installed "
                "(sudo apt-get install -y pandoc; scripts/setup.sh does it as root)")
    return None


@dataclass(frozen=True, slots=True)
class Converted:
    """What a parse worker reads instead of a document's own file.

    `path` is the converted file; without it and without `failure`, the worker converts the document
    itself, alone, into `workdir` (the batch could not say whether it had finished it).
    """

    kind: str  # docx, pptx or xlsx: the partitioner that reads the result
    workdir: str
    path: str | None = None
    failure: str | None = None  # the quarantine reason when LibreOffice could not convert it


@dataclass(slots=True)
class ConversionReport:
    """What a parse run's LibreOffice batches cost: start-up paid per batch, then seconds per file."""

    documents: int = 0  # converted (or refused) by a batch
    batches: int = 0
    seconds: float = 0.0  # wall time of every batch
    startup_seconds: float = 0.0  # estimated: first file's wait less a typical file's
    failed: int = 0  # documents LibreOffice could not open or write
    left_to_workers: int = 0  # documents a hung or dead batch left for the parse workers to convert alone
    seconds_by_document: dict[str, float] = field(default_factory=dict)

    def as_metadata(self) -> dict:
        return {"documents": self.documents, "batches": self.batches, "seconds": round(self.seconds, 3),
                "startup_seconds": round(self.startup_seconds, 3), "failed": self.failed,
                "left_to_workers": self.left_to_workers}


@dataclass(slots=True)
class _BatchOutcome:
    """Per input position: output path, failure, or nothing known; and how the batch ended."""

    converted: dict[int, Path] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    finished: dict[int, float] = field(default_factory=dict)  # seconds since the start when a file was named
    next_position: int = 0  # the first file LibreOffice had not named yet
    hung: bool = False
    exit_code: int | None = None
    seconds: float = 0.0


def _stage_inputs(paths: Sequence[Path], kinds: Sequence[str], folder: Path) -> list[Path]:
    """Links named by position and type: distinct names (outputs are named after inputs), the right extension."""
    folder.mkdir(parents=True)
    staged = []
    for position, (path, kind) in enumerate(zip(paths, kinds, strict=True)):
        link = folder / f"{position:06d}.{kind}"
        link.symlink_to(Path(path).resolve())
        staged.append(link)
    return staged


def run_libreoffice(inputs: Sequence[Path], target: str, outdir: Path, profile: Path, *,
                    idle_seconds: float | None, memory_mb: int | None, own_group: bool,
                    on_start: Callable[[subprocess.Popen], None] | None = None,
                    on_settled: Callable[[int, _BatchOutcome], None] | None = None) -> _BatchOutcome:
    """Convert `inputs` (named `<position>.<kind>`) to `target` in one LibreOffice process.

    The process is killed, with its whole process group when `own_group`, once no file has been named for
    `idle_seconds` (start-up counts towards the first file). Without `own_group` it stays in the caller's
    group: a parse worker, whose own time limit kills the group. `on_settled(position, outcome)` is called
    for each file as soon as its result is certain: when LibreOffice refused it, or named the next file.
    """
    binary = libreoffice_binary()
    if binary is None:
        raise FileNotFoundError("LibreOffice (soffice) is not installed")
    outdir.mkdir(parents=True, exist_ok=True)
    command = [binary, "--headless", "--norestore", "--nolockcheck", "--nologo", "--nodefault",
               f"-env:UserInstallation={profile.resolve().as_uri()}", "--convert-to", target,
               "--outdir", str(outdir), *map(str, inputs)]
    if memory_mb is not None:  # the parse workers' cap, set by a shell: preexec_fn is unsafe beside threads
        command = ["/bin/sh", "-c", 'ulimit -v "$0" 2>/dev/null; exec "$@"', str(memory_mb << 10), *command]
    outcome = _BatchOutcome()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=own_group, text=True, errors="replace")
    if on_start is not None:
        on_start(process)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    by_name = {Path(path).name: position for position, path in enumerate(inputs)}
    last_named: int | None = None
    deadline = None if idle_seconds is None else time.monotonic() + idle_seconds
    try:
        while True:
            try:
                line = lines.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                outcome.hung = True
                break
            if line is None:
                break
            previous = last_named
            if line.startswith("convert "):
                name = Path(line[len("convert "):].split(" -> ", 1)[0]).name
                if name not in by_name:
                    continue
                last_named = by_name[name]
                outcome.converted[last_named] = outdir / f"{Path(name).stem}.{target}"
            elif line.startswith(_LOAD_ERROR):
                last_named = outcome.next_position
                outcome.failures[last_named] = "corrupt: LibreOffice could not open the file"
            elif line.startswith(_STORE_ERROR) and last_named is not None:
                outcome.converted.pop(last_named, None)
                outcome.failures[last_named] = f"corrupt: LibreOffice could not write the file as {target}"
                continue
            else:
                continue
            outcome.finished[last_named] = time.perf_counter() - started
            outcome.next_position = last_named + 1
            if deadline is not None:
                deadline = time.monotonic() + idle_seconds
            if on_settled is not None:
                if previous is not None and previous != last_named:
                    on_settled(previous, outcome)  # LibreOffice moved on: that file is stored or refused
                if last_named in outcome.failures:
                    on_settled(last_named, outcome)  # refused as it was loaded
    finally:
        if not outcome.hung:  # its output ended: LibreOffice is shutting down, let it finish
            try:
                process.wait(timeout=EXIT_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        if process.poll() is None:
            _kill(process, own_group)
        outcome.exit_code = process.wait()
        if own_group:
            _kill(process, own_group)  # anything it left behind in its group
        reader.join(timeout=5)
        outcome.seconds = time.perf_counter() - started
    return outcome


def _kill(process: subprocess.Popen, own_group: bool) -> None:
    """Kill LibreOffice (with its whole group when it has one) and, for a group, wait until it is empty:
    `soffice.bin` is not our child, and a dying one may still write into the folder about to be removed."""
    try:
        if not own_group:
            process.kill()
            return
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()  # the group's leader is our child: reaped, it leaves the group
        deadline = time.monotonic() + GROUP_EXIT_SECONDS
        while time.monotonic() < deadline:
            os.killpg(process.pid, 0)  # ProcessLookupError once no process of the group is left
            time.sleep(0.05)
    except (ProcessLookupError, PermissionError):
        pass


def _settled(outcome: _BatchOutcome, count: int) -> tuple[dict[int, Path], dict[int, str], list[int], list[int]]:
    """(converted, failed, to convert alone, to batch again) by input position, from a batch's outcome.

    A batch that ended on its own (exit code 0) settled every file it named. One that hung or died may
    have been storing the last file it named, or loading the next: those two are converted alone, the
    files after them go to a new batch.
    """
    clean = not outcome.hung and outcome.exit_code == 0
    named = outcome.next_position
    doubtful = set() if clean else {position for position in (named - 1, named) if 0 <= position < count}
    doubtful -= set(outcome.failures)  # a file LibreOffice refused is settled
    converted = {position: path for position, path in outcome.converted.items()
                 if position not in doubtful and path.is_file() and path.stat().st_size > 0}
    failures = {position: reason for position, reason in outcome.failures.items() if position not in doubtful}
    for position in range(named):  # named, clean, yet nothing written: LibreOffice failed quietly
        if position not in converted and position not in failures and position not in doubtful:
            failures[position] = "corrupt: LibreOffice wrote nothing for the file"
    later = list(range(named + (0 if clean else 1), count))
    alone = sorted(doubtful) + (later if clean else [])  # a clean exit that skipped files: each alone
    return converted, failures, alone, ([] if clean else later)


class LibreOfficeConversions:
    """The LibreOffice conversions of one parse run, in one private temporary folder removed on exit.

    `convert` runs the batches (one per target format, more only after a hang or a crash) and hands each
    document's `Converted` to `on_ready` as soon as it is settled, so the caller can parse it while the
    rest convert. Use as a context manager.
    """

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self.report = ConversionReport()
        self.workdir: Path | None = None
        self._batches = 0
        self._cancelled = threading.Event()
        self._running: subprocess.Popen | None = None

    def __enter__(self) -> LibreOfficeConversions:
        self.workdir = Path(tempfile.mkdtemp(prefix="ingest-convert-"))  # mode 0700
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()
        if self.workdir is not None:
            for _ in range(5):  # a process that was just killed may still be closing files in it
                shutil.rmtree(self.workdir, ignore_errors=True)
                if not self.workdir.exists():
                    break
                time.sleep(0.2)
            self.workdir = None

    @property
    def profile(self) -> Path:
        return self.workdir / "profile"

    def cancel(self) -> None:
        """Stop converting: the running LibreOffice is killed with its group, no further batch starts."""
        self._cancelled.set()
        running = self._running
        if running is not None and running.poll() is None:
            _kill(running, own_group=True)

    def convert(self, documents: Sequence[SourceDocument], on_ready: Callable[[int, Converted], None]) -> None:
        """Convert every document of a LibreOffice type; `on_ready(position in documents, Converted)`."""
        by_target: dict[str, list[int]] = {}
        for position, document in enumerate(documents):
            if document.file_type in LIBREOFFICE_TARGETS:
                by_target.setdefault(LIBREOFFICE_TARGETS[document.file_type], []).append(position)
        settled: set[int] = set()

        def ready(position: int, converted: Converted) -> None:
            settled.add(position)
            on_ready(position, converted)

        for target, positions in by_target.items():
            try:
                self._convert_target(documents, positions, target, ready)
            except OSError:  # LibreOffice cannot start here: each document is converted alone, and says why
                for position in positions:
                    if position not in settled:
                        self.report.left_to_workers += 1
                        ready(position, Converted(target, str(self.workdir)))

    def _convert_target(self, documents: Sequence[SourceDocument], positions: list[int], target: str,
                        on_ready: Callable[[int, Converted], None]) -> None:
        fruitless = 0  # batches in a row that hung or died before naming a file
        while positions and not self._cancelled.is_set():
            self._batches += 1
            batch = self.workdir / f"batch-{self._batches}"
            inputs = _stage_inputs([documents[p].path for p in positions],
                                   [documents[p].file_type for p in positions], batch / "in")
            hand = functools.partial(self._hand, set(), positions, target, on_ready)
            outcome = run_libreoffice(inputs, target, batch / "out", self.profile,
                                      idle_seconds=self.limits.timeout_seconds, memory_mb=self.limits.memory_mb,
                                      own_group=True, on_start=self._started, on_settled=hand)
            if self._cancelled.is_set():
                return
            converted, failures, alone, again = _settled(outcome, len(positions))
            self._account(outcome, [documents[p].doc_id for p in positions])
            for index in sorted(converted.keys() | failures.keys()):
                hand(index, outcome)
            fruitless = fruitless + 1 if again and outcome.next_position == 0 else 0
            if fruitless >= MAX_FRUITLESS_BATCHES:  # LibreOffice itself fails here, not one file
                alone, again = alone + again, []
            for index in alone:
                self.report.left_to_workers += 1
                on_ready(positions[index], Converted(target, str(self.workdir)))
            positions = [positions[index] for index in again]

    def _hand(self, handed: set[int], positions: list[int], target: str, on_ready: Callable[[int, Converted], None],
              index: int, outcome: _BatchOutcome) -> None:
        """Give a settled file to its parse worker at once, while LibreOffice converts the rest (once each)."""
        if index in handed:
            return
        handed.add(index)
        output = outcome.converted.get(index)
        if index in outcome.failures or output is None or not output.is_file() or not output.stat().st_size:
            self.report.failed += 1
            reason = outcome.failures.get(index, "corrupt: LibreOffice wrote nothing for the file")
            on_ready(positions[index], Converted(target, str(self.workdir), failure=reason))
        else:
            on_ready(positions[index], Converted(target, str(self.workdir), path=str(output)))

    def _started(self, process: subprocess.Popen) -> None:
        self._running = process
        if self._cancelled.is_set():  # cancelled while it was starting
            _kill(process, own_group=True)

    def _account(self, outcome: _BatchOutcome, doc_ids: list[str]) -> None:
        """The batch's seconds, start-up and each named file's share (the time since the previous one)."""
        self.report.batches += 1
        self.report.seconds += outcome.seconds
        times = [outcome.finished[position] for position in sorted(outcome.finished)]
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        typical = sorted(gaps)[len(gaps) // 2] if gaps else 0.0
        if times:
            self.report.startup_seconds += max(0.0, times[0] - typical)
        previous = None
        for position in sorted(outcome.finished):
            at = outcome.finished[position]
            self.report.seconds_by_document[doc_ids[position]] = round(
                (typical if previous is None else at - previous), 4)
            self.report.documents += 1
            previous = at


def convert_alone(document: SourceDocument, target: str, workdir: Path, *, timeout_seconds: float | None,
                  memory_mb: int | None, own_group: bool) -> Path:
    """One document converted by a LibreOffice of its own into a fresh folder under `workdir`; or Quarantine.

    In a parse worker (`own_group` False, no timeout) the worker's time limit and memory cap hold it. The
    profile is a copy of the batch's, when there is one: a fresh profile costs seconds more to start.
    """
    missing = converter_missing(document.file_type)
    if missing:
        raise Quarantine(missing)
    folder = Path(tempfile.mkdtemp(prefix="alone-", dir=workdir))  # the batch's folder, removed with it
    profile = folder / "profile"
    if (workdir / "profile").is_dir():
        shutil.copytree(workdir / "profile", profile, symlinks=True, ignore=shutil.ignore_patterns(".lock"))
    [staged] = _stage_inputs([Path(document.path)], [document.file_type], folder / "in")
    outcome = run_libreoffice([staged], target, folder / "out", profile, idle_seconds=timeout_seconds,
                              memory_mb=memory_mb, own_group=own_group)
    if outcome.hung:
        raise Quarantine(f"timeout: LibreOffice did not finish converting the file within {timeout_seconds:g} s")
    converted, failures, _, _ = _settled(outcome, 1)
    if 0 in converted:
        return converted[0]
    if 0 in failures:
        raise Quarantine(failures[0])
    raise Quarantine(f"corrupt: LibreOffice failed on the file (exit code {outcome.exit_code})")


def epub_to_html(path: Path) -> str:
    """An EPUB's chapters as one HTML document, by pandoc (in the parse worker, under its limits)."""
    missing = converter_missing("epub")
    if missing:
        raise Quarantine(missing)
    # --sandbox: pandoc reads nothing but the input (no linked images or includes outside the book)
    completed = subprocess.run(["pandoc", "--sandbox", "--from", "epub", "--to", "html", str(path)],
                               stdin=subprocess.DEVNULL, capture_output=True)
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1][:200] if message else f"exit code {completed.returncode}"
        if "memory" in detail.lower():
            raise Quarantine(f"out_of_memory: pandoc ran out of memory ({detail})")
        raise Quarantine(f"corrupt: pandoc could not read the EPUB ({detail})")
    return completed.stdout.decode("utf-8", "replace")
