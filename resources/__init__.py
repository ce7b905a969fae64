"""Dagster resources: typed ports that build ingest's clients from configuration.

Heavy clients (the embedding model, the Presidio analyser) are loaded once per
process and shared by every step that asks for them.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from ingest.chunking.chunk import Chunker, ChunkSettings
from ingest.core.config import (
    TenantConfig,
    TenantRegistry,
    converted_models_dir,
    embed_backend,
    embed_model_name,
    embed_precision,
    ingest_home,
)
from ingest.core.storage import TenantPaths
from ingest.embedding.embed import DEFAULT_BATCH_SIZE, Embedder, embedding_model_key
from ingest.host.protocol import EmbedderSettings, HostClient, HostedEmbedder, HostIdentity, code_fingerprint, connect
from ingest.index.qdrant import QdrantSettings, TenantIndex, open_qdrant
from ingest.parsing.limits import ParseLimits
from ingest.parsing.parse import ParseSettings
from ingest.pii.policy import DEFAULT_ENTITIES, RedactionPolicy, policy_from_config
from ingest.pii.redact import Redactor

# One load at a time: a run may load the model in a background thread while a step asks for it.
_EMBEDDER_LOAD = threading.Lock()


@functools.cache
def _load_embedder(model_name: str, batch_size: int, backend: str, cache_dir: str, precision: str) -> Embedder:
    return Embedder(model_name, batch_size=batch_size, backend=backend, cache_dir=Path(cache_dir), precision=precision)


@functools.cache
def _load_redactor(policy: RedactionPolicy, workers: int) -> Redactor:
    return Redactor(policy, workers=workers)


class StorageResource(dg.ConfigurableResource):
    """INGEST_HOME: the tenant registry and every tenant's intermediate files."""

    home: str

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    def paths(self, tenant: str) -> TenantPaths:
        return TenantPaths.for_tenant(self.home_path, tenant)

    def registry(self) -> TenantRegistry:
        return TenantRegistry(self.home_path)


class QdrantResource(dg.ConfigurableResource):
    """The embedded store under INGEST_HOME, or a Qdrant server when url is set."""

    path: str
    url: str | None = None
    api_key: str | None = None

    def settings(self) -> QdrantSettings:
        return QdrantSettings(path=Path(self.path), url=self.url or None, api_key=self.api_key or None)

    @contextmanager
    def tenant_index(self, tenant: str) -> Iterator[TenantIndex]:
        with open_qdrant(self.settings(), tenant) as client:
            yield TenantIndex(client, tenant)


@functools.cache
def _hosted_embedder(home: str, settings: EmbedderSettings) -> HostedEmbedder | None:
    """The model host's embedder for this process, if a host of `home` serves these settings."""
    connection = connect(Path(home), HostIdentity(code_fingerprint(), settings))
    if connection is None:
        return None
    return HostedEmbedder(HostClient(connection), lambda: _load_embedder(
        settings.model_name, settings.batch_size, settings.backend, settings.cache_dir, settings.precision))


class EmbedderResource(dg.ConfigurableResource):
    """The sentence-transformers model: INGEST_EMBED_MODEL, default all-MiniLM-L6-v2, run by
    INGEST_EMBED_BACKEND (auto, openvino or torch) at INGEST_EMBED_PRECISION (int8 or fp32); converted
    models are kept in cache_dir. When a model host (`ingest host`) of host_home serves the same model,
    the model is the host's, and so are the parsers and the redaction detector (model_host)."""

    model_name: str
    batch_size: int = DEFAULT_BATCH_SIZE
    backend: str = "auto"
    precision: str = "fp32"
    cache_dir: str
    host_home: str | None = None

    def model_key(self) -> str:
        """The vectors' identity (model and precision), known without loading the model."""
        return embedding_model_key(self.model_name, self.precision)

    def _host_settings(self) -> EmbedderSettings:
        return EmbedderSettings(self.model_name, self.batch_size, self.backend, self.cache_dir, self.precision)

    @contextmanager
    def model_host(self) -> Iterator[HostClient | None]:
        """A connection to the model host of host_home while the block runs, if one runs this code with this
        embedding model; else None."""
        connection = (connect(Path(self.host_home), HostIdentity(code_fingerprint(), self._host_settings()))
                      if self.host_home else None)
        if connection is None:
            yield None
            return
        host = HostClient(connection)
        try:
            yield host
        finally:
            host.close()

    def get(self) -> Embedder | HostedEmbedder:
        with _EMBEDDER_LOAD:
            hosted = _hosted_embedder(self.host_home, self._host_settings()) if self.host_home else None
            return hosted or _load_embedder(self.model_name, self.batch_size, self.backend, self.cache_dir,
                                            self.precision)


class ParserResource(dg.ConfigurableResource):
    """Parser settings, and the limits of the worker processes each document is parsed in."""

    ocr_language: str = "eng"
    ocr_dpi: int = 200
    min_text_layer_chars: int = 16
    timeout_seconds: float = 120.0  # per document; the worker is killed after it
    memory_mb: int = 2048  # per worker process
    max_file_mb: int = 200
    max_pages: int = 2000
    max_image_pixels: int = 100_000_000
    workers: int = 2

    def settings(self) -> ParseSettings:
        return ParseSettings(self.ocr_language, self.ocr_dpi, self.min_text_layer_chars)

    def limits(self) -> ParseLimits:
        return ParseLimits(timeout_seconds=self.timeout_seconds, memory_mb=self.memory_mb,
                           max_file_mb=self.max_file_mb, max_pages=self.max_pages,
                           max_image_pixels=self.max_image_pixels, workers=self.workers)


class RedactorResource(dg.ConfigurableResource):
    """Deployment-wide redaction defaults; each tenant's `[tenants.NAME.redaction]` table overrides them."""

    entities: list[str] = list(DEFAULT_ENTITIES)
    score_threshold: float = 0.5
    spacy_model: str = "en_core_web_md"
    workers: int = 2  # processes for large batches (one per core)

    def policy(self, tenant: TenantConfig | None = None) -> RedactionPolicy:
        """The defaults, or a tenant's policy: its configuration table applied to them."""
        base = RedactionPolicy(entities=tuple(self.entities), score_threshold=self.score_threshold,
                               spacy_model=self.spacy_model)
        return policy_from_config(tenant.redaction, base, tenant=tenant.name) if tenant else base

    def get(self, policy: RedactionPolicy) -> Redactor:
        return _load_redactor(policy, self.workers)


class ChunkerResource(dg.ConfigurableResource):
    max_tokens: int = 200
    overlap_tokens: int = 32

    def settings(self) -> ChunkSettings:
        return ChunkSettings(self.max_tokens, self.overlap_tokens)

    def get(self, embedder: Embedder) -> Chunker:
        return Chunker(embedder.token_offsets, self.settings(), embedder.max_tokens)


class ChecksResource(dg.ConfigurableResource):
    """Thresholds of the warning-level checks (retrieval thresholds are per tenant)."""

    min_ocr_confidence: float = 60.0
    min_parse_coverage: float = 0.5  # extracted text against its estimate (ingest.quality.checks.parse_coverage)
    quarantine_warn_above: float = 0.10
    quarantine_error_above: float = 0.50
    freshness_warn_hours: float = 26.0
    freshness_fail_hours: float = 36.0


class NotifierResource(dg.ConfigurableResource):
    """Where on-call alerts go: INGEST_ALERT_KIND (log, webhook, slack, pagerduty), INGEST_ALERT_URL and
    INGEST_ALERT_SECRET (a bearer token or PagerDuty routing key), read through EnvVars."""

    kind: str = "log"
    url: str | None = None
    secret: str | None = None
    log_path: str
    state_path: str

    def notifier(self):
        from ingest.alerts.notify import build_notifier

        return build_notifier(self.kind, url=self.url, secret=self.secret, log_path=Path(self.log_path))

    def state(self):
        from ingest.alerts.notify import AlertState

        return AlertState(Path(self.state_path))


def _env(name: str) -> dg.EnvVar | None:
    """An EnvVar for a setting that is set, so its value never shows in the UI; None when unset."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def default_resources(home: Path | None = None) -> dict[str, dg.ConfigurableResource]:
    """Resources from the environment: INGEST_HOME (or `home`), INGEST_EMBED_MODEL, INGEST_EMBED_BACKEND,
    INGEST_EMBED_PRECISION, QDRANT_URL, QDRANT_API_KEY."""
    home = home or ingest_home()
    qdrant = QdrantResource(path=str(home / "qdrant"), url=_env("QDRANT_URL"), api_key=_env("QDRANT_API_KEY"))
    return {
        "storage": StorageResource(home=str(home)),
        "qdrant": qdrant,
        "embedder": EmbedderResource(model_name=embed_model_name(), backend=embed_backend(),
                                     precision=embed_precision(), cache_dir=str(converted_models_dir(home)),
                                     host_home=str(home)),
        "parser": ParserResource(),
        "redactor": RedactorResource(),
        "chunker": ChunkerResource(),
        "thresholds": ChecksResource(),
        "notifier": NotifierResource(
            kind=os.environ.get("INGEST_ALERT_KIND") or "log", url=_env("INGEST_ALERT_URL"),
            secret=_env("INGEST_ALERT_SECRET"), log_path=str(home / "alerts" / "alerts.jsonl"),
            state_path=str(home / "alerts" / "state.json"),
        ),
    }
