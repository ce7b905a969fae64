"""Workers fork from a server that already holds what the batch needs: the parsers of its file types, and
the redaction detector for a large batch, never torch or transformers.

The fork server is started once per process, by the first pool: each case runs in a fresh interpreter.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from ingest.parsing.preload import EVERYTHING, PACKAGE, REDACTION, SETUP, TEXT, preload_modules

_IN_A_NEW_WORKER = textwrap.dedent("""
    import json, os, sys
    from concurrent.futures import ProcessPoolExecutor

    from ingest.core.workers import worker_context


    def held():
        from ingest.pii.recognizers import name_lexicon
        from ingest.pii.redact import _load_ner

        modules = ("torch", "transformers", "unstructured.partition.md", "unstructured.partition.docx",
                   "pdfminer.layout", "pytesseract", "unstructured.partition.auto")
        return {"pid": os.getpid(), "ner_models": _load_ner.cache_info().currsize,
                "lexicons": name_lexicon.cache_info().currsize,
                **{name: sys.modules.get(name) is not None for name in modules}}


    if __name__ == "__main__":
        preload = json.loads(sys.argv[1])
        context = worker_context(*([preload] if preload else []))
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            print(json.dumps({**pool.submit(held).result(), "parent": os.getpid()}))
""")


def _what_a_new_worker_holds(tmp_path, preload: tuple[str, ...] | None) -> dict:
    script = tmp_path / "worker_holds.py"
    script.write_text(_IN_A_NEW_WORKER, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), json.dumps(preload)], capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_by_default_a_new_worker_starts_with_the_ner_model_and_name_lexicon_and_without_torch(tmp_path):
    held = _what_a_new_worker_holds(tmp_path, None)  # the default: what the redaction workers fork from

    assert held["pid"] != held["parent"]
    assert held["ner_models"] == 1 and held["lexicons"] == 1  # loaded once, in the fork server
    # Neither is used by a parser or the NER model; loading a spaCy model would import transformers
    # through presidio's spaCy plugin (seconds, and address space counted against the worker's cap).
    assert held["torch"] is False and held["transformers"] is False


def test_a_one_markdown_batch_preloads_its_parser_and_nothing_for_other_types(tmp_path):
    held = _what_a_new_worker_holds(tmp_path, preload_modules({"md"}, redaction=False))

    assert held["unstructured.partition.md"] and held["unstructured.partition.auto"]
    assert not held["unstructured.partition.docx"] and not held["pdfminer.layout"] and not held["pytesseract"]
    assert held["ner_models"] == 0 and held["lexicons"] == 0  # a redaction worker loads them if there is text
    assert held["torch"] is False and held["transformers"] is False


def test_a_large_batch_preloads_the_detector_for_its_redaction_workers(tmp_path):
    held = _what_a_new_worker_holds(tmp_path, preload_modules({"md"}, redaction=True))

    assert held["unstructured.partition.md"] and not held["unstructured.partition.docx"]
    assert held["ner_models"] == 1 and held["lexicons"] == 1


@pytest.mark.parametrize(("types", "redaction", "groups"), [
    ({"md"}, False, {TEXT, f"{PACKAGE}.web"}),
    ({"pdf", "docx"}, True, {TEXT, f"{PACKAGE}.pdf", f"{PACKAGE}.office", REDACTION}),
    ({"odt", "epub"}, False, {TEXT, f"{PACKAGE}.office", f"{PACKAGE}.web"}),  # converted first
    ({"png"}, False, {f"{PACKAGE}.images"}),  # OCR only: no text classifier
    ({"eml", "msg", "jpeg"}, False, {TEXT, f"{PACKAGE}.mail", f"{PACKAGE}.images"}),
    ({"zip"}, False, set()),  # quarantined unsupported by the worker: no parser to load
])
def test_a_batch_preloads_the_groups_of_its_file_types(types, redaction, groups):
    modules = preload_modules(types, redaction=redaction)

    assert modules[0] == SETUP  # the process set-up first
    assert set(modules[1:]) == groups
    assert list(modules) == [module for module in EVERYTHING if module in modules]  # a stable order


def test_choosing_the_preload_leaves_the_pipeline_process_as_it_was():
    """Only the fork server hides torch and transformers; the pipeline's own process embeds with them."""
    import ingest.parsing.isolation  # noqa: F401

    assert sys.modules.get("torch", "not loaded") is not None
    assert sys.modules.get("transformers", "not loaded") is not None
