"""The fork server that parse and redaction workers start from.

It imports the parsers and loads the language models once (ingest.parsing.worker_preload); every
worker forked from it starts with them in memory, shared copy-on-write.
"""

from __future__ import annotations

import multiprocessing

PRELOAD_MODULE = "ingest.parsing.worker_preload"


def worker_context() -> multiprocessing.context.BaseContext:
    """The fork server's context, for parse and redaction workers alike."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD_MODULE])  # effective when this starts the fork server
    return context
