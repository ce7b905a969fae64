"""Asset checks: the quality gates, shown in the UI with what failed and where.

Blocking checks with ERROR severity stop what comes after them in the run:
pii_residue stops chunking and embedding, index_consistency and
retrieval_quality stop the staged index from being published.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.chunks import chunks
from assets.parsed_documents import PARSED_DOCUMENTS, REDACTED_DOCUMENTS
from assets.published_index import published_index
from assets.qdrant_index import qdrant_index
from ingest.index.retrieval import RetrievalSettings
from ingest.quality import checks
from ingest.quality.golden import Thresholds
from resources import (
    ChecksResource,
    ChunkerResource,
    EmbedderResource,
    QdrantResource,
    RedactorResource,
    StorageResource,
)


def tenant_of(context: dg.AssetCheckExecutionContext) -> str:
    """The tenant whose partition the run materialises (checks run in the same run as their asset)."""
    tenant = context.run.tags.get("dagster/partition")
    if not tenant:
        raise dg.Failure(description="this check runs with a tenant's ingestion run (a partition of the "
                         "asset), not on its own", allow_retries=False)
    return tenant


def result(outcome: checks.CheckOutcome) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.ERROR if outcome.severity == checks.ERROR else dg.AssetCheckSeverity.WARN
    metadata = {key: dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
                for key, value in outcome.metadata.items() if value is not None}
    return dg.AssetCheckResult(passed=outcome.passed, severity=severity, description=outcome.description,
                               metadata=metadata)


@dg.asset_check(asset=REDACTED_DOCUMENTS, blocking=True,
                description="PII that patterns and checksums still find after redaction (e-mail, phone, card, "
                "IBAN, SSN, IP). Blocks chunking and embedding.")
def pii_residue(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                redactor: RedactorResource) -> dg.AssetCheckResult:
    tenant = tenant_of(context)
    policy = redactor.policy(storage.registry().get(tenant))
    return result(checks.pii_residue(storage.paths(tenant), policy))


@dg.asset_check(asset=chunks,
                description="Empty chunks and chunks over the model's token limit (ERROR); exact duplicates.")
def chunk_sanity(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                 chunker: ChunkerResource) -> dg.AssetCheckResult:
    return result(checks.chunk_sanity(storage.paths(tenant_of(context)), chunker.settings().max_tokens))


@dg.asset_check(asset=PARSED_DOCUMENTS,
                description="Documents whose OCR'd text has a low mean word confidence.")
def ocr_quality(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                thresholds: ChecksResource) -> dg.AssetCheckResult:
    return result(checks.ocr_quality(storage.paths(tenant_of(context)), thresholds.min_ocr_confidence))


@dg.asset_check(asset=PARSED_DOCUMENTS,
                description="Documents that yield much less text than an estimate made without their parser: "
                "pypdf's text layer (PDF), the file size (text, Markdown, HTML), OCR confidence (scans).")
def parse_coverage(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                   thresholds: ChecksResource) -> dg.AssetCheckResult:
    return result(checks.parse_coverage(storage.paths(tenant_of(context)), thresholds.min_parse_coverage))


@dg.asset_check(asset=PARSED_DOCUMENTS,
                description="Share of documents that could not be parsed (WARN, then ERROR above thresholds).")
def quarantine_rate(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                    thresholds: ChecksResource) -> dg.AssetCheckResult:
    return result(checks.quarantine_rate(storage.paths(tenant_of(context)),
                                         thresholds.quarantine_warn_above, thresholds.quarantine_error_above))


@dg.asset_check(asset=qdrant_index, blocking=True,
                description="The staged collection holds exactly the current chunks, no point of a deleted or "
                "unknown document, and vectors of the model's size. Blocks publication.")
def index_consistency(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                      qdrant: QdrantResource) -> dg.AssetCheckResult:
    tenant = tenant_of(context)
    from ingest.index.stage import read_staging

    paths = storage.paths(tenant)
    # The vectors' size as the model made them (recorded from the embedding cache): no model to load.
    return result(checks.index_consistency(tenant, paths, qdrant.settings(),
                                           read_staging(paths).get("dimension") or None))


@dg.asset_check(asset=qdrant_index, blocking=True,
                description="recall@k, MRR and nDCG@10 of the staged index on the tenant's golden set in its retrieval "
                "mode (hybrid unless set), against thresholds and the published index; dense and sparse are "
                "reported beside it. Blocks publication: the previous index keeps serving.")
def retrieval_quality(context: dg.AssetCheckExecutionContext, storage: StorageResource, qdrant: QdrantResource,
                      embedder: EmbedderResource) -> dg.AssetCheckResult:
    tenant = tenant_of(context)
    config = storage.registry().get(tenant)
    return result(checks.retrieval_quality(tenant, storage.paths(tenant), qdrant.settings(), config.golden,
                                           Thresholds(**config.quality),
                                           lambda texts: embedder.get().encode(texts),  # loads only if asked
                                           RetrievalSettings.from_table(config.retrieval, tenant)))


@dg.asset_check(asset=published_index,
                description="Hours since each tenant's index was last published, against the freshness windows "
                "(Dagster judges freshness per asset; this reports it per tenant).")
def index_freshness(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                    thresholds: ChecksResource) -> dg.AssetCheckResult:
    now = datetime.now(UTC)
    run_tenant = context.run.tags.get("dagster/partition")  # in a tenant's run: that tenant; hourly: all
    tenants = [run_tenant] if run_tenant else list(storage.registry().all())
    outcomes = {name: checks.index_freshness(storage.paths(name), now, thresholds.freshness_warn_hours,
                                             thresholds.freshness_fail_hours)
                for name in tenants}
    stale = {name: outcome for name, outcome in outcomes.items() if not outcome.passed}
    severity = checks.ERROR if any(o.severity == checks.ERROR for o in stale.values()) else checks.WARN
    return result(checks.CheckOutcome(
        passed=not stale, severity=severity,
        description=("all tenants fresh" if not stale else
                     "stale: " + "; ".join(f"{name} {o.description}" for name, o in sorted(stale.items()))),
        metadata={"tenants": {name: o.metadata.get("age_hours") for name, o in sorted(outcomes.items())},
                  "stale": sorted(stale)},
    ))


ingestion_checks = [pii_residue, chunk_sanity, ocr_quality, parse_coverage, quarantine_rate, index_consistency,
                    retrieval_quality, index_freshness]
