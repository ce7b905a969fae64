"""Presidio's own pattern recognisers, kept where they are strong (e-mail, IBANs with the mod-97
check, US SSNs, IP addresses), and a tenant's deny list.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence

from ingest.core.imports import modules_hidden
from ingest.pii.recognizers.common import Finding

# --- Presidio's pattern recognisers ------------------------------------------------------

PRESIDIO_PATTERN_ENTITIES = ("EMAIL_ADDRESS", "IBAN_CODE", "US_SSN", "IP_ADDRESS")


@functools.cache
def presidio_pattern_recognizers() -> tuple:
    """Presidio's checksum- and pattern-based recognisers for the entities they handle well."""
    # presidio_analyzer's package imports its optional Hugging Face engine, which imports transformers'
    # pipelines when transformers is installed (it is, for the embedding model): several seconds of
    # every run that redacts or checks residue, for an engine never used here; and its device detection
    # imports PyTorch (about 2.5 s) to look for a GPU that no pattern uses. Unless they are loaded already,
    # presidio sees both as absent while it imports, as it does where they are not installed.
    with modules_hidden("transformers", "torch"):
        from presidio_analyzer.predefined_recognizers import (
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            UsSsnRecognizer,
        )

    # Presidio logs the text of a value that fails its checksum: never let that reach a log.
    logging.getLogger("presidio-analyzer").setLevel(logging.CRITICAL + 1)
    return (EmailRecognizer(), IbanRecognizer(), UsSsnRecognizer(), IpRecognizer())


# What a text must hold for each recogniser's patterns to match at all: most texts skip most of them.
_PATTERN_PREFILTERS = {
    "EmailRecognizer": re.compile(r"@"),
    "IbanRecognizer": re.compile(r"[A-Z]{2}[0-9]{2}"),
    "UsSsnRecognizer": re.compile(r"[0-9]{3}"),
    "IpRecognizer": re.compile(r"[0-9]\.[0-9]|[0-9A-Fa-f]:[0-9A-Fa-f:]|::"),
}


def find_patterns(text: str, entities: Sequence[str]) -> list[Finding]:
    wanted = [entity for entity in PRESIDIO_PATTERN_ENTITIES if entity in entities]
    findings = []
    for recognizer in presidio_pattern_recognizers():
        supported = [entity for entity in recognizer.supported_entities if entity in wanted]
        prefilter = _PATTERN_PREFILTERS.get(type(recognizer).__name__)
        if not supported or (prefilter is not None and prefilter.search(text) is None):
            continue
        for result in recognizer.analyze(text, entities=supported, nlp_artifacts=None) or []:
            findings.append(Finding(result.start, result.end, result.entity_type, result.score,
                                    type(recognizer).__name__))
    return findings


# --- deny list -----------------------------------------------------------------------

def find_denied(text: str, terms: Sequence[str]) -> list[Finding]:
    if not terms:
        return []
    pattern = _deny_pattern(tuple(terms))
    return [Finding(m.start(), m.end(), "CUSTOM", 1.0, "deny-list") for m in pattern.finditer(text)]


@functools.cache
def _deny_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
