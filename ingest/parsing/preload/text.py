"""unstructured's core and its partitioners' entry point, its text classifier's spaCy model and langdetect's
profiles (every type but images)."""

from ingest.parsing.preload import load_quietly


def _load() -> None:
    import langdetect
    import unstructured.partition.auto  # noqa: F401
    from unstructured.partition.text import element_from_text

    import ingest.parsing.isolation  # noqa: F401  (and with it ingest.parsing.parse and ingest.parsing.limits)

    sentence = "The parsers are loaded and the language models are ready."
    element_from_text(sentence)  # loads spaCy's model
    langdetect.detect(sentence)  # loads langdetect's profiles, which unstructured uses for every document


load_quietly(_load)
