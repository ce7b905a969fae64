"""Where a tenant's state lives under INGEST_HOME: one file per stage (written atomically, see
ingest.core.files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.core.config import validate_tenant


@dataclass(frozen=True, slots=True)
class TenantPaths:
    """The files of one tenant's pipeline state, one per stage."""

    root: Path

    @classmethod
    def for_tenant(cls, home: Path, tenant: str) -> TenantPaths:
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
    def run_lock(self) -> Path:
        """Held by the tenant's run in progress: one `ingest run` per tenant at a time."""
        return self.root / ".run.lock"

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
