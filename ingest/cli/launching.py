"""What the command line needs from whatever launches runs: the `Launcher` port and its results.

The entry point (launcher.main) hands in the Dagster implementation; tests hand in small fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class TenantBusy(RuntimeError):
    """Another run of the same tenant holds its lock."""


class LaunchFailed(RuntimeError):
    """The run could not be handed to the deployment, or it never left the queue; says what to check."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How one tenant's run ended: its id, success, wall seconds, each asset's metadata, the error."""

    tenant: str
    run_id: str
    success: bool
    seconds: float
    metadata: dict[str, dict] = field(default_factory=dict)  # asset name -> metadata values
    error: str | None = None
    worker: str | None = None  # host:pid of the process that executed the run (its last retry)

    def value(self, asset: str, key: str, default: object = 0) -> object:
        """One metadata value of one asset, `default` when the run did not materialise it."""
        return self.metadata.get(asset, {}).get(key, default)

    def summary(self) -> dict:
        """The stable JSON summary printed by `ingest run --json`."""
        return {
            "tenant": self.tenant,
            "run_id": self.run_id,
            "docs": {
                "seen": self.value("source_documents", "seen"),
                "new": self.value("source_documents", "new"),
                "changed": self.value("source_documents", "changed"),
                "unchanged": self.value("source_documents", "unchanged"),
                "deleted": self.value("source_documents", "deleted"),
                "quarantined": self.value("parsed_documents", "quarantined"),
                "skipped": self.value("source_documents", "skipped"),
            },
            "chunks": {"total": self.value("chunks", "chunks"), "embedded": self.value("embeddings", "embedded")},
            "points": {"upserted": self.value("qdrant_index", "upserted"),
                       "deleted": self.value("qdrant_index", "deleted_points")},
            "seconds": round(self.seconds, 2),
            "worker": self.worker,
        }


class Launcher(Protocol):
    """Starts a tenant's run and the UI, and describes past runs."""

    def run_tenant(self, tenant: str, *, log_level: str, allow_mass_delete: bool,
                   wait_seconds: float) -> RunOutcome:
        """Run every stage for one tenant; raise TenantBusy when another run of it holds it too long."""
        ...

    def describe_run(self, run_id: str) -> dict:
        """{"run_id", "status", "started", "ended", "url"} of a run."""
        ...

    def ui(self, host: str, port: int) -> int:
        """Serve the UI until interrupted; the exit code."""
        ...
