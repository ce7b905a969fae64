"""The benchmark's defaults and fixed settings: the defaults of its options, the profiles and their
tenants, the sampling and heartbeat intervals, the query-latency budget."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULT_VERSION = 1
DEFAULT_DOCUMENTS = 300
DEFAULT_SCAN_FRACTION = 0.10
DEFAULT_SEED = 20240611
DEFAULT_LATENCY_POINTS = (5_000, 20_000, 50_000)
DEFAULT_LATENCY_QUERIES = 200
LATENCY_TOP_K = 5  # what `ingest query` asks for by default
# Each size and mode gets a time budget (but at least LATENCY_MIN_QUERIES queries), so that a slow store
# cannot hold the benchmark for long.
LATENCY_SECONDS_PER_SIZE = 60.0
LATENCY_MIN_QUERIES = 20
SAMPLE_SECONDS = 0.2  # memory sampling interval of the run's process tree
HEARTBEAT_SECONDS = 30.0  # a progress line while a run is going on
# "formats": every file type the pipeline reads but images, in equal shares: parse seconds per type and the
# cost of LibreOffice's start-up. It has no ceiling (no target is judged on it).
PROFILES = {"all": ("text", "scans", "formats"), "both": ("text", "scans"), "text": ("text",), "scans": ("scans",),
            "formats": ("formats",)}
DEFAULT_PROFILE = "all"
TENANTS = {"text": "bench-text", "scans": "bench-scans", "formats": "bench-formats"}
STORE_NOTE = ("the embedded store is Qdrant Edge (HNSW with int8 vectors re-scored, BM25 sparse vectors); "
              "1,000,000 points: python -m benchmarks index-engines (docs/INDEX_ENGINES.md)")
