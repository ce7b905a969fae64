"""The first thing to do for each alert: one line each, from docs/RUNBOOK.md."""

RUNBOOK = "docs/RUNBOOK.md"

NEXT_STEPS = {
    "pii_residue": "Nothing was embedded. Look at the listed documents' entity types, extend the redaction "
                   "policy, then `ingest run --tenant T`.",
    "chunk_sanity": "Empty or over-long chunks: check the chunker settings against the model's limit; duplicates "
                    "are informational.",
    "ocr_quality": "Check the listed scans (resolution, skew, language); rescan or accept; nothing is blocked.",
    "parse_coverage": "Compare the listed documents' extracted text with the source; a PDF may need another "
                      "export; nothing is blocked.",
    "quarantine_rate": "Run `ingest status --tenant T`, group the reasons; fix the source (passwords, corrupt "
                       "exports) or the parser, then re-run.",
    "index_consistency": "Not published; the previous index serves. Re-run the tenant: the index stage repairs "
                         "missing and stale points. If it persists, see the runbook.",
    "retrieval_quality": "Not published; the previous index serves. Compare worst_queries with the last good "
                         "run: what changed (documents, model, chunker)? Fix or update the golden set, re-run.",
    "index_freshness": "No recent publish: check the schedule and the last runs of this tenant in the UI, then "
                       "`ingest run --tenant T`.",
    "run": "Open the run in the UI, read the failed step's error, fix the cause and `ingest run --tenant T`.",
}


def next_step(check: str, tenant: str) -> str:
    step = NEXT_STEPS.get(check, NEXT_STEPS["run"]).replace("--tenant T", f"--tenant {tenant}")
    return f"{step} ({RUNBOOK}#{check.replace('_', '-')})"
