"""A document's main language, detected once where its text is parsed.

The parse worker detects it on the unredacted text (a language code says nothing about a person) and
the parsed-documents table keeps it, so later stages read it instead of running langdetect again.
unstructured's partitioners would detect it too, on the whole text, for metadata that is not kept: they
are told the language instead (`PARTITION_LANGUAGES`).
"""

from __future__ import annotations

from collections.abc import Iterable

LANGUAGE_SAMPLE_CHARS = 4000  # langdetect's verdict settles well within this many characters
UNKNOWN = "unknown"
# Given to unstructured's partitioners so that they skip their own detection, whose result (element
# metadata) is dropped; it changes no element (unstructured's classifier checks English either way).
PARTITION_LANGUAGES = ["eng"]


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's main language, or 'unknown'."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0  # langdetect is random unless seeded
    sample = text[:LANGUAGE_SAMPLE_CHARS]
    if sum(character.isalpha() for character in sample) < 20:
        return UNKNOWN
    try:
        return detect(sample)
    except LangDetectException:
        return UNKNOWN


def document_language(texts: Iterable[str]) -> str:
    """The main language of a document's texts (its elements, in order), read from their beginning."""
    sample: list[str] = []
    size = 0
    for text in texts:
        if size >= LANGUAGE_SAMPLE_CHARS:
            break
        sample.append(text)
        size += len(text) + 1
    return detect_language(" ".join(sample))
