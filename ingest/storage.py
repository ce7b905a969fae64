"""Where a tenant's state lives under INGEST_HOME, and atomic writes to it.

Every file is written to a temporary name in the same folder and renamed into
place, so a crash never leaves a half-written parquet file or manifest behind.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the workers' fork server loads this module and must not
    import polars as pl  # hold polars' thread pool, which would not survive a fork


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_replace(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600; follow the umask instead
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_replace(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    _atomic_replace(path, lambda temporary: frame.write_parquet(temporary))


def read_parquet(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: materialise the upstream stage first (`ingest run --tenant ...`)"
        )
    import polars as pl

    return pl.read_parquet(path)


@dataclass(frozen=True, slots=True)
class TenantPaths:
    """The files of one tenant's pipeline state, one per stage."""

    root: Path

    @classmethod
    def for_tenant(cls, home: Path, tenant: str) -> TenantPaths:
        from ingest.config import validate_tenant

        return cls(home / "tenants" / validate_tenant(tenant))

    @property
    def source_documents(self) -> Path:
        return self.root / "source_documents.parquet"

    @property
    def parsed_documents(self) -> Path:
        return self.root / "parsed_documents.parquet"

    @property
    def elements(self) -> Path:
        """Unredacted elements, written by earlier versions only: removed when found."""
        return self.root / "elements.parquet"

    @property
    def redacted_elements(self) -> Path:
        return self.root / "redacted_elements.parquet"

    @property
    def redaction_audit(self) -> Path:
        """Per document: counts by entity type, policy version and recogniser set (never values)."""
        return self.root / "redaction_audit.parquet"

    @property
    def chunks(self) -> Path:
        return self.root / "chunks.parquet"

    @property
    def enriched_chunks(self) -> Path:
        return self.root / "enriched_chunks.parquet"

    def embedding_cache(self, model_key: str) -> Path:
        """Vectors by chunk text hash, one file per embedding model."""
        return self.root / "embedding_cache" / f"{model_key}.parquet"

    @property
    def staging(self) -> Path:
        """What the last index stage staged, for the publish stage."""
        return self.root / "staging.json"

    @property
    def published(self) -> Path:
        """When and by which run the tenant's index was last published."""
        return self.root / "published.json"

    @property
    def candidate_evaluation(self) -> Path:
        """The retrieval evaluation of the staged index, awaiting publication."""
        return self.root / "evaluations" / "candidate.json"

    @property
    def published_evaluation(self) -> Path:
        """The evaluation of the index that serves now: the baseline for regressions."""
        return self.root / "evaluations" / "published.json"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def forgotten(self) -> Path:
        """Documents erased by `ingest forget`, skipped while their file is unchanged."""
        return self.root / "forgotten.json"


    @property
    def previous_manifest(self) -> Path:
        """The manifest of the index published before the current one."""
        return self.root / "manifest.previous.parquet"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.parquet"
