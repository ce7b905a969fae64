"""Asset checks: the quality gates, shown in the UI with what failed and where.

Blocking checks with ERROR severity stop what comes after them in the run:
pii_residue stops chunking and embedding, index_consistency and
retrieval_quality stop the staged index from being published.

The checks of one asset step are evaluated in one step (`parse_and_redact_checks`, `index_checks`): each
keeps its name, severity, blocking and alerts, and one that raises fails alone, with its error.
"""

from collections.abc import Callable, Iterator
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


def result(outcome: checks.CheckOutcome, spec: dg.AssetCheckSpec | None = None) -> dg.AssetCheckResult:
    """The Dagster result of an outcome; `spec` names the check where a step evaluates several."""
    severity = dg.AssetCheckSeverity.ERROR if outcome.severity == checks.ERROR else dg.AssetCheckSeverity.WARN
    metadata = {key: dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
                for key, value in outcome.metadata.items() if value is not None}
    return dg.AssetCheckResult(passed=outcome.passed, severity=severity, description=outcome.description,
                               metadata=metadata, asset_key=spec.asset_key if spec else None,
                               check_name=spec.name if spec else None)


@dg.asset_check(asset=chunks,
                description="Empty chunks and chunks over the model's token limit (ERROR); exact duplicates.")
def chunk_sanity(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                 chunker: ChunkerResource) -> dg.AssetCheckResult:
    return result(checks.chunk_sanity(storage.paths(tenant_of(context)), chunker.settings().max_tokens))


PARSE_AND_REDACT_CHECKS = [
    dg.AssetCheckSpec("pii_residue", asset=REDACTED_DOCUMENTS, blocking=True,
                      description="PII that patterns and checksums still find after redaction (e-mail, phone, card, "
                      "IBAN, SSN, IP). Blocks chunking and embedding."),
    dg.AssetCheckSpec("ocr_quality", asset=PARSED_DOCUMENTS,
                      description="Documents whose OCR'd text has a low mean word confidence."),
    dg.AssetCheckSpec("parse_coverage", asset=PARSED_DOCUMENTS,
                      description="Documents that yield much less text than an estimate made without their parser: "
                      "pypdf's text layer (PDF), the file size (text, Markdown, HTML), OCR confidence (scans)."),
    dg.AssetCheckSpec("quarantine_rate", asset=PARSED_DOCUMENTS,
                      description="Share of documents that could not be parsed (WARN, then ERROR above thresholds)."),
]
INDEX_CHECKS = [
    dg.AssetCheckSpec("index_consistency", asset=qdrant_index, blocking=True,
                      description="The staged collection holds exactly the current chunks, no point of a deleted or "
                      "unknown document, and vectors of the model's size. Blocks publication."),
    dg.AssetCheckSpec("retrieval_quality", asset=qdrant_index, blocking=True,
                      description="recall@k, MRR and nDCG@10 of the staged index on the tenant's golden set in its "
                      "retrieval mode (hybrid unless set), against thresholds and the published index; dense and "
                      "sparse are reported beside it. Blocks publication: the previous index keeps serving."),
]


def evaluated(context: dg.AssetCheckExecutionContext, spec: dg.AssetCheckSpec,
              evaluate: Callable[[], checks.CheckOutcome]) -> dg.AssetCheckResult:
    """One check of a step that evaluates several: its result, or a failed ERROR result naming the error
    when its evaluation raised, so that the step's other checks still report (and a blocking one still
    blocks what comes after it)."""
    try:
        outcome = evaluate()
    except Exception as error:  # noqa: BLE001  (reported as the check's failure, with the traceback in the log)
        context.log.exception(f"check {spec.name} could not be evaluated")
        outcome = checks.CheckOutcome(passed=False, severity=checks.ERROR,
                                      description=f"the check could not be evaluated: {type(error).__name__}: "
                                      f"{error}; see the step's log")
    return result(outcome, spec)


def selected(context: dg.AssetCheckExecutionContext, specs: list[dg.AssetCheckSpec]) -> list[dg.AssetCheckSpec]:
    """The specs this execution was asked for (the UI can run one check of several)."""
    return [spec for spec in specs if spec.key in context.selected_asset_check_keys]


# The checks of one asset step run in one step: each step costs a run about a tenth of a second of
# Dagster's own work and event writes, whatever it computes (an unchanged re-run is mostly that).
@dg.multi_asset_check(specs=PARSE_AND_REDACT_CHECKS, can_subset=True,
                      description="The checks of parsing and redaction: PII residue (blocking), OCR quality, "
                      "parse coverage, quarantine rate.")
def parse_and_redact_checks(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                            redactor: RedactorResource, thresholds: ChecksResource, embedder: EmbedderResource
                            ) -> Iterator[dg.AssetCheckResult]:
    tenant = tenant_of(context)
    paths = storage.paths(tenant)

    def residue() -> checks.CheckOutcome:
        policy = redactor.policy(storage.registry().get(tenant))
        with embedder.model_host() as host:  # `ingest host`, when one runs, has presidio's recognisers loaded
            return checks.pii_residue(paths, policy, **({"scan": host.residue_scan} if host else {}))

    evaluations = {
        "pii_residue": residue,
        "ocr_quality": lambda: checks.ocr_quality(paths, thresholds.min_ocr_confidence),
        "parse_coverage": lambda: checks.parse_coverage(paths, thresholds.min_parse_coverage),
        "quarantine_rate": lambda: checks.quarantine_rate(paths, thresholds.quarantine_warn_above,
                                                          thresholds.quarantine_error_above),
    }
    for spec in selected(context, PARSE_AND_REDACT_CHECKS):
        yield evaluated(context, spec, evaluations[spec.name])


@dg.multi_asset_check(specs=INDEX_CHECKS, can_subset=True,
                      description="The checks of the staged index: consistency and retrieval quality (both "
                      "blocking publication).")
def index_checks(context: dg.AssetCheckExecutionContext, storage: StorageResource, qdrant: QdrantResource,
                 embedder: EmbedderResource) -> Iterator[dg.AssetCheckResult]:
    tenant = tenant_of(context)
    paths = storage.paths(tenant)

    def consistency() -> checks.CheckOutcome:
        from ingest.index.stage import read_staging

        # The vectors' size as the model made them (recorded from the embedding cache): no model to load.
        return checks.index_consistency(tenant, paths, qdrant.settings(), read_staging(paths).get("dimension") or None)

    def retrieval() -> checks.CheckOutcome:
        config = storage.registry().get(tenant)
        return checks.retrieval_quality(tenant, paths, qdrant.settings(), config.golden, Thresholds(**config.quality),
                                        lambda texts: embedder.get().encode(texts),  # loads only if asked
                                        RetrievalSettings.from_table(config.retrieval, tenant))

    evaluations = {"index_consistency": consistency, "retrieval_quality": retrieval}
    for spec in selected(context, INDEX_CHECKS):
        yield evaluated(context, spec, evaluations[spec.name])


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


ingestion_checks = [parse_and_redact_checks, chunk_sanity, index_checks, index_freshness]
