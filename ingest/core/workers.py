"""The fork server that parse and redaction workers start from.

It imports the parsers and loads the language models once (ingest.parsing.worker_preload); every
worker forked from it starts with them in memory, shared copy-on-write.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal

PRELOAD_MODULE = "ingest.parsing.worker_preload"


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


def worker_context() -> multiprocessing.context.BaseContext:
    """The fork server's context, for parse and redaction workers alike."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD_MODULE])  # effective when this starts the fork server
    return context
