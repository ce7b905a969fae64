"""The figures of one pipeline run, from its assets' metadata and its steps' wall time: seconds and
share of every stage, documents and chunks per second, OCR, redaction and upsert rates."""

from __future__ import annotations

# (stage, asset whose metadata holds its seconds); OCR is carved out of parsing (see stage_seconds).
STAGE_ASSETS = (
    ("source", "source_documents"), ("parse", "parsed_documents"), ("ocr", None),
    ("redact", "redacted_documents"), ("chunk", "chunks"), ("enrich", "enriched_chunks"),
    ("embed", "embeddings"), ("upsert", "qdrant_index"), ("publish", "published_index"),
)
# The steps that materialise assets; every other step of the run is an asset check.
ASSET_STEPS = {"source_documents", "parse_and_redact", "chunks", "enriched_chunks", "embeddings", "qdrant_index",
               "published_index"}
STAGES = (*(stage for stage, _ in STAGE_ASSETS), "checks", "orchestration")


def _meta(metadata: dict, asset: str, key: str, default: float = 0) -> float:
    value = metadata.get(asset, {}).get(key, default)
    return default if value is None else value


def stage_seconds(metadata: dict, run_seconds: float, step_seconds: dict[str, float] | None = None
                  ) -> dict[str, float]:
    """Seconds per stage from the assets' metadata; checks from the check steps' wall time;
    orchestration is the rest of the run's wall time (Dagster, step set-up, reading and writing
    what the stages do not time).

    Parse workers run side by side, so parsing reports its wall time ("seconds") and the summed
    per-document worker seconds, of which "ocr_seconds" went to documents that needed OCR. The
    wall time is split between parse and OCR in that proportion.
    """
    seconds = {stage: float(_meta(metadata, asset, "seconds")) for stage, asset in STAGE_ASSETS if asset}
    worker = float(_meta(metadata, "parsed_documents", "parse_worker_seconds"))
    ocr_worker = float(_meta(metadata, "parsed_documents", "ocr_seconds"))
    share = min(1.0, ocr_worker / worker) if worker > 0 else 0.0
    seconds["ocr"] = seconds["parse"] * share
    seconds["parse"] -= seconds["ocr"]
    seconds["checks"] = sum(value for step, value in (step_seconds or {}).items() if step not in ASSET_STEPS)
    ordered = {stage: round(seconds[stage], 3) for stage in STAGES if stage != "orchestration"}
    ordered["orchestration"] = round(run_seconds - sum(seconds.values()), 3)
    return ordered


def _rate(count: float, seconds: float) -> float | None:
    return round(count / seconds, 2) if seconds > 0 and count else None


def parse_by_type(metadata: dict) -> dict[str, dict]:
    """Per file type: documents, worker seconds a document, LibreOffice's conversion seconds a document
    (its share of the batches, start-up aside), from the parse stage's `seconds_by_type`."""
    figures = {}
    for kind, entry in (metadata.get("parsed_documents", {}).get("seconds_by_type") or {}).items():
        documents = entry.get("documents") or 0
        if documents:
            per_document = {key: round(entry.get(key, 0) / documents, 4)
                            for key in ("parse_seconds", "conversion_seconds")}
            figures[kind] = {"documents": documents,
                             "parse_seconds_per_document": per_document["parse_seconds"],
                             "conversion_seconds_per_document": per_document["conversion_seconds"]}
    return figures


def summarize_run(run: dict) -> dict:
    """The figures of one pipeline run: throughput, stage seconds and shares, OCR, redaction, upsert, memory."""
    metadata, total = run["metadata"], float(run["seconds"])
    stages = stage_seconds(metadata, total, run.get("step_seconds"))
    documents = int(_meta(metadata, "source_documents", "seen"))
    chunks = int(_meta(metadata, "chunks", "chunks"))
    ocr_pages = int(_meta(metadata, "parsed_documents", "ocr_pages"))
    characters = int(_meta(metadata, "redacted_documents", "characters"))
    written = int(_meta(metadata, "qdrant_index", "written"))
    return {
        "seconds": round(total, 3),
        "process_seconds": run.get("process_seconds"),
        "import_seconds": run.get("import_seconds"),
        "documents": documents,
        "quarantined": int(_meta(metadata, "parsed_documents", "quarantined")),
        "chunks": chunks,
        "embedded": int(_meta(metadata, "embeddings", "embedded")),
        "documents_per_second": _rate(documents, total),
        "chunks_per_second": _rate(chunks, total),
        "stages": stages,
        "shares": {stage: round(value / total, 4) if total > 0 else None for stage, value in stages.items()},
        "ocr": {"pages": ocr_pages, "seconds": stages["ocr"],
                "worker_seconds": round(float(_meta(metadata, "parsed_documents", "ocr_seconds")), 3),
                "pages_per_second": _rate(ocr_pages, stages["ocr"])},
        "redaction": {"characters": characters, "seconds": stages["redact"],
                      "characters_per_second": _meta(metadata, "redacted_documents", "characters_per_second")
                      or _rate(characters, stages["redact"])},
        "upsert": {"points": written, "seconds": stages["upsert"],
                   "points_per_second": _rate(written, stages["upsert"])},
        "parse_by_type": parse_by_type(metadata),
        "libreoffice": metadata.get("parsed_documents", {}).get("libreoffice") or {},
        "memory": run.get("memory", {}),
        "step_seconds": run.get("step_seconds", {}),
        "run_id": run.get("run_id"),
    }
