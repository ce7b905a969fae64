"""Recognisers for the PII that Presidio's defaults miss or over-match, one module per kind of entity.
Every recogniser returns `Finding`s: offsets, type, score and its own name. Values never leave."""

from ingest.pii.recognizers.addresses import find_street_addresses
from ingest.pii.recognizers.common import Finding, has_context
from ingest.pii.recognizers.lexicon import NameLexicon, name_lexicon, stop_words
from ingest.pii.recognizers.names import ROLE_NAME_SCORE, find_names
from ingest.pii.recognizers.numbers import (
    find_card_numbers,
    find_driver_licences,
    find_ibans,
    find_social_security_numbers,
    luhn_valid,
)
from ingest.pii.recognizers.patterns import find_denied, find_patterns
from ingest.pii.recognizers.people import person_span_parts, refine_people
from ingest.pii.recognizers.phones import find_phone_numbers

__all__ = [
    "ROLE_NAME_SCORE",
    "Finding",
    "NameLexicon",
    "find_card_numbers",
    "find_denied",
    "find_driver_licences",
    "find_ibans",
    "find_names",
    "find_patterns",
    "find_phone_numbers",
    "find_social_security_numbers",
    "find_street_addresses",
    "has_context",
    "luhn_valid",
    "name_lexicon",
    "person_span_parts",
    "refine_people",
    "stop_words",
]
