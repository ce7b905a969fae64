"""`python -m benchmarks bench` end to end on a tiny corpus: every figure is there and positive (none is judged)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.extended]  # minutes: run by `make test-all`

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_a_tiny_benchmark_reports_every_figure(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = tmp_path / "result.json"
    env = {key: value for key, value in os.environ.items()
           if key not in ("DAGSTER_HOME", "INGEST_CONFIG", "INGEST_EMBED_MODEL", "INGEST_TEST_FAULT")}
    # Five documents, one of them a scan, so that OCR is measured too; no latency (that is the slow part).
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "bench", "--documents", "5", "--scan-fraction", "0.2", "--profile", "scans", "--skip-latency",
         "--redaction-samples", "200", "--out", str(out)],
        capture_output=True, text=True, env={**env, "INGEST_HOME": str(home)}, cwd=REPO_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))

    profile = result["profiles"]["scans"]
    assert profile["corpus"]["documents"] == 5 and profile["corpus"]["scanned_documents"] == 1
    run = profile["full_run"]
    assert run["documents"] == 5 and run["quarantined"] == 0
    for key in ("seconds", "chunks", "documents_per_second", "chunks_per_second"):
        assert run[key] > 0, key
    for stage in ("parse", "ocr", "redact", "chunk", "embed", "upsert", "checks"):
        assert run["stages"][stage] > 0, stage
    assert "orchestration" in run["stages"]
    assert run["ocr"]["pages"] >= 1 and run["ocr"]["pages_per_second"] > 0
    assert run["redaction"]["characters_per_second"] > 0
    assert run["upsert"]["points_per_second"] > 0
    assert run["memory"]["peak_tree_rss_bytes"] > 0 and run["memory"]["main_ru_maxrss_bytes"] > 0
    assert run["memory"]["peak_processes"] > 1  # the parse workers were sampled too
    ceiling = profile["ceiling"]
    assert ceiling["texts"] > 0 and ceiling["seconds"] > 0 and ceiling["ratio"] > 0
    assert profile["speed_probe_seconds"]["before_run"] > 0 and profile["speed_probe_seconds"]["after_ceiling"] > 0
    assert result["rerun"]["seconds"] > 0 and result["rerun"]["ratio_to_full"] > 0
    assert result["edit"]["seconds"] > 0 and result["edit"]["ratio_to_one_document"] > 0
    assert result["edit"]["documents"] == 5
    # the same edit with `ingest host` running: ready before the run, and the run parsed its document there
    hosted = result["edit_hosted"]
    assert hosted["seconds"] > 0 and hosted["host_ready_seconds"] > 0 and hosted["documents"] == 5
    assert hosted["parsed_by_model_host"] is True
    assert {item["key"] for item in result["targets"]} == {
        "ceiling_ratio_text", "ceiling_ratio_scans", "rerun_ratio", "rerun_seconds", "edit_ratio", "edit_seconds",
        "edit_hosted_ratio", "edit_hosted_seconds", "peak_memory", "query_p95_50k", "hybrid_over_dense", "redaction_prose", "redaction_dense"}
    assert result["embedder"]["precision"] == "fp32"  # the pipeline's default, as the ceiling's
    for name in ("prose", "dense"):
        figures = result["redaction"][name]
        assert figures["characters"] > 0 and figures["characters_per_second"] > 0, name
        assert figures["characters_per_cpu_second"] > 0 and figures["findings"] > 0, name
    assert result["machine"]["cpu_count"] > 0 and result["parameters"]["seed"] == 20240611

    assert "| target | value | goal |" in completed.stdout
    assert "| speed probe, s: before the run / after the ceiling |" in completed.stdout
    assert out.with_suffix(".md").read_text(encoding="utf-8").strip() == completed.stdout.strip()
    # Everything ran in a throwaway folder, removed afterwards; the user's home only gained the result.
    workdir = re.search(r"working in (\S+)", completed.stderr).group(1)
    assert not Path(workdir).exists()
    assert not home.exists() or [p.name for p in home.iterdir()] == []
