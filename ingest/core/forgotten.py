"""Documents erased with `ingest forget`: kept out of later runs while their file is unchanged."""

from __future__ import annotations

import json

from ingest.core.storage import TenantPaths


def read_forgotten(paths: TenantPaths) -> dict[str, str]:
    """doc id -> sha256 of documents erased with `ingest forget`."""
    if not paths.forgotten.is_file():
        return {}
    return json.loads(paths.forgotten.read_text(encoding="utf-8"))
