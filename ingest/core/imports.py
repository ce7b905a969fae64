"""Import helpers for libraries whose optional integrations cost time or phone home."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def modules_hidden(*names: str) -> Iterator[None]:
    """Within the block, `import NAME` raises ImportError for each name not loaded already.

    Libraries that treat a missing optional package as "feature off" then take that path,
    as they would where the package is not installed.
    """
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system reads None as "absent"
    try:
        yield
    finally:
        for name in hidden:
            sys.modules.pop(name, None)
