"""The checkout is a `dg` project: `dg check defs` and `dg list defs` load the one Definitions object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DG = str(Path(sys.executable).with_name("dg"))


def dg(*arguments: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    return subprocess.run([DG, *arguments, "--target-path", str(ROOT)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_dg_check_defs_loads_every_definition() -> None:
    checked = dg("check", "defs")
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr


def test_dg_list_defs_shows_the_ingestion_graph_and_its_checks() -> None:
    listed = dg("list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    definitions = json.loads(listed.stdout)
    assets = {asset["asset_key"]: asset for asset in definitions["assets"]}
    assert {"source_documents", "parsed_documents", "redacted_documents", "chunks", "enriched_chunks",
            "embeddings", "qdrant_index", "published_index"} <= set(assets)
    # Dagster's conventions: an owner on every ingestion asset, and a new tenant's partition materialised
    # by Declarative Automation.
    assert all(asset["owners"] == [{"team": "ingestion"}] for asset in assets.values())
    assert all(asset["automation_condition"]["label"] == "on_missing" for asset in assets.values())
    checks = {check["key"] for check in definitions["asset_checks"]}
    assert {"redacted_documents:pii_residue", "qdrant_index:retrieval_quality"} <= checks
