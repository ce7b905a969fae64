"""The redaction detector: the default policy's NER model and the name lexicon (a tenant naming another
model loads it per worker)."""

from ingest.parsing.preload import load_quietly


def _load() -> None:
    from ingest.pii.policy import RedactionPolicy
    from ingest.pii.redact import PiiDetector

    PiiDetector(RedactionPolicy()).detect(["Jane Roe wrote to jane@example.com from 10.0.0.1."])


load_quietly(_load)
