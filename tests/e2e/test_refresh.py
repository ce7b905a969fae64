"""End to end through `ingest`: one tenant's life in as few commands as possible. Files are edited,
deleted and moved; a point is traced to its run; a document is forgotten; the previous index is rolled
back to; the mass-delete guard stops the next run until it is allowed.

Each behaviour is proven step by step, in process, by tests/unit/test_stages.py (incremental runs,
blue/green publication, rollback, injected failures), tests/unit/index/test_erase.py and
tests/unit/index/test_lineage.py; here the commands, their arguments and their output are."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from benchmarks.corpus import Section, write_html, write_markdown, write_text
from tests.e2e.commands import ingest, json_lines, last_json, served_points

pytestmark = pytest.mark.e2e

LIBRARY = "reading lamp"  # in library.html only: the document that is forgotten


def write_corpus(folder: Path) -> None:
    write_markdown(folder / "garden.md", [Section("Garden", ("The greenhouse tomatoes are watered at dawn.",))])
    write_markdown(folder / "kitchen.md", [Section("Kitchen", ("The copper kettle whistles in B flat.",))])
    write_html(folder / "library.html", [Section("Library", ("Atlases are shelved beside the reading lamp.",))])
    write_text(folder / "attic.txt", [Section("Attic", ("The rocking horse is wrapped in a blue quilt.",))])


def run(home: Path, *extra: str, check: bool = True):
    completed = ingest(home, "run", "--tenant", "house", "--json", *extra, check=check)
    return completed, last_json(completed)


def state_contains(home: Path, phrase: str) -> list[str]:
    """Files under home holding the phrase: string columns of parquet files, raw bytes of the rest."""
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pl.read_parquet(path)
            text = " ".join(str(v) for column in table.columns if table.schema[column] in (pl.String,)
                            or isinstance(table.schema[column], pl.List) for v in table[column].to_list())
            if phrase in text:
                found.append(str(path.relative_to(home)))
        elif phrase.encode() in path.read_bytes():
            found.append(str(path.relative_to(home)))
    return found


def texts_by_source(points) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for point in points:
        found.setdefault(point["source"], []).append(point["text"])
    return found


def test_a_tenant_through_edits_a_move_lineage_forget_rollback_and_the_mass_delete_guard(tmp_path):
    home, source = tmp_path / "state", tmp_path / "source"
    write_corpus(source)
    _, first = run(home, "--source", str(source))
    assert first["docs"]["new"] == 4 and first["chunks"] == {"total": 4, "embedded": 4}

    # an edit, a deletion and a move: only the edited text is embedded again
    write_markdown(source / "garden.md", [Section("Garden", ("The greenhouse peppers are watered at noon.",))])
    (source / "attic.txt").unlink()
    (source / "rooms").mkdir()
    shutil.move(source / "kitchen.md", source / "rooms" / "kitchen.md")
    _, second = run(home)
    docs = second["docs"]
    assert (docs["seen"], docs["changed"], docs["new"], docs["deleted"], docs["unchanged"]) == (3, 1, 1, 2, 1)
    assert second["chunks"] == {"total": 3, "embedded": 1}

    points = json_lines(ingest(home, "export", "--tenant", "house", "--jsonl"))
    texts = texts_by_source(points)
    assert sorted(texts) == ["garden.md", "library.html", "rooms/kitchen.md"]
    assert all(len(chunks) == 1 for chunks in texts.values())  # no duplicate, no stale version
    assert "peppers" in texts["garden.md"][0] and "copper kettle" in texts["rooms/kitchen.md"][0]
    for field in ("tenant", "doc_id", "source", "source_sha256", "doc_version", "chunk_index", "start", "end",
                  "pages", "section_path", "parser", "strategy", "extraction", "ocr", "ocr_confidence",
                  "redaction_policy", "redaction_entities", "chunker_version", "embedding_model", "run_id",
                  "ingested_at"):
        assert all(field in point for point in points), field

    # lineage: the edited document's point leads to its second version and the run that wrote it
    garden = next(point for point in points if point["source"] == "garden.md")
    chain = last_json(ingest(home, "lineage", "--tenant", "house", "--point", garden["id"], "--json"))
    assert chain["point"]["id"] == garden["id"] and chain["point"]["chunk_index"] == 0
    assert (chain["document"]["doc_id"], chain["document"]["version"]) == (garden["doc_id"], 2)
    assert chain["source"]["path"] == "garden.md" and chain["source"]["unchanged"]
    assert chain["run"]["run_id"] == garden["run_id"] == second["run_id"] and chain["run"]["status"] == "SUCCESS"

    # forget: the document leaves every file of the state, both colors of the index included
    assert len(state_contains(home, LIBRARY)) > 2
    forgotten = last_json(ingest(home, "forget", "--tenant", "house", "--source", "library.html", "--json"))
    assert forgotten["removed"]["points"] == 2  # one in the served color, one in the previous
    assert (forgotten["removed"]["manifest_rows"], forgotten["removed"]["previous_manifest_rows"]) == (1, 1)
    assert state_contains(home, LIBRARY) == []
    assert state_contains(home, "peppers")  # other documents are untouched
    audit = [json.loads(line) for line in (home / "tenants" / "house" / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["doc_id"] == forgotten["doc_id"] and audit[-1]["action"] == "forget"
    status = last_json(ingest(home, "status", "--tenant", "house", "--json"))  # reopens the embedded store
    assert {d["source"]: d["status"] for d in status["documents"]} == {"garden.md": "indexed",
                                                                      "rooms/kitchen.md": "indexed"}
    assert status["points"] == 2 and state_contains(home, LIBRARY) == []

    # rollback: the first run's index serves again, still without the forgotten document
    rolled = ingest(home, "rollback", "--tenant", "house").stdout
    assert rolled.startswith("tenant house: now serving ")
    texts = texts_by_source(served_points(home, "house").values())
    assert sorted(texts) == ["attic.txt", "garden.md", "kitchen.md"]
    assert "tomatoes" in texts["garden.md"][0]

    # the next run would delete two of the three documents the rolled-back manifest lists: refused
    refused, _ = run(home, check=False)
    assert refused.returncode == 1
    assert "refusing to delete 2 of 3 documents" in refused.stderr and "--allow-mass-delete" in refused.stderr
    assert sorted(texts_by_source(served_points(home, "house").values())) == ["attic.txt", "garden.md", "kitchen.md"]

    _, allowed = run(home, "--allow-mass-delete")
    docs = allowed["docs"]
    assert (docs["seen"], docs["changed"], docs["new"], docs["deleted"]) == (2, 1, 1, 2)  # the forgotten file stays out
    assert allowed["chunks"] == {"total": 2, "embedded": 0}  # both texts are cached
    texts = texts_by_source(served_points(home, "house").values())
    assert sorted(texts) == ["garden.md", "rooms/kitchen.md"] and "peppers" in texts["garden.md"][0]
    assert state_contains(home, LIBRARY) == []
