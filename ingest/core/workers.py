"""The fork server that parse and redaction workers start from.

It imports the parsers and loads the language models once (ingest.parsing.preload: those the first batch
needs); every worker forked from it starts with them in memory, shared copy-on-write.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
from collections.abc import Sequence

# Named, not imported: the modules run in the fork server only (ingest.parsing.preload picks them per batch).
PRELOAD_SETUP = "ingest.parsing.preload.setup"
REDACTION_PRELOAD = "ingest.parsing.preload.redaction"


def contain_this_process(memory_mb: int) -> None:
    """In a new worker: lead a process group that SIGTERM (a timeout) kills whole, and cap the address space.

    What the worker starts (Tesseract, LibreOffice, pandoc) shares the group and inherits the cap.
    """
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, _kill_process_group)
    cap = memory_mb << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _kill_process_group(signum: int, frame: object) -> None:
    """SIGTERM: end this worker and whatever it started at once."""
    os.killpg(os.getpid(), signal.SIGKILL)


def worker_context(preload: Sequence[str] = (PRELOAD_SETUP, REDACTION_PRELOAD)) -> multiprocessing.context.BaseContext:
    """The fork server's context, for parse and redaction workers alike.

    `preload`: the modules the fork server imports before its first fork, if this call's pool is the one
    that starts it (the first in this process); a later pool shares the server as it is, and its workers
    import what it lacks themselves. The default holds the redaction detector alone.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))  # effective when this starts the fork server
    return context


def stop_worker_server() -> bool:
    """End the fork server, and the parsers and models it holds (about 0.6 GB), once a run needs no more
    workers; a later pool starts a new one with its own preload. Whether one was running.

    The standard library has no public call for it: this is the one its own tests use, and where a
    Python lacks it the server simply stays until the process ends.
    """
    from multiprocessing import forkserver

    server = forkserver._forkserver
    if getattr(server, "_forkserver_pid", None) is None or not hasattr(server, "_stop"):
        return False
    server._stop()
    return True
