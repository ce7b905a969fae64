"""Quality gates over a tenant's pipeline state, as plain functions.

Each returns a CheckOutcome; the Dagster asset checks in assets/checks.py only
turn it into an AssetCheckResult. Metadata says what failed and where
(documents by source path, queries by id), never a PII value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import polars as pl

from ingest.core.files import atomic_write_text, read_parquet
from ingest.core.storage import TenantPaths
from ingest.index.qdrant import QdrantSettings, TenantIndex, open_qdrant
from ingest.index.retrieval import MODES, RetrievalSettings
from ingest.pii.policy import RedactionPolicy
from ingest.pii.redact import residue_scan
from ingest.quality.golden import (
    Thresholds,
    evaluate,
    failures,
    load_evaluation,
    load_golden_set,
    regressions,
    save_evaluation,
    worst_queries,
)

ERROR, WARN = "ERROR", "WARN"
LISTED = 20  # at most this many documents or queries named in a check's metadata
# Non-space characters per byte that a text file of each type yields at the least when nothing is lost:
# English prose in UTF-8 gives about 0.8, markup less; HTML pages often carry scripts and styles.
TEXT_YIELD = {"txt": 0.6, "md": 0.5, "html": 0.05}
MIN_EXPECTED_CHARS = 100  # under this, an estimate is too rough to judge a document by
WORST_LISTED = 5


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    passed: bool
    severity: str
    description: str
    metadata: dict = field(default_factory=dict)


def _sources(paths: TenantPaths) -> dict[str, str]:
    documents = read_parquet(paths.source_documents)
    return dict(zip(documents["doc_id"].to_list(), documents["source"].to_list(), strict=True))


def pii_residue(paths: TenantPaths, policy: RedactionPolicy = RedactionPolicy(),
                scan: Callable[[list[str], RedactionPolicy], list[dict[str, int]]] = residue_scan) -> CheckOutcome:
    """Blocking: pattern-detectable PII (e-mail, phone, card, IBAN, SSN, IP) left in redacted text,
    judged by the tenant's policy (what it deliberately keeps, such as order numbers, is not residue).
    `scan` is ingest.pii.redact.residue_scan, here or in the model host (which has presidio loaded)."""
    redacted = read_parquet(paths.redacted_elements)
    sources = _sources(paths)
    # Counts are kept per redacted-document fingerprint, so each version of a document is scanned
    # once and an unchanged run scans nothing (nor loads the recognisers).
    cache_path = paths.root / "residue.json"
    cached = json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.is_file() else {}
    doc_ids = redacted["doc_id"].to_list()
    keys = redacted["fingerprint"].to_list() if "fingerprint" in redacted.columns else [None] * redacted.height
    todo = [i for i, key in enumerate(keys) if key is None or key not in cached]
    scanned = scan([redacted["text"][i] for i in todo], policy) if todo else []
    fresh: dict[str, dict[str, int]] = {}
    by_document: dict[str, dict[str, int]] = {}

    def add(target: dict[str, int], counts: dict[str, int]) -> None:
        for entity_type, count in counts.items():
            target[entity_type] = target.get(entity_type, 0) + count

    for i, counts in zip(todo, scanned, strict=True):
        if keys[i] is not None:
            add(fresh.setdefault(keys[i], {}), counts)
        add(by_document.setdefault(sources.get(doc_ids[i], doc_ids[i]), {}), counts)
    for doc_id, key in {(d, k) for d, k in zip(doc_ids, keys, strict=True) if k is not None and k in cached}:
        add(by_document.setdefault(sources.get(doc_id, doc_id), {}), cached[key])
    by_document = {source: counts for source, counts in by_document.items() if counts}
    if any(key is not None for key in keys):
        live = {key for key in keys if key is not None}
        atomic_write_text(cache_path, json.dumps(
            {key: counts for key, counts in (cached | fresh).items() if key in live}, sort_keys=True))
    totals: dict[str, int] = {}
    for counts in by_document.values():
        for entity_type, count in counts.items():
            totals[entity_type] = totals.get(entity_type, 0) + count
    passed = not totals
    return CheckOutcome(
        passed, ERROR,
        "no pattern-detectable PII left after redaction" if passed else
        f"{sum(totals.values())} PII values left after redaction in {len(by_document)} documents: "
        "nothing is embedded until the redaction policy catches them",
        {"elements_scanned": redacted.height, "left_by_type": totals,
         "documents": dict(sorted(by_document.items())[:LISTED])},
    )


def chunk_sanity(paths: TenantPaths, token_limit: int) -> CheckOutcome:
    """Empty chunks and chunks over the model's limit fail; exact duplicates are reported."""
    chunks = read_parquet(paths.chunks)
    sources = _sources(paths)
    empty = chunks.filter(pl.col("text").str.strip_chars() == "")
    too_long = chunks.filter(pl.col("token_count") > token_limit)
    duplicated = chunks.group_by("text").agg(pl.col("doc_id"), pl.len().alias("copies")).filter(pl.col("copies") > 1)

    def where(frame: pl.DataFrame) -> list[str]:
        return [f"{sources.get(d, d)}#{i}" for d, i in frame.select("doc_id", "chunk_index").iter_rows()][:LISTED]

    problems = empty.height + too_long.height
    duplicates = int((duplicated["copies"] - 1).sum() or 0) if duplicated.height else 0
    return CheckOutcome(
        problems == 0, ERROR if problems else WARN,
        f"{chunks.height} chunks: {empty.height} empty, {too_long.height} over {token_limit} tokens, "
        f"{duplicates} exact duplicates",
        {"chunks": chunks.height, "empty": where(empty), "over_limit": where(too_long),
         "duplicate_copies": duplicates,
         "duplicated_in": sorted({sources.get(d, d) for ids in duplicated["doc_id"].to_list() for d in ids})[:LISTED]},
    )


def ocr_quality(paths: TenantPaths, min_confidence: float) -> CheckOutcome:
    """Documents whose OCR'd text has a low mean confidence (a warning: they are still indexed)."""
    parsed = read_parquet(paths.parsed_documents)
    sources = _sources(paths)
    ocr = parsed.filter(pl.col("ocr_confidence").is_not_null())
    low = ocr.filter(pl.col("ocr_confidence") < min_confidence).sort("ocr_confidence")
    return CheckOutcome(
        low.height == 0, WARN,
        f"{low.height} of {ocr.height} OCR'd documents below {min_confidence:.0f}% mean confidence",
        {"ocr_documents": ocr.height, "threshold": min_confidence,
         "low_confidence": {sources.get(d, d): c for d, c in low.select("doc_id", "ocr_confidence").iter_rows()}},
    )


def coverage_estimate(row: dict) -> dict | None:
    """How much text a parsed document yielded against an estimate made without its parser, or None.

    `row` is a parsed_documents row with the source's `size` and `file_type`. The basis is pypdf's text
    layer for PDFs with one (characters on those pages), the file size for plain text, Markdown and
    HTML (times TEXT_YIELD), and the mean OCR confidence for scans (0-100, as a share). Office files
    and e-mail have no cheap estimate; documents with an estimate under MIN_EXPECTED_CHARS are not judged.
    """
    if row["text_layer_chars"]:
        basis, extracted, expected = "text-layer", row["text_chars"], row["text_layer_chars"]
    elif row["file_type"] in TEXT_YIELD:
        basis, extracted, expected = "file-size", row["text_chars"], round(row["size"] * TEXT_YIELD[row["file_type"]])
    elif row["ocr_confidence"] is not None:
        return {"basis": "ocr-confidence", "extracted": row["ocr_chars"], "expected": None,
                "ratio": round(row["ocr_confidence"] / 100, 3)}
    else:
        return None
    if expected < MIN_EXPECTED_CHARS:
        return None
    return {"basis": basis, "extracted": extracted, "expected": expected, "ratio": round(extracted / expected, 3)}


def parse_coverage(paths: TenantPaths, min_ratio: float) -> CheckOutcome:
    """Documents that yielded much less text than an independent estimate (a warning: they are indexed)."""
    sources = read_parquet(paths.source_documents).select("doc_id", "source", "size", "file_type")
    parsed = read_parquet(paths.parsed_documents).filter(pl.col("quarantine_reason").is_null())
    judged = []
    for row in parsed.join(sources, on="doc_id").iter_rows(named=True):
        estimate = coverage_estimate(row)
        if estimate is not None:
            judged.append({"source": row["source"], **estimate})
    judged.sort(key=lambda item: (item["ratio"], item["source"]))
    low = [item for item in judged if item["ratio"] < min_ratio]
    by_basis: dict[str, int] = {}
    for item in judged:
        by_basis[item["basis"]] = by_basis.get(item["basis"], 0) + 1
    return CheckOutcome(
        not low, WARN,
        f"{len(low)} of {len(judged)} documents yield less than {min_ratio:.0%} of the text expected of them"
        + (": " + ", ".join(item["source"] for item in low[:WORST_LISTED]) if low else ""),
        {"judged": len(judged), "not_judged": parsed.height - len(judged), "threshold": min_ratio,
         "by_basis": dict(sorted(by_basis.items())),
         "documents_with_fallback": int((parsed["fallback_pages"] > 0).sum()),
         "low_coverage": [item["source"] for item in low[:LISTED]], "worst": judged[:WORST_LISTED]},
    )


def quarantine_rate(paths: TenantPaths, warn_above: float, error_above: float) -> CheckOutcome:
    parsed = read_parquet(paths.parsed_documents)
    sources = _sources(paths)
    quarantined = parsed.filter(pl.col("quarantine_reason").is_not_null())
    rate = quarantined.height / parsed.height if parsed.height else 0.0
    severity = ERROR if rate > error_above else WARN
    return CheckOutcome(
        rate <= warn_above, severity,
        f"{quarantined.height} of {parsed.height} documents quarantined ({rate:.0%}); "
        f"warn above {warn_above:.0%}, error above {error_above:.0%}",
        {"rate": round(rate, 4), "quarantined": quarantined.height, "documents": parsed.height,
         "reasons": {sources.get(d, d): r for d, r in
                     quarantined.select("doc_id", "quarantine_reason").iter_rows()}},
    )


def index_consistency(tenant: str, paths: TenantPaths, qdrant: QdrantSettings, dimension: int | None) -> CheckOutcome:
    """Blocking: the staged collection holds exactly the current chunks, with the model's vector size."""
    from ingest.index.stage import read_staging

    staging = read_staging(paths)["collection"]
    enriched = read_parquet(paths.enriched_chunks)
    wanted = dict(zip(enriched["point_id"].to_list(), enriched["source"].to_list(), strict=True))
    with open_qdrant(qdrant, tenant) as client:
        index = TenantIndex(client, tenant)
        present = {hit.point_id: hit.payload.get("source") for hit in index.scroll(staging, with_payload=["source"])}
        size = index.vector_size(staging)
    missing = sorted({wanted[p] for p in set(wanted) - set(present)})
    unknown = sorted({str(present[p]) for p in set(present) - set(wanted)})
    passed = not missing and not unknown and (dimension is None or size == dimension)
    return CheckOutcome(
        passed, ERROR,
        f"{staging}: {len(present)} points for {len(wanted)} chunks; {len(missing)} documents missing points, "
        f"{len(unknown)} with points that no current chunk has; vector size {size} (model {dimension})",
        {"collection": staging, "points": len(present), "chunks": len(wanted), "vector_size": size,
         "model_dimension": dimension, "documents_missing_points": missing[:LISTED],
         "documents_with_stale_points": unknown[:LISTED]},
    )


def retrieval_quality(tenant: str, paths: TenantPaths, qdrant: QdrantSettings, golden: Path | None,
                      thresholds: Thresholds, encode: Callable[[list[str]], list],
                      retrieval: RetrievalSettings | None = None) -> CheckOutcome:
    """Blocking: the staged index answers the golden set well enough in the tenant's retrieval mode, and
    no worse than the published one; the other modes are measured beside it, for comparison."""
    if golden is None:
        return CheckOutcome(True, ERROR, "no golden set configured for this tenant: retrieval quality not measured",
                            {"golden_set": None})
    from ingest.index.stage import read_staging

    retrieval = retrieval or RetrievalSettings()
    queries = load_golden_set(golden)
    staging = read_staging(paths)["collection"]
    depth = max(thresholds.k, 10) * 3  # chunks, so that enough distinct documents rank
    vectors: dict[str, list] = {}

    def search_by(index: TenantIndex, mode: str) -> Callable[[list[str]], list[list[str]]]:
        settings = retrieval.with_mode(mode)

        def search(texts: list[str]) -> list[list[str]]:
            if mode != "sparse" and not vectors:
                vectors.update(zip(texts, encode(texts), strict=True))  # once, for both modes that need them
            return [[hit.payload.get("source", "") for hit in index.search(
                vectors.get(text), depth, staging, text=text, settings=settings)] for text in texts]
        return search

    published = load_evaluation(paths.published_evaluation)
    asked = [(q.id, q.query, tuple(q.expected)) for q in queries]
    if (read_staging(paths).get("unchanged") and published is not None and published.k == thresholds.k
            and published.mode == retrieval.mode and set(published.other_modes) == set(MODES) - {retrieval.mode}
            and [(r.id, r.query, tuple(r.expected)) for r in published.results] == asked):
        evaluation = published  # the same index answering the same questions: no need to ask again
    else:
        with open_qdrant(qdrant, tenant) as client:  # one open (and shard load) for every mode
            index = TenantIndex(client, tenant)
            evaluation = evaluate(queries, search_by(index, retrieval.mode), k=thresholds.k, mode=retrieval.mode)
            evaluation = replace(evaluation, other_modes={
                mode: evaluate(queries, search_by(index, mode), k=thresholds.k, mode=mode).metrics()
                for mode in MODES if mode != retrieval.mode})
    by_mode = {retrieval.mode: evaluation.metrics(), **evaluation.other_modes}
    by_mode = {mode: by_mode[mode] for mode in MODES}
    below = failures(evaluation, thresholds)
    dropped = regressions(evaluation, published, thresholds.max_drop)
    save_evaluation(paths.candidate_evaluation, evaluation)  # becomes the baseline when published
    passed = not below and not dropped
    problems = below + [f"{metric} fell from {old:.2f} to {new:.2f}" for metric, (old, new) in dropped.items()]
    others = "; ".join(f"{mode} nDCG@10 {metrics['ndcg_at_10']:.3f}" for mode, metrics in by_mode.items()
                       if mode != retrieval.mode)
    return CheckOutcome(
        passed, ERROR,
        (f"{len(queries)} golden queries, {retrieval.mode} (the tenant's mode): "
         + ", ".join(f"{m} {v:.3f}" for m, v in evaluation.metrics().items()) + f"; {others}")
        + ("" if passed else "; NOT PUBLISHED, the previous index keeps serving: " + "; ".join(problems)),
        {"golden_set": str(golden), "queries": len(queries), "k": thresholds.k, "mode": retrieval.mode,
         **evaluation.metrics(), "by_mode": by_mode,
         "thresholds": {"min_recall_at_k": thresholds.min_recall_at_k, "min_mrr": thresholds.min_mrr,
                        "min_ndcg_at_10": thresholds.min_ndcg_at_10, "max_drop": thresholds.max_drop},
         "below_threshold": below, "regressions": {m: list(v) for m, v in dropped.items()},
         "worst_queries": worst_queries(evaluation)},
    )


def index_freshness(paths: TenantPaths, now: datetime, warn_hours: float, fail_hours: float) -> CheckOutcome:
    """How long ago the tenant's index was last published."""
    if not paths.published.is_file():
        return CheckOutcome(False, WARN, "never published yet", {"age_hours": None})
    published = json.loads(paths.published.read_text(encoding="utf-8"))
    age = (now - datetime.fromisoformat(published["at"])).total_seconds() / 3600
    severity = ERROR if age > fail_hours else WARN
    return CheckOutcome(
        age <= warn_hours, severity,
        f"published {age:.1f} hours ago (warn after {warn_hours:g} h, error after {fail_hours:g} h)",
        {"age_hours": round(age, 2), "published_at": published["at"], "run_id": published["run_id"]},
    )
