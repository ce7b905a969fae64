"""Lineage: from a point back to its chunk, document version, source file and run."""

import polars as pl
import pytest

from ingest.core.errors import ConfigError
from ingest.core.files import file_sha256
from ingest.embedding.embed import embedding_model_key
from ingest.index.lineage import trace
from tests.unit.conftest import MODEL, PHRASES


class Runs:
    """describe_run for the tests: answers from a dict and remembers what it was asked."""

    def __init__(self):
        self.asked = []

    def __call__(self, run_id: str) -> dict:
        self.asked.append(run_id)
        return {"run_id": run_id, "status": "SUCCESS", "url": f"http://ui/runs/{run_id}"}


def trace_of(tenant, **start):
    runs = Runs()
    return trace("acme", tenant.source, tenant.paths, tenant.qdrant, describe_run=runs, **start), runs


def chunk_row(tenant, point_id) -> dict:
    return tenant.enriched().filter(pl.col("point_id") == point_id).row(0, named=True)


def test_a_point_leads_to_its_chunk_document_file_and_run(indexed):
    enriched = indexed.enriched().filter(pl.col("source") == "policy.md")
    row = enriched.filter(pl.col("text").str.contains(PHRASES["policy.md"])).row(0, named=True)
    [chain], runs = trace_of(indexed, point_id=row["point_id"])
    point = chain["point"]
    assert point["id"] == row["point_id"]
    assert point["collection"] == f"tenant_acme__{embedding_model_key(MODEL)}__a" == indexed.store()[0]
    for name in ("chunk_index", "start", "end", "pages", "section_path", "text_sha256", "parser", "strategy",
                 "ocr", "ocr_confidence"):
        assert point[name] == row[name], name
    assert (point["parser"], point["strategy"]) == ("unstructured:md", "partition")
    assert (point["doc_version"], point["ingested_at"]) == (1, "at-run-1")
    assert point["redaction_entities"] == {"PERSON": 1, "PHONE_NUMBER": 1}
    assert point["redaction_policy"] == "policy-1"
    # the redaction audit of this document version: counts, policy and recogniser set, no values
    audit = chain["redaction"]
    assert (audit["doc_id"], audit["policy_version"], audit["entities"]) == (
        indexed.doc_id("policy.md"), "policy-1", {"PERSON": 1, "PHONE_NUMBER": 1})
    assert audit["recognizer_set"].startswith("pii-recognizers-") and audit["entities_total"] == 2
    assert chain["document"] == indexed.manifest_row("policy.md")
    assert chain["source"] == {"path": "policy.md", "absolute_path": str(indexed.source / "policy.md"),
                               "exists": True, "sha256": file_sha256(indexed.source / "policy.md"),
                               "unchanged": True}
    assert chain["run"] == {"run_id": "run-1", "status": "SUCCESS", "url": "http://ui/runs/run-1"}
    assert runs.asked == ["run-1"]


def test_a_source_path_leads_to_all_its_points_in_chunk_order(indexed):
    chains, runs = trace_of(indexed, source="policy.md")
    expected = indexed.enriched().filter(pl.col("source") == "policy.md").sort("chunk_index")
    assert len(expected) > 1  # the test needs a document of several chunks
    assert [chain["point"]["id"] for chain in chains] == expected["point_id"].to_list()
    assert [chain["point"]["chunk_index"] for chain in chains] == list(range(len(expected)))
    assert {chain["document"]["doc_id"] for chain in chains} == {indexed.doc_id("policy.md")}
    assert runs.asked == ["run-1"] * len(expected)


def test_an_unknown_point_or_source_is_a_config_error(indexed):
    with pytest.raises(ConfigError, match="no point"):
        trace_of(indexed, point_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(ConfigError, match="no document"):
        trace_of(indexed, source="missing.md")


def append_to_hours(tenant, text: str) -> None:
    with (tenant.source / "hours.html").open("a", encoding="utf-8") as handle:
        handle.write(f"<p>{text}</p>\n")


def test_lineage_follows_the_run_and_version_that_wrote_the_served_point(indexed):
    append_to_hours(indexed, "Closed on public holidays.")
    indexed.run("run-2")
    [hours] = trace_of(indexed, source="hours.html")[0]
    assert (hours["run"]["run_id"], hours["point"]["doc_version"], hours["document"]["version"]) == ("run-2", 2, 2)
    assert hours["point"]["collection"] == indexed.store()[0]
    assert hours["point"]["ingested_at"] == hours["document"]["indexed_at"] == "at-run-2"


def assert_one_run_per_point_and_document(tenant) -> set[tuple[str, str]]:
    """Every served point's lineage names the run its document's manifest row names; (source, run) pairs."""
    seen = set()
    for source in tenant.manifest().filter(pl.col("status") == "indexed")["source"]:
        for chain in trace_of(tenant, source=source)[0]:
            point, document = chain["point"], chain["document"]
            assert chain["run"]["run_id"] == document["run_id"], (source, point["id"])
            assert point["ingested_at"] == document["indexed_at"], (source, point["id"])
            assert point["collection"] == tenant.store()[0]
            seen.add((source, document["run_id"]))
    return seen


def test_lineage_names_one_run_for_a_point_and_its_document(indexed):
    """Blue/green: run 3 publishes color a again, where shipping.txt's points are still run 1's.

    Run 2 copied shipping.txt into color b; the manifest must not keep naming run 2 once color a serves.
    """
    append_to_hours(indexed, "Closed on public holidays.")
    indexed.run("run-2")
    append_to_hours(indexed, "Closed on Christmas Eve as well.")
    indexed.run("run-3")
    [shipping] = trace_of(indexed, source="shipping.txt")[0]
    assert shipping["run"]["run_id"] == shipping["document"]["run_id"] == "run-1"
    assert shipping["point"]["ingested_at"] == shipping["document"]["indexed_at"] == "at-run-1"
    assert assert_one_run_per_point_and_document(indexed) == {
        ("policy.md", "run-1"), ("shipping.txt", "run-1"), ("hours.html", "run-3")}


def test_lineage_names_one_run_for_every_point_after_an_injected_failure(indexed, monkeypatch):
    import ingest.index.qdrant
    from benchmarks.corpus import Section, write_markdown
    from ingest.index.stage import FAULT_VARIABLE, InjectedFault

    append_to_hours(indexed, "Closed on public holidays.")
    indexed.run("run-2")  # color a, the next staging, keeps run-1's points
    write_markdown(indexed.source / "policy.md", [
        Section("Returns policy", ("Customers may return any unused item within 60 days of delivery.",
                                   "Returned items must be in their original box with all parts.")),
        Section("Refunds", ("Refunds reach the original card within three business days.",))])
    monkeypatch.setattr(ingest.index.qdrant, "UPSERT_BATCH", 1)
    monkeypatch.setenv(FAULT_VARIABLE, "after-upserts=2")  # hours.html and one of policy.md's new points
    with pytest.raises(InjectedFault):
        indexed.run("run-3")
    monkeypatch.delenv(FAULT_VARIABLE)
    indexed.index_stage("run-4")
    indexed.publish_stage("run-4")
    written = {p["run_id"] for p in indexed.points().values() if p["source"] == "policy.md"}
    assert written == {"run-4"}  # a document half-written by the failed run is rewritten whole
    assert_one_run_per_point_and_document(indexed)


def test_lineage_says_when_the_file_changed_or_is_gone_since_indexing(indexed):
    append_to_hours(indexed, "Closed on public holidays.")
    [chain] = trace_of(indexed, source="hours.html")[0]
    assert (chain["source"]["exists"], chain["source"]["unchanged"]) == (True, False)
    assert chain["source"]["sha256"] == indexed.manifest_row("hours.html")["sha256"]  # what was indexed
    (indexed.source / "hours.html").unlink()
    [chain] = trace_of(indexed, point_id=chain["point"]["id"])[0]
    assert (chain["source"]["exists"], chain["source"]["unchanged"]) == (False, False)
