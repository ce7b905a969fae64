"""The source and parse-and-redact stages over a tenant's files, incrementally.

The unredacted text of a document exists only in the parse step's memory: it is redacted before
anything is written.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ingest.core import tables
from ingest.core.files import read_parquet, write_parquet
from ingest.core.fingerprints import apply_plan, fingerprint, plan_stage
from ingest.core.forgotten import read_forgotten
from ingest.core.manifest import classify_changes, read_manifest
from ingest.core.models import DocStatus, ParsedDocument, SourceDocument
from ingest.core.stage import StageResult, elapsed, loading_beside
from ingest.core.storage import TenantPaths
from ingest.core.workers import stop_worker_server
from ingest.parsing.attachments import attachment_documents
from ingest.parsing.convert import ConversionReport
from ingest.parsing.isolation import parse_documents_isolated
from ingest.parsing.limits import RETRIED_CATEGORIES, ParseLimits
from ingest.parsing.parse import SUPPORTED_TYPES, ParseSettings, parse_documents
from ingest.parsing.sources import detect_file_type, scan_source
from ingest.pii.policy import RECOGNIZER_SET_VERSION
from ingest.pii.redact import Redactor, entity_counts_by_document, redact_elements

DEFAULT_MAX_DELETE_FRACTION = 0.5
# A run that parsed this many documents or more ends the workers' fork server once they are redacted:
# its parsers and models (about 0.6 GB) would otherwise sit idle through chunking and embedding, where a
# large run peaks. A smaller run leaves it to the next run of a long-lived process, which then starts
# its workers at once.
RELEASE_WORKERS_MIN_DOCUMENTS = 100


@dataclass(frozen=True, slots=True)
class RedactedBatch:
    """A batch of documents parsed and redacted: their parse rows and their redacted elements. The
    unredacted text is gone by the time this exists."""

    parsed: pl.DataFrame
    redacted: pl.DataFrame
    characters: int  # of the unredacted text
    parse_seconds: float


# (documents, on_progress, on_redact_progress, on_conversions) -> the batch, or None to do it here
ParseElsewhere = Callable[[list[SourceDocument], Callable[[int, ParsedDocument], None],
                           Callable[[int, int], None] | None, Callable[[ConversionReport], None]],
                          RedactedBatch | None]


def parse_and_redact_documents(
    documents: list[SourceDocument], settings: ParseSettings, limits: ParseLimits | None,
    redactor: Callable[[], Redactor], *, on_progress: Callable[[int, ParsedDocument], None] | None = None,
    on_redact_progress: Callable[[int, int], None] | None = None,
    on_conversions: Callable[[ConversionReport], None] | None = None,
) -> RedactedBatch:
    """Parse `documents` (in workers under `limits`, else in this process) and redact their elements."""
    started = time.perf_counter()
    parsed, elements = (
        parse_documents_isolated(documents, settings, limits, on_progress=on_progress,
                                 on_conversions=on_conversions) if limits
        else parse_documents(documents, settings, on_progress=on_progress, on_conversions=on_conversions))
    parse_seconds = elapsed(started)
    characters = int(elements["text"].str.len_chars().sum() or 0)
    redacted = (redact_elements(elements, redactor(), on_progress=on_redact_progress) if elements.height
                else pl.DataFrame(schema=tables.REDACTED_ELEMENTS))
    del elements  # the only copy of the unredacted text
    return RedactedBatch(parsed, redacted, characters, parse_seconds)


class MassDeleteRefused(RuntimeError):
    """A run would delete more of a tenant's documents than allowed."""


def source_stage(tenant: str, root: Path, paths: TenantPaths, *, max_delete_fraction: float,
                 allow_mass_delete: bool, detect_type: Callable[[Path], tuple[str, str]] | None = None
                 ) -> StageResult:
    """Scan the tenant's folder against its manifest: new, changed, unchanged and deleted documents.
    `detect_type` (path -> (kind, mime type)) stands in for unstructured's detection of new and changed
    files' types, where another process has it loaded (the model host)."""
    started = time.perf_counter()
    manifest = read_manifest(paths.manifest)
    forgotten = read_forgotten(paths)
    previous = tables.read_or_empty(paths.source_documents, tables.SOURCE_DOCUMENTS)
    known_types = {sha: (kind, mime) for sha, kind, mime in
                   previous.select("sha256", "file_type", "mime_type").iter_rows()}
    skipped: list[str] = []
    scanned = scan_source(tenant, root, known_types, skipped, detect=detect_type or detect_file_type)
    previous_documents = [SourceDocument(**{k: v for k, v in row.items() if k != "change"})
                          for row in previous.iter_rows(named=True)]
    kept = [doc for doc in scanned if forgotten.get(doc.doc_id) != doc.sha256]
    # A message whose parse timed out or ran out of memory may not have been listed whole either: again.
    parsed = tables.read_or_empty(paths.parsed_documents, tables.PARSED_DOCUMENTS)
    cut_short = frozenset(parsed.filter(pl.col("quarantine_reason").str.starts_with("timeout:")
                                        | pl.col("quarantine_reason").str.starts_with("out_of_memory:"))["doc_id"])
    attachments, unlisted = attachment_documents(tenant, kept, previous_documents, relist=cut_short)
    scanned += attachments
    kept += [doc for doc in attachments if forgotten.get(doc.doc_id) != doc.sha256]
    documents = tables.frame(kept, tables.SOURCE_DOCUMENTS)
    changes, deleted = classify_changes(documents, manifest)
    live_before = manifest.filter(pl.col("status") != DocStatus.DELETED).height
    if deleted and not allow_mass_delete and len(deleted) > max_delete_fraction * live_before:
        raise MassDeleteRefused(
            f"refusing to delete {len(deleted)} of {live_before} documents of tenant {tenant} "
            f"(more than {max_delete_fraction:.0%}): is the source folder {root} mounted and complete? "
            f"Nothing was deleted. If the deletions are intended, run "
            f"`ingest run --tenant {tenant} --allow-mass-delete`."
        )
    documents = documents.with_columns(pl.Series("change", changes, dtype=pl.String))
    write_parquet(documents, paths.source_documents)
    counts = {change: changes.count(change) for change in ("new", "changed", "unchanged")}
    by_type = documents["file_type"].value_counts().sort("file_type")
    return StageResult(
        metadata={
            "seen": documents.height, **counts, "deleted": len(deleted),
            "excluded_forgotten": len(scanned) - len(kept),
            "bytes": int(documents["size"].sum() or 0),
            "file_types": {kind: n for kind, n in by_type.iter_rows()},
            "skipped": len(skipped),
            "skipped_paths": skipped[:100],
            # E-mail attachments are documents of their own; a message whose attachments could not be
            # listed (too many, nested too deep, damaged, too slow) is quarantined with the reason when parsed.
            "attachments": len(attachments),
            "messages_not_listed": unlisted[:100],
            "seconds": elapsed(started),
        },
        log=[f"{tenant}: {documents.height} documents in {root} ({counts['new']} new, {counts['changed']} "
             f"changed, {counts['unchanged']} unchanged, {len(deleted)} deleted)"]
        + [f"skipped {entry}" for entry in skipped[:100]],
    )


def parse_and_redact_stage(
    paths: TenantPaths, settings: ParseSettings, policy_version: str, redactor: Callable[[], Redactor], *,
    recognizer_set: str = RECOGNIZER_SET_VERSION, limits: ParseLimits | None = None,
    on_progress: Callable[[int, int, str, ParsedDocument], None] | None = None,
    on_redact_progress: Callable[[int, int], None] | None = None,
    load_beside: Callable[[], object] | None = None,
    elsewhere: ParseElsewhere | None = None,
) -> tuple[StageResult, StageResult]:
    """Parse new and changed documents and redact their text in memory; (parse result, redaction result).

    The unredacted text is never written: only parse metadata (pages, OCR, quarantine), the redacted
    elements and the redaction audit (counts by entity type, policy version, recogniser set) are.
    A document is redone when its file, the parser settings or limits, or the redaction policy
    changed, so a policy change parses again the documents it affects. With `limits`, each document
    is parsed in a worker process under them (`ingest.parsing.isolation`). A document quarantined for a
    reason that may not last is tried again on the next run: a timeout, a converter that was not
    installed (`unavailable`), a type that was not supported and now is.

    `load_beside`, when given and there is a document to parse, is called in a background thread
    while this stage runs: a model that a later stage in this process needs (the embedding model),
    loaded while the worker processes' fork server loads the parsers and one core is idle.

    `elsewhere`, when given, parses and redacts the batch in another process that has the parsers and
    models loaded already (the model host, ingest.host); when it returns None the batch is done here.
    """
    started = time.perf_counter()
    sources = read_parquet(paths.source_documents)
    parser_version = settings.version + (f"/{limits.version}" if limits else "")
    expected = {row["doc_id"]: fingerprint("redact", fingerprint("parse", row["sha256"], parser_version),
                                           policy_version)
                for row in sources.iter_rows(named=True)}
    stored_documents = tables.read_or_empty(paths.parsed_documents, tables.PARSED_DOCUMENTS | tables.FINGERPRINT)
    stored_redacted = tables.read_or_empty(paths.redacted_elements, tables.REDACTED_ELEMENTS | tables.FINGERPRINT)
    stored_audit = tables.read_or_empty(paths.redaction_audit, tables.REDACTION_AUDIT)
    retried = _retried(stored_documents, sources)
    plan = plan_stage(expected, stored_documents.filter(~pl.col("doc_id").is_in(list(retried))))
    todo = {row["doc_id"]: row for row in sources.iter_rows(named=True) if row["doc_id"] in set(plan.compute)}
    documents = [SourceDocument(**{k: v for k, v in todo[doc_id].items() if k != "change"})
                 for doc_id in plan.compute]

    def progress(position: int, parsed: ParsedDocument) -> None:
        if on_progress is not None:
            on_progress(position, len(documents), todo[parsed.doc_id]["source"], parsed)

    conversions: list[ConversionReport] = []
    with loading_beside(load_beside if documents else None):
        before = elapsed(started)  # reading the stored tables and planning
        batch = (elsewhere(documents, progress, on_redact_progress, conversions.append)
                 if elsewhere is not None and documents else None)
        elsewhere_did_it = batch is not None
        if batch is None:  # no model host, or one that turned the batch down: here
            batch = parse_and_redact_documents(documents, settings, limits, redactor, on_progress=progress,
                                               on_redact_progress=on_redact_progress,
                                               on_conversions=conversions.append)
        parsed, redacted = batch.parsed, batch.redacted
        parse_seconds, characters = before + batch.parse_seconds, batch.characters
        audit = _redaction_audit(redacted, expected, policy_version, recognizer_set)
        parsed = apply_plan(stored_documents, plan, tables.with_fingerprints(parsed, expected))
        redacted = apply_plan(stored_redacted, plan, tables.with_fingerprints(redacted, expected))
        audit = apply_plan(stored_audit, plan, audit)
        write_parquet(parsed, paths.parsed_documents)
        write_parquet(redacted, paths.redacted_elements)
        write_parquet(audit, paths.redaction_audit)
        paths.elements.unlink(missing_ok=True)  # earlier versions kept the unredacted elements there
        redact_seconds = elapsed(started) - parse_seconds  # not the wait for a background load
    del batch
    if limits and len(documents) >= RELEASE_WORKERS_MIN_DOCUMENTS:
        stop_worker_server()
    quarantined = parsed.filter(pl.col("quarantine_reason").is_not_null()).join(
        sources.select("doc_id", "source"), on="doc_id")
    fallback = parsed.filter(pl.col("fallback_pages") > 0).join(
        sources.select("doc_id", "source"), on="doc_id").sort("source")
    parsed_now = parsed.filter(pl.col("doc_id").is_in(list(plan.compute)))  # parsed by this run
    parse_result = StageResult(metadata={
        "parsed": len(plan.compute),
        "reused": len(plan.reuse),
        "unchanged": len(plan.keep),
        "quarantined": quarantined.height,
        "quarantine_reasons": {row["source"]: row["quarantine_reason"] for row in quarantined.iter_rows(named=True)},
        "quarantined_by_category": dict(sorted(Counter(
            reason.split(":", 1)[0] for reason in quarantined["quarantine_reason"].to_list()).items())),
        "elements": redacted.height,
        "pages": int(parsed["pages"].sum() or 0),
        "ocr_pages": int(parsed.filter(pl.col("doc_id").is_in(list(plan.compute)))["ocr_pages"].sum() or 0),
        # Where the tenant's PDF page text came from; a fallback page is one whose layout fell short.
        "pages_by_extraction": {"layout": int(parsed["layout_pages"].sum() or 0),
                                "text-layer": int(parsed["fallback_pages"].sum() or 0),
                                "ocr": int(parsed["ocr_pages"].sum() or 0)},
        "documents_with_fallback": fallback.height,
        "fallback_documents": {row["source"]: row["fallback_pages"]
                               for row in fallback.head(100).iter_rows(named=True)},
        # Summed per-document worker seconds (workers run side by side), and those of documents with
        # OCR'd pages (render + Tesseract): what `ingest bench` splits the parse time by.
        "parse_worker_seconds": round(float(parsed_now["parse_seconds"].sum() or 0), 3),
        "ocr_seconds": round(float(parsed_now.filter(pl.col("ocr_pages") > 0)["parse_seconds"].sum() or 0), 3),
        # Per file type: this run's documents, their worker seconds and LibreOffice's share of its batches;
        # and what the LibreOffice batches cost, start-up included (`ingest bench` reports both).
        "seconds_by_type": _seconds_by_type(parsed_now, sources, conversions[0] if conversions else None),
        "libreoffice": conversions[0].as_metadata() if conversions else {},
        "parser_version": parser_version,
        "parsed_by_model_host": elsewhere_did_it,
        "seconds": parse_seconds,
    }, log=[f"{fallback.height} PDFs have pages whose layout gave too little text, read from the text layer "
            "instead (fallback_documents)"] if fallback.height else [])
    found = {row["doc_id"]: json.loads(row["entities"])
             for row in audit.filter(pl.col("doc_id").is_in(list(plan.compute))).iter_rows(named=True)}
    totals: dict[str, int] = {}
    for counts in found.values():
        for entity_type, count in counts.items():
            totals[entity_type] = totals.get(entity_type, 0) + count
    sources_by_id = dict(zip(sources["doc_id"].to_list(), sources["source"].to_list(), strict=True))
    redact_result = StageResult(metadata={
        "documents_redacted": len(found),
        "reused": len(plan.reuse) + len(plan.keep),
        "characters": characters,
        "characters_per_second": round(characters / redact_seconds, 1) if characters and redact_seconds else 0.0,
        "entities_redacted": sum(totals.values()),
        "entities_by_type": dict(sorted(totals.items())),
        "documents_with_pii": sum(1 for counts in found.values() if counts),
        # The audit of this run's documents: counts only, by source path (first 200 documents).
        "audit_by_document": {sources_by_id.get(doc_id, doc_id): counts
                              for doc_id, counts in sorted(found.items())[:200]},
        "policy_version": policy_version,
        "recognizer_set": recognizer_set,
        "seconds": redact_seconds,
    }, log=[f"redacted {len(found)} documents ({characters} characters) under policy {policy_version}"])
    return parse_result, redact_result


def _retried(stored_documents: pl.DataFrame, sources: pl.DataFrame) -> set[str]:
    """Documents quarantined for a reason that may not last (RETRIED_CATEGORIES), or as unsupported
    when their type is now supported: parsed again whatever their fingerprint says."""
    reason = pl.col("quarantine_reason")
    types = stored_documents.join(sources.select("doc_id", "file_type"), on="doc_id", how="left")
    transient = pl.any_horizontal(*(reason.str.starts_with(f"{category}:") for category in RETRIED_CATEGORIES))
    now_supported = reason.str.starts_with("unsupported:") & pl.col("file_type").is_in(sorted(SUPPORTED_TYPES))
    retried = types.filter(transient | now_supported)
    return set(retried["doc_id"])


def _seconds_by_type(parsed: pl.DataFrame, sources: pl.DataFrame, conversions: ConversionReport | None) -> dict:
    """{file type: documents, worker seconds, conversion seconds} over the documents parsed by this run."""
    converted = (conversions.seconds_by_document if conversions else {})
    figures: dict[str, dict] = {}
    rows = parsed.select("doc_id", "parse_seconds").join(sources.select("doc_id", "file_type"), on="doc_id")
    for doc_id, seconds, kind in rows.iter_rows():
        entry = figures.setdefault(kind, {"documents": 0, "parse_seconds": 0.0, "conversion_seconds": 0.0})
        entry["documents"] += 1
        entry["parse_seconds"] += seconds or 0.0
        entry["conversion_seconds"] += converted.get(doc_id, 0.0)
    return {kind: {key: round(value, 3) if isinstance(value, float) else value for key, value in entry.items()}
            for kind, entry in sorted(figures.items())}


def _redaction_audit(redacted: pl.DataFrame, fingerprints: dict[str, str], policy_version: str,
                     recognizer_set: str) -> pl.DataFrame:
    """One audit row per document with elements: counts by entity type, never values."""
    counts = entity_counts_by_document(redacted)
    sizes = redacted.group_by("doc_id").agg(pl.len().alias("elements")).sort("doc_id")
    rows = [{"doc_id": doc_id, "fingerprint": fingerprints[doc_id], "policy_version": policy_version,
             "recognizer_set": recognizer_set, "entities": json.dumps(counts.get(doc_id, {}), sort_keys=True),
             "entities_total": sum(counts.get(doc_id, {}).values()), "elements": int(n)}
            for doc_id, n in sizes.iter_rows()]
    return tables.frame(rows, tables.REDACTION_AUDIT)
