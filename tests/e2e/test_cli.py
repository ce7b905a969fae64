"""End-to-end tier: the installed `ingest` command on generated corpora of every type.

Two tenants are ingested once; the tests read the commands' output (summary, status, export, the
answers to a file of queries and to a readable query) and the persistent Dagster instance."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import polars as pl
import pytest

from benchmarks.corpus import (
    Section,
    write_docx,
    write_eml,
    write_html,
    write_image,
    write_markdown,
    write_msg,
    write_pptx,
    write_scanned_pdf,
    write_text,
    write_text_pdf,
    write_xlsx,
)
from tests.e2e.commands import ingest, json_lines, last_json

pytestmark = pytest.mark.e2e

PERSON, EMAIL, PHONE = "Margaret Thornton", "margaret.thornton@example.org", "+1 212 555 0187"


def write_alpha(folder: Path) -> None:
    """One file of every supported type; a fact that exists only in a scan; PII in an e-mail."""
    policy = [Section("Returns policy", ("Unused items can be returned within 45 days for a full refund.",)),
              Section("Refunds", ("Refunds reach the original card within five business days.",))]
    write_text_pdf(folder / "policy.pdf", policy)
    write_scanned_pdf(folder / "scans" / "generator-log.pdf", [[
        "Facilities log",
        "The emergency generator is tested every Thursday",
        "at six in the morning by the night shift.",
    ]])
    write_image(folder / "scans" / "badge.png", ["Visitor badges are returned at reception."])
    write_image(folder / "scans" / "parking.jpg", ["Parking level minus two is reserved for vans."])
    write_image(folder / "scans" / "fax.tiff", ["Fax machines were retired in March."])
    write_docx(folder / "office" / "handbook.docx", [Section("Holidays", ("Staff receive 28 days of paid leave.",))])
    write_pptx(folder / "office" / "roadmap.pptx", [Section("Roadmap", ("The mobile app launches in spring.",))])
    write_xlsx(folder / "office" / "inventory.xlsx", "Stock", [["Item", "Count"], ["Ladders", 14], ["Drills", 31]])
    write_html(folder / "web" / "opening.html", [Section("Opening hours", ("The shop opens at 8 am.",))])
    write_markdown(folder / "web" / "faq.md", [Section("Delivery", ("Delivery takes three working days.",))])
    write_text(folder / "notes.txt", [Section("Parking", ("Bicycles are parked behind the loading bay.",))])
    write_eml(folder / "mail" / "callback.eml", sender=f"{PERSON} <{EMAIL}>", to="support@example.com",
              subject="Callback request",
              body=f"Please ask {PERSON} to call back on {PHONE} or write to {EMAIL} about the refund.")
    write_msg(folder / "mail" / "supplier.msg", sender_name="Supplier Desk", sender="desk@supplier.example",
              to="buyers@example.com", subject="Ladder recall",
              body="Ladders from batch 42 are recalled because the hinge pins can shear.")
    write_text_pdf(folder / "locked.pdf", policy, password="secret")
    (folder / ".hidden.txt").write_text("never indexed", encoding="utf-8")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "tmp.md").write_text("# never indexed", encoding="utf-8")


def write_beta(folder: Path) -> None:
    write_markdown(folder / "lab.md", [
        Section("Freezer audit", ("Freezer B2 in room 114 held minus eighty degrees for the whole audit.",)),
    ])
    write_html(folder / "safety.html", [
        Section("Centrifuge", ("Balance opposite tubes to within one tenth of a gram before every run.",)),
    ])


ALPHA_VISIBLE_FILES = 14
SUPPORTED_TYPES = {"pdf", "png", "jpg", "tiff", "docx", "pptx", "xlsx", "html", "md", "txt", "eml", "msg"}
ALPHA_SOURCES = {"policy.pdf", "scans/generator-log.pdf", "scans/badge.png", "scans/parking.jpg", "scans/fax.tiff",
                 "office/handbook.docx", "office/roadmap.pptx", "office/inventory.xlsx", "web/opening.html",
                 "web/faq.md", "notes.txt", "mail/callback.eml", "mail/supplier.msg", "locked.pdf"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("e2e")
    home = root / "state"
    write_alpha(root / "alpha")
    write_beta(root / "beta")
    alpha = last_json(ingest(home, "run", "--tenant", "alpha", "--source", str(root / "alpha"), "--json"))
    beta = last_json(ingest(home, "run", "--tenant", "beta", "--source", str(root / "beta"), "--json"))
    return {"root": root, "home": home, "alpha": alpha, "beta": beta}


@pytest.fixture(scope="module")
def alpha_export(workspace) -> str:
    return ingest(workspace["home"], "export", "--tenant", "alpha", "--jsonl").stdout


@pytest.fixture(scope="module")
def alpha_status(workspace) -> dict:
    return last_json(ingest(workspace["home"], "status", "--tenant", "alpha", "--json"))


@pytest.fixture(scope="module")
def alpha_answers(workspace) -> dict[str, dict]:
    """One `ingest query --queries FILE` for alpha: query id -> answer. The last query is a chunk of beta's,
    word for word: the nearest text in the store is beta's, and alpha must not answer with it."""
    beta_chunk = pl.read_parquet(workspace["home"] / "tenants" / "beta" / "enriched_chunks.parquet")["text"][0]
    queries = workspace["root"] / "queries.jsonl"
    queries.write_text("".join(json.dumps(line) + "\n" for line in (
        {"id": "q-hours", "query": "When does the shop open?"},
        {"id": "q-leave", "query": "How many days of paid leave do staff get?"},
        {"id": "q-scan", "query": "When is the emergency generator tested?"},
        {"id": "q-beta", "query": beta_chunk},
    )), encoding="utf-8")
    answers = json_lines(ingest(workspace["home"], "query", "--tenant", "alpha", "--json", "--top-k", "20",
                                "--queries", str(queries)))
    assert [answer["id"] for answer in answers] == ["q-hours", "q-leave", "q-scan", "q-beta"]  # in file order
    return {answer["id"]: answer for answer in answers}


def test_run_prints_the_json_summary_last(workspace):
    summary = workspace["alpha"]
    assert set(summary) == {"tenant", "run_id", "docs", "chunks", "points", "seconds", "worker"}
    assert summary["tenant"] == "alpha"
    host, pid = summary["worker"].rsplit(":", 1)  # executed in the `ingest` process itself: this machine
    assert host == socket.gethostname() and int(pid) > 0
    assert summary["docs"] == {"seen": ALPHA_VISIBLE_FILES, "new": ALPHA_VISIBLE_FILES, "changed": 0,
                               "unchanged": 0, "deleted": 0, "quarantined": 1, "skipped": 0}
    assert summary["chunks"]["total"] == summary["chunks"]["embedded"] == summary["points"]["upserted"] > 0
    assert summary["points"]["deleted"] == 0


def test_status_lists_every_document_and_the_quarantined_one_with_its_reason(workspace, alpha_status):
    status = alpha_status
    documents = {d["source"]: d for d in status["documents"]}
    assert set(documents) == ALPHA_SOURCES  # neither the hidden file nor the hidden folder's
    locked = documents["locked.pdf"]
    assert locked["status"] == "quarantined" and locked["reason"].startswith("encrypted")
    assert locked["category"] == "encrypted" and status["quarantined_by_category"] == {"encrypted": 1}
    indexed = [d for d in documents.values() if d["status"] == "indexed"]
    assert len(indexed) == ALPHA_VISIBLE_FILES - 1 and all(d["chunks"] > 0 for d in indexed)
    assert status["points"] == sum(d["chunks"] for d in indexed) == workspace["alpha"]["points"]["upserted"]


def test_every_supported_type_reaches_the_index(alpha_export):
    exported = [json.loads(line) for line in alpha_export.splitlines()]
    assert {point["file_type"] for point in exported} == SUPPORTED_TYPES
    for point in exported:
        assert point["id"] and point["text"] and point["source"] and point["tenant"] == "alpha"
    assert len({point["id"] for point in exported}) == len(exported)


def test_personal_data_never_reaches_the_index(alpha_export):
    for value in (PERSON, "Thornton", EMAIL, PHONE, "555 0187"):
        assert value not in alpha_export
    callback = [p for p in map(json.loads, alpha_export.splitlines()) if p["source"] == "mail/callback.eml"]
    text = " ".join(point["text"] for point in callback)
    assert "<PERSON>" in text and "<EMAIL_ADDRESS>" in text and "<PHONE_NUMBER>" in text


def test_queries_file_answers_each_line_with_its_id(alpha_answers):
    assert alpha_answers["q-hours"]["hits"][0]["source"] == "web/opening.html"
    assert alpha_answers["q-leave"]["hits"][0]["source"] == "office/handbook.docx"
    assert set(alpha_answers["q-hours"]["hits"][0]) == {"source", "doc_id", "page", "score", "text"}
    assert alpha_answers["q-hours"]["query"] == "When does the shop open?"


def test_a_fact_only_present_in_a_scan_is_retrieved(alpha_answers):
    top = alpha_answers["q-scan"]["hits"][0]
    assert top["source"] == "scans/generator-log.pdf"
    assert "Thursday" in top["text"] and top["page"] == 1


def test_a_query_in_one_tenant_never_returns_another_tenants_documents(workspace, alpha_answers):
    hits = alpha_answers["q-beta"]["hits"]
    assert hits, "alpha's index answers"
    assert {hit["source"] for hit in hits} <= ALPHA_SOURCES
    # beta, asked in readable form about alpha's scan (by meaning alone), answers from its own two documents
    output = ingest(workspace["home"], "query", "--tenant", "beta", "--top-k", "5", "--mode", "dense",
                    "When is the emergency generator tested?").stdout
    assert output.startswith("Q: When is the emergency generator tested?")
    cited = {line.split("] ", 1)[1].split("  (", 1)[0].split(", p. ", 1)[0]
             for line in output.splitlines() if line[:4].strip().endswith(".")}
    assert cited and cited <= {"lab.md", "safety.html"}, output
    assert not any(source in output for source in ALPHA_SOURCES)


def test_the_run_is_recorded_on_the_persistent_dagster_instance(workspace):
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(workspace["home"] / "dagster"))
    try:
        for tenant in ("alpha", "beta"):
            run = instance.get_run_by_id(workspace[tenant]["run_id"])
            assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
            assert run.tags.get("dagster/partition") == tenant
    finally:
        instance.dispose()
