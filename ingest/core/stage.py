"""What every stage reports, and the helpers stages share.

Each stage (`ingest/<package>/stage.py`) works over a tenant's state files, incrementally: it reads its
upstream table, works out from fingerprints which documents need work (ingest.core.fingerprints),
computes only those, and atomically rewrites its own table. Heavy clients are passed as factories and
built only when there is work for them, so an unchanged re-run loads no model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StageResult:
    """Counts and timings a stage reports (as Dagster metadata)."""

    metadata: dict = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def elapsed(started: float) -> float:
    """Seconds since `started` (a `time.perf_counter()` reading), to the millisecond."""
    return round(time.perf_counter() - started, 3)


@contextmanager
def loading_beside(load: Callable[[], object] | None) -> Iterator[None]:
    """Call `load` in a background thread while the block runs; wait for it when the block ends.

    A failed load is only logged: the stage that needs what it loads loads it again and fails there,
    in its own step, with its own error."""
    if load is None:
        yield
        return

    def run() -> None:
        try:
            load()
        except Exception as error:  # reported by the stage that needs it
            logging.getLogger(__name__).debug(f"loading in the background failed: {error}")

    thread = threading.Thread(target=run, name="ingest-load-beside")
    thread.start()
    try:
        yield
    finally:
        thread.join()
