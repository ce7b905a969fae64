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
# Local-mode search scans every point in Python: at 50,000 points one search can take seconds on a
# small machine, so each size gets a time budget (but at least LATENCY_MIN_QUERIES queries).
LATENCY_SECONDS_PER_SIZE = 60.0
LATENCY_MIN_QUERIES = 20
SAMPLE_SECONDS = 0.2  # memory sampling interval of the run's process tree
HEARTBEAT_SECONDS = 30.0  # a progress line while a run is going on
PROFILES = {"both": ("text", "scans"), "text": ("text",), "scans": ("scans",)}
TENANTS = {"text": "bench-text", "scans": "bench-scans"}
LOCAL_MODE_NOTE = ("qdrant-client's local mode warns above 20,000 points in a collection, compares the query "
                   "with every point and loads them all when opened; past that, use a Qdrant server")
