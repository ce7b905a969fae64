"""A real crash: `ingest run` killed with SIGKILL, with its whole process group (the fork server and
its workers), in the middle of embedding and then in the middle of the upserts into the embedded
Qdrant store. Nothing gets to clean up. The next run succeeds and the tenant's index converges: one
point per chunk, no other point, every document indexed and written whole by one run.

The kills are placed by what the runs show, not by timing: the embedding step logs its progress
after each slice of 512 texts, and the index stage, asked by INGEST_TEST_HOLD, holds after its first
batch of upserts (flushed to the shard) and says so, and is killed there. (tests/unit/test_stages.py
raises injected failures at the same places, in process.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import dagster as dg
import polars as pl
import psutil
import pytest

from benchmarks.corpus import Section, write_html, write_markdown
from ingest.core.storage import TenantPaths
from ingest.index.qdrant import QdrantSettings, TenantIndex, open_qdrant
from ingest.index.stage import HOLD_VARIABLE
from tests.e2e.commands import environment, ingest, json_lines, last_json, start

pytestmark = pytest.mark.e2e

TENANT = "orchard"
# 540 chunks: the embedding step reports after 512 and 540 texts, so the first run is killed between two
# slices; no more than that, since the chunks are embedded twice (a full slice and then all of them).
DOCUMENTS, SECTIONS = 6, 90
FRUIT = ("apples", "pears", "plums", "quinces", "cherries", "apricots", "figs", "medlars", "damsons",
         "greengages", "lemons")
WAIT_SECONDS = 600  # for a run to show what the test waits for: a guard against a hang, not a measure
RUN_ID = re.compile(r" - ingest_tenant - ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) - ")


def write_ledgers(folder: Path) -> dict[str, int]:
    """Markdown and HTML ledgers, one chunk per section (a heading starts a chunk): source -> chunks."""
    chunks = {}
    for number, fruit in enumerate(FRUIT[:DOCUMENTS]):
        kind, write = (("md", write_markdown), ("html", write_html))[number % 2]
        source = f"ledger-{number:02d}.{kind}"
        write(folder / source, [Section(f"Crate {crate} of the {fruit} ledger", (
            f"The {fruit} crate numbered {crate} in ledger {number} was weighed, labelled and stacked in "
            f"aisle {crate % 7}.",)) for crate in range(SECTIONS)])
        chunks[source] = SECTIONS
    return chunks


class Run:
    """`ingest run` in a session (and process group) of its own, its log read line by line as it comes."""

    def __init__(self, home: Path, *args: str, hold: str | None = None) -> None:
        env = environment(home) | ({HOLD_VARIABLE: hold} if hold else {})
        self.process = start("run", "--tenant", TENANT, "--json", *args, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, bufsize=1, start_new_session=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def log(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, pattern: str) -> re.Match:
        """The first log line matching `pattern`, once the run has printed it."""
        expression = re.compile(pattern)
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if found := expression.search(line):
                        return found
                seen = len(self.lines)
                if self._ended:
                    pytest.fail(f"the run ended (exit {self.process.wait()}) without logging /{pattern}/:\n"
                                + "".join(self.lines)[-3000:])
                if not self._changed.wait(timeout=WAIT_SECONDS):
                    pytest.fail(f"no log line /{pattern}/ in {WAIT_SECONDS} s:\n" + "".join(self.lines)[-3000:])

    @property
    def run_id(self) -> str:
        return RUN_ID.search(self.log()).group(1)

    def kill(self) -> list[str]:
        """SIGKILL to the whole process group at once; then no process of the group, and none the run
        started, may be left. Returns the command lines of the group's processes at the kill."""
        group = self.process.pid  # the session leader's pid is the group's id
        started = [psutil.Process(group), *psutil.Process(group).children(recursive=True)]
        members = [process for process in psutil.process_iter() if _group_of(process) == group]
        command_lines = [_command_line(process) for process in members]
        os.killpg(group, signal.SIGKILL)
        assert self.process.wait(timeout=60) == -signal.SIGKILL
        self._reader.join(timeout=60)
        for _ in range(300):
            survivors = [process for process in {*started, *members} if _alive(process)]
            survivors += [process for process in psutil.process_iter() if _group_of(process) == group
                          and _alive(process)]
            if not survivors:
                return command_lines
            time.sleep(0.1)
        pytest.fail(f"still running after SIGKILL to the group: {[_command_line(p) for p in survivors]}")


def _group_of(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return f"pid {process.pid}"


@pytest.fixture
def launch():
    """`launch(home, *args)` starts a Run; any still going when the test ends is killed with its group."""
    runs: list[Run] = []

    def start_run(home: Path, *args: str, hold: str | None = None) -> Run:
        runs.append(Run(home, *args, hold=hold))
        return runs[-1]

    yield start_run
    for run in runs:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait(timeout=60)


def stored(home: Path) -> tuple[str | None, dict[str, set[str]]]:
    """(the collection the tenant serves, collection -> point ids), read from the store in this process."""
    with open_qdrant(QdrantSettings(path=home / "qdrant"), TENANT) as client:
        index = TenantIndex(client, TENANT)
        names = client.collections()
        return index.serving_collection(), {name: index.point_ids(name) for name in names}


def test_a_run_killed_during_embedding_and_one_killed_during_the_upserts_converge_on_the_next_run(tmp_path, launch):
    home, source = tmp_path / "state", tmp_path / "ledgers"
    chunks = write_ledgers(source)
    total = sum(chunks.values())
    paths = TenantPaths.for_tenant(home, TENANT)

    # (a) killed between two slices of the embedding
    first = launch(home, "--source", str(source))
    embedded, wanted = map(int, first.wait_for(r"embedded (\d+)/(\d+) new chunk texts").groups())
    assert (embedded, wanted) == (512, total)
    group = first.kill()
    assert any("forkserver" in command for command in group), group  # the parse workers' fork server died too
    assert not list(paths.root.glob("embedding_cache/*.parquet"))  # killed before the step wrote its vectors
    assert not paths.manifest.exists() and stored(home) == (None, {})

    # (b) killed between two points of the upserts into the staging collection
    second = launch(home, hold="after-upserts=1")
    second.wait_for(rf"embedded {total} new chunk texts with .*; 0 came from the cache")  # nothing half-cached
    expected = set(pl.read_parquet(paths.enriched_chunks)["point_id"])
    assert len(expected) == total
    written = int(second.wait_for(rf"{HOLD_VARIABLE}=after-upserts=1: holding after (\d+) until killed").group(1))
    second.kill()
    serving, collections = stored(home)
    [staged] = collections.values()
    assert serving is None and not paths.manifest.exists()  # nothing was published or recorded as done
    assert 0 < written == len(staged) < total and staged < expected  # the kill came halfway through

    # the next run completes the work and records it
    third = last_json(ingest(home, "run", "--tenant", TENANT, "--json", timeout=WAIT_SECONDS))
    assert third["docs"]["new"] == DOCUMENTS and third["docs"]["quarantined"] == 0
    assert third["chunks"] == {"total": total, "embedded": 0}  # the second run's vectors were all cached
    assert third["points"] == {"upserted": total, "deleted": 0}

    points = json_lines(ingest(home, "export", "--tenant", TENANT, "--jsonl"))
    assert len(points) == len({point["id"] for point in points}) == total  # no point twice
    assert {point["id"] for point in points} == expected  # none missing, none left over
    by_source: dict[str, list[dict]] = {}
    for point in points:
        by_source.setdefault(point["source"], []).append(point)
    assert {source: len(found) for source, found in by_source.items()} == chunks
    for source, found in by_source.items():
        assert sorted(point["chunk_index"] for point in found) == list(range(chunks[source])), source
        writers = {point["run_id"] for point in found}  # a document is written whole, by one run
        assert len(writers) == 1 and writers <= {second.run_id, third["run_id"]}, (source, writers)

    status = last_json(ingest(home, "status", "--tenant", TENANT, "--json"))
    assert {d["source"]: (d["status"], d["chunks"]) for d in status["documents"]} == {
        source: ("indexed", count) for source, count in chunks.items()}
    assert status["points"] == total
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:  # the killed runs are not left in progress on the instance
        for killed in (first.run_id, second.run_id):
            run = instance.get_run_by_id(killed)
            assert run.is_finished and not run.is_success, (killed, run.status)
        assert instance.get_run_by_id(third["run_id"]).is_success
    finally:
        instance.dispose()
