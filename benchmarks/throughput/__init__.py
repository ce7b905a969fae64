"""The throughput benchmark behind `python -m benchmarks bench` (and `make bench`).

It builds a reproducible corpus from a seed (text PDFs, DOCX, HTML, Markdown,
e-mail and a share of scanned PDFs, with PII sprinkled into varied prose), runs
the whole pipeline on it in a throwaway INGEST_HOME and DAGSTER_HOME, and
reports side by side:

- end-to-end documents and chunks per second of a full run, with the seconds
  and share of every stage (orchestration is what the stages do not account for);
- parse seconds per file type, and LibreOffice's start-up and conversion seconds (the formats
  profile has every type the pipeline reads but images);
- the ceiling: plain sentence-transformers encoding of exactly the chunk texts
  the run embedded, same model, batch size and machine, and ceiling / pipeline;
- an unchanged re-run and a one-document edit, as ratios of the full run;
- OCR pages, redacted characters and upserted points per second;
- the redaction step alone on document prose and on PII-dense text, characters per second;
- peak memory of the run's whole process tree (parse workers and fork server included);
- query latency of the embedded store at several sizes.

Each pipeline run is a child process (`python -m benchmarks.throughput --child ...`), as a
real `ingest run` is: it pays its own model loads, and the parent can sample
the memory of its whole process tree. Only that child touches Dagster (through
`launcher.runs.run_tenant`, imported inside the function); everything here is
plain Python. Timing figures are measured, never asserted by the tests.
"""

from benchmarks.throughput.driver import BenchOptions, run_benchmark
from benchmarks.throughput.figures import STAGES, stage_seconds, summarize_run
from benchmarks.throughput.latency import measure_query_latency, percentile
from benchmarks.throughput.redaction import DEFAULT_DENSE_SAMPLES, TARGET_CHARACTERS_PER_SECOND, measure_redaction
from benchmarks.throughput.report import evaluate_targets, format_table, write_result
from benchmarks.throughput.runs import BenchError
from benchmarks.throughput.settings import (
    DEFAULT_DOCUMENTS,
    DEFAULT_LATENCY_POINTS,
    DEFAULT_LATENCY_QUERIES,
    DEFAULT_PROFILE,
    DEFAULT_SCAN_FRACTION,
    DEFAULT_SEED,
    PROFILES,
)
from benchmarks.throughput.synthetic_corpus import (
    FORMAT_KIND_WEIGHTS,
    FORMAT_KINDS,
    SCAN_LINE_CHARS,
    SCAN_MAX_PAGES,
    corpus_digest,
    document_to_edit,
    edited,
    generate_corpus,
    scan_pages,
    write_corpus,
)

__all__ = [
    "DEFAULT_DENSE_SAMPLES",
    "DEFAULT_DOCUMENTS",
    "DEFAULT_LATENCY_POINTS",
    "DEFAULT_LATENCY_QUERIES",
    "DEFAULT_PROFILE",
    "DEFAULT_SCAN_FRACTION",
    "DEFAULT_SEED",
    "FORMAT_KINDS",
    "FORMAT_KIND_WEIGHTS",
    "PROFILES",
    "SCAN_LINE_CHARS",
    "SCAN_MAX_PAGES",
    "STAGES",
    "TARGET_CHARACTERS_PER_SECOND",
    "BenchError",
    "BenchOptions",
    "corpus_digest",
    "document_to_edit",
    "edited",
    "evaluate_targets",
    "format_table",
    "generate_corpus",
    "measure_query_latency",
    "measure_redaction",
    "percentile",
    "run_benchmark",
    "scan_pages",
    "stage_seconds",
    "summarize_run",
    "write_corpus",
    "write_result",
]
