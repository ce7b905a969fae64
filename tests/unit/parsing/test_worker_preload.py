"""Workers fork from a server that already holds the parsers and the redaction detector."""

import os
import sys
from concurrent.futures import ProcessPoolExecutor

from ingest.core.workers import worker_context
from ingest.pii.recognizers import name_lexicon
from ingest.pii.redact import _load_ner


def _what_a_new_worker_holds() -> tuple[int, int, int]:
    return os.getpid(), _load_ner.cache_info().currsize, name_lexicon.cache_info().currsize


def _heavy_libraries_in_a_worker() -> dict[str, bool]:
    return {name: sys.modules.get(name) is not None for name in ("torch", "transformers")}


def test_a_new_worker_starts_with_the_ner_model_and_name_lexicon_loaded():
    with ProcessPoolExecutor(max_workers=1, mp_context=worker_context()) as pool:
        pid, models, lexicons = pool.submit(_what_a_new_worker_holds).result()

    assert pid != os.getpid()
    assert models == 1  # the default policy's model, loaded once in the fork server
    assert lexicons == 1


def test_workers_never_load_torch_or_transformers():
    """Neither is used by a parser or the NER model; loading a spaCy model would import transformers
    through presidio's spaCy plugin (seconds, and address space counted against the worker's cap)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=worker_context()) as pool:
        loaded = pool.submit(_heavy_libraries_in_a_worker).result()

    assert loaded == {"torch": False, "transformers": False}
