"""Parsing and redaction in one step, so the unredacted text exists only in that step's memory."""

import functools
from collections.abc import Callable

import dagster as dg

from assets.common import PARSE_POOL, report, tenant_stage
from assets.source_documents import source_documents
from ingest.core.models import ParsedDocument
from ingest.parsing.stage import parse_and_redact_stage
from ingest.pii.recognizers.patterns import presidio_pattern_recognizers
from resources import EmbedderResource, ParserResource, RedactorResource, StorageResource

PARSED_DOCUMENTS = dg.AssetKey("parsed_documents")
REDACTED_DOCUMENTS = dg.AssetKey("redacted_documents")


class ParseAndRedactConfig(dg.Config):
    """load_embedder_early: load the embedding model (and the residue check's recognisers) in a background
    thread while documents are parsed, for the later steps of the same process. The ingestion job sets it,
    since its steps all
    execute in one process (in_process_executor); under the multiprocess executor it would load in vain."""

    load_embedder_early: bool = False


def later_steps_loader(embedder: EmbedderResource, *, residue_check_here: bool = True) -> Callable[[], None]:
    """What the later steps of this process need, loaded beside parsing: the embedding model, then the
    residue check's pattern recognisers (importing presidio takes seconds), unless the model host does
    that check."""

    def load() -> None:
        embedder.get()
        if residue_check_here:
            presidio_pattern_recognizers()

    return load


def progress_line_due(position: int, total: int) -> bool:
    """Whether document `position` of `total` gets a progress line: about one per percent, and the last."""
    return position == total or position % max(1, total // 100) == 0


@tenant_stage(
    name="parse_and_redact",
    pool=PARSE_POOL,
    specs=[
        dg.AssetSpec(
            PARSED_DOCUMENTS, deps=[source_documents], kinds={"python", "parquet"},
            description="Parse results per document: pages, OCR'd pages and confidence, element counts; "
            "unparseable files quarantined with a reason. Pages without a text layer and images are OCR'd "
            "with Tesseract. Each document is parsed in a worker process with a time limit and a memory cap; "
            "limits on size, pages, pixels and zip expansion are checked first. Only new and changed files (or "
            "all, after a parser or policy change) are parsed, and those that timed out; "
            "a moved file reuses its earlier result. The text goes to redaction in memory, never to disk."),
        dg.AssetSpec(
            REDACTED_DOCUMENTS, deps=[PARSED_DOCUMENTS], kinds={"python", "parquet"},
            description="Typed elements (title, text, list, table ...) with PII replaced under the tenant's "
            "redaction policy (typed placeholders such as <PERSON>, masks, salted hashes or nothing); the "
            "audit per document: counts by entity type, policy version and recogniser set (never values)."),
    ],
)
def parse_and_redact(
    context: dg.AssetExecutionContext, config: ParseAndRedactConfig, storage: StorageResource,
    parser: ParserResource, redactor: RedactorResource, embedder: EmbedderResource,
):  # yields one MaterializeResult per asset (Dagster reads a return annotation as the outputs)
    tenant = context.partition_key
    policy = redactor.policy(storage.registry().get(tenant))

    def progress(position: int, total: int, source: str, parsed: ParsedDocument) -> None:
        # Every line is a row of the run's event log: a line per quarantined document, else about one per
        # percent, so that a run of 100,000 documents writes hundreds of rows, not 100,000.
        if not parsed.ok:
            context.log.warning(f"parsed {position}/{total} {source}: quarantined ({parsed.quarantine_reason})")
        elif progress_line_due(position, total):
            context.log.info(f"parsed {position}/{total} {source}: {len(parsed.elements)} elements, "
                             f"{parsed.pages} pages, {parsed.ocr_pages} OCR'd")

    def redaction_progress(done: int, characters: int) -> None:
        context.log.info(f"redacted {done:,}/{characters:,} characters")

    paths, settings, limits = storage.paths(tenant), parser.settings(), parser.limits()
    with embedder.model_host() as host:  # `ingest host`, when one runs: its parsers and models are loaded already
        if host is not None:
            context.log.info("parsing and redacting in the model host")
        parsed, redacted = parse_and_redact_stage(
            paths, settings, policy.version, lambda: redactor.get(policy),
            recognizer_set=policy.recognizer_set, limits=limits, on_progress=progress,
            on_redact_progress=redaction_progress,
            load_beside=later_steps_loader(embedder, residue_check_here=host is None)
            if config.load_embedder_early else None,
            elsewhere=functools.partial(host.parse_and_redact, settings=settings, limits=limits,
                                        policy=policy, workers=redactor.workers) if host else None)
    yield report(context, parsed, PARSED_DOCUMENTS, table=paths.parsed_documents)
    yield report(context, redacted, REDACTED_DOCUMENTS, table=paths.redacted_elements)
