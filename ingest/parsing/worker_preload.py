"""Imported once by the workers' fork server (see ingest.parsing.isolation), never by the pipeline.

Importing the parsers, loading unstructured's spaCy model and building the redaction
detector (its spaCy NER model and name lexicon) takes seconds; done here, every parse
or redaction worker forked from the server starts with them in memory, shared
copy-on-write.

- Numerical libraries get one thread unless told otherwise: threads do not survive
  a fork, and the worker parses one document at a time anyway.
- PyTorch is hidden from this process and so from the workers. spaCy's thinc imports
  it whenever it is installed, which costs each worker about 2 s and 0.7 GB of
  address space (counted against its memory cap), and no parser here uses it:
  there is no neural layout model, the NER model runs on thinc's NumPy ops, and
  the embedding model runs elsewhere.
- transformers is hidden too: nothing here uses it, and presidio would import it for nothing.
- polars is not imported: its thread pool would not survive the fork.

A failure here is not fatal: a worker then imports what it needs itself and
reports its own errors.
"""

import os
import sys

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
sys.modules.setdefault("torch", None)  # `import torch` now raises ImportError: thinc runs without it
# Loading a spaCy model imports every package that registers spaCy factories, presidio_analyzer among
# them, and presidio_analyzer imports transformers (about 2 s) for an engine unused here.
sys.modules.setdefault("transformers", None)


def _load_parsers() -> None:
    import langdetect
    import msoffcrypto  # noqa: F401  (legacy Office files' encryption check)
    import pdfminer.high_level  # noqa: F401
    import pdfminer.layout  # noqa: F401
    import pypdf  # noqa: F401
    import pypdfium2  # noqa: F401
    import pytesseract  # noqa: F401
    import unstructured.partition.auto  # noqa: F401
    import unstructured.partition.docx  # noqa: F401
    import unstructured.partition.email  # noqa: F401
    import unstructured.partition.html  # noqa: F401
    import unstructured.partition.md  # noqa: F401
    import unstructured.partition.msg  # noqa: F401
    import unstructured.partition.pptx  # noqa: F401
    import unstructured.partition.xlsx  # noqa: F401
    import xlrd  # noqa: F401  (.xls, through unstructured's spreadsheet partitioner)
    from PIL import Image  # noqa: F401
    from unstructured.partition.text import element_from_text

    import ingest.parsing.isolation  # noqa: F401  (and with it ingest.parsing.parse and ingest.parsing.limits)

    sentence = "The parsers are loaded and the language models are ready."
    element_from_text(sentence)  # loads spaCy's model
    langdetect.detect(sentence)  # loads langdetect's profiles, which unstructured uses for every document


def _load_redaction() -> None:
    from ingest.pii.policy import RedactionPolicy
    from ingest.pii.redact import PiiDetector

    # The default policy's model and the name lexicon; a tenant naming another model loads it per worker.
    PiiDetector(RedactionPolicy()).detect(["Jane Roe wrote to jane@example.com from 10.0.0.1."])


for _load in (_load_parsers, _load_redaction):
    try:
        _load()
    except Exception:  # noqa: BLE001
        pass
