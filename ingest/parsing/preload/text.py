"""unstructured's core and its partitioners' entry point, its text classifier's spaCy model and langdetect's
profiles (every type but images)."""

from ingest.parsing.preload import load_quietly


def _load() -> None:
    import langdetect
    import unstructured.partition.auto  # noqa: F401

    import ingest.parsing.isolation  # noqa: F401  (and with it ingest.parsing.parse and ingest.parsing.limits)
    from ingest.parsing.classify import classify_paragraphs

    sentence = "The parsers are loaded and the language models are ready."
    classify_paragraphs([sentence])  # loads spaCy's model, and routes unstructured's analyses through batches
    langdetect.detect(sentence)  # loads langdetect's profiles: a worker detects every document's language


load_quietly(_load)
