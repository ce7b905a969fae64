"""End-to-end tier: the installed `ingest` command on generated corpora of every type."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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

pytestmark = pytest.mark.e2e

INGEST = str(Path(sys.executable).with_name("ingest"))
PERSON, EMAIL, PHONE = "Margaret Thornton", "margaret.thornton@example.org", "+1 212 555 0187"


def ingest(home: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `ingest` command with its state in `home` (and extra environment)."""
    base = {key: value for key, value in os.environ.items()
            if key not in ("DAGSTER_HOME", "INGEST_CONFIG", "INGEST_EMBED_MODEL", "INGEST_TEST_FAULT")}
    env = {**base, **(env or {}), "INGEST_HOME": str(home)}
    completed = subprocess.run([INGEST, *args], capture_output=True, text=True, env=env, timeout=600)
    if check and completed.returncode != 0:
        raise AssertionError(f"ingest {' '.join(args)} exited {completed.returncode}:\n{completed.stderr[-3000:]}")
    return completed


def last_json(completed: subprocess.CompletedProcess) -> dict:
    return json.loads(completed.stdout.strip().splitlines()[-1])


def json_lines(completed: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]


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


def test_run_prints_the_json_summary_last(workspace):
    summary = workspace["alpha"]
    assert set(summary) == {"tenant", "run_id", "docs", "chunks", "points", "seconds"}
    assert summary["tenant"] == "alpha"
    assert summary["docs"] == {"seen": ALPHA_VISIBLE_FILES, "new": ALPHA_VISIBLE_FILES, "changed": 0,
                               "unchanged": 0, "deleted": 0, "quarantined": 1, "skipped": 0}
    assert summary["chunks"]["total"] == summary["chunks"]["embedded"] == summary["points"]["upserted"] > 0
    assert summary["points"]["deleted"] == 0


def test_status_lists_every_document_and_the_quarantined_one_with_its_reason(workspace, alpha_status):
    status = alpha_status
    documents = {d["source"]: d for d in status["documents"]}
    assert len(documents) == ALPHA_VISIBLE_FILES
    assert ".hidden.txt" not in documents and ".cache/tmp.md" not in documents
    locked = documents["locked.pdf"]
    assert locked["status"] == "quarantined" and locked["reason"].startswith("encrypted")
    indexed = [d for d in documents.values() if d["status"] == "indexed"]
    assert len(indexed) == ALPHA_VISIBLE_FILES - 1 and all(d["chunks"] > 0 for d in indexed)
    assert status["points"] == sum(d["chunks"] for d in indexed) == workspace["alpha"]["points"]["upserted"]


def test_every_supported_type_reaches_the_index(alpha_export):
    exported = [json.loads(line) for line in alpha_export.splitlines()]
    assert {point["file_type"] for point in exported} == SUPPORTED_TYPES
    for point in exported:
        assert point["id"] and point["text"] and point["source"] and point["tenant"] == "alpha"


def test_a_fact_only_present_in_a_scan_is_retrieved(workspace):
    answer = last_json(ingest(workspace["home"], "query", "--tenant", "alpha", "--json", "--top-k", "3",
                              "When is the emergency generator tested?"))
    top = answer["hits"][0]
    assert top["source"] == "scans/generator-log.pdf"
    assert "Thursday" in top["text"] and top["page"] == 1


def test_personal_data_never_reaches_the_index(alpha_export):
    for value in (PERSON, "Thornton", EMAIL, PHONE, "555 0187"):
        assert value not in alpha_export
    callback = [p for p in map(json.loads, alpha_export.splitlines()) if p["source"] == "mail/callback.eml"]
    text = " ".join(point["text"] for point in callback)
    assert "<PERSON>" in text and "<EMAIL_ADDRESS>" in text and "<PHONE_NUMBER>" in text


def test_a_query_in_one_tenant_never_returns_another_tenants_documents(workspace, alpha_status):
    home = workspace["home"]
    beta_chunk = json_lines(ingest(home, "export", "--tenant", "beta", "--jsonl"))[0]["text"]
    alpha_sources = {d["source"] for d in alpha_status["documents"]}
    answer = last_json(ingest(home, "query", "--tenant", "alpha", "--json", "--top-k", "20", beta_chunk))
    assert answer["hits"], "alpha's index answers"
    assert {hit["source"] for hit in answer["hits"]} <= alpha_sources
    beta_answer = last_json(ingest(home, "query", "--tenant", "beta", "--json", "When is the generator tested?"))
    assert {hit["source"] for hit in beta_answer["hits"]} <= {"lab.md", "safety.html"}


def test_queries_file_answers_each_line_with_its_id(workspace):
    queries = workspace["root"] / "queries.jsonl"
    queries.write_text('{"id": "q-hours", "query": "When does the shop open?"}\n'
                       '{"id": "q-leave", "query": "How many days of paid leave do staff get?"}\n', encoding="utf-8")
    answers = json_lines(ingest(workspace["home"], "query", "--tenant", "alpha", "--json", "--queries", str(queries)))
    assert [a["id"] for a in answers] == ["q-hours", "q-leave"]
    assert answers[0]["hits"][0]["source"] == "web/opening.html"
    assert answers[1]["hits"][0]["source"] == "office/handbook.docx"
    assert set(answers[0]["hits"][0]) == {"source", "doc_id", "page", "score", "text"}


def test_readable_query_output_cites_its_sources(workspace):
    output = ingest(workspace["home"], "query", "--tenant", "alpha", "How long does delivery take?").stdout
    assert "web/faq.md" in output and "Delivery takes three working days" in output


def test_the_run_is_recorded_on_the_persistent_dagster_instance(workspace):
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(workspace["home"] / "dagster"))
    try:
        run = instance.get_run_by_id(workspace["alpha"]["run_id"])
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags.get("dagster/partition") == "alpha"
    finally:
        instance.dispose()


def test_rerun_detects_unchanged_changed_and_deleted_documents(tmp_path):
    home, source = tmp_path / "state", tmp_path / "gamma"
    write_markdown(source / "keep.md", [Section("Keep", ("This document never changes.",))])
    write_markdown(source / "edit.md", [Section("Edit", ("The first version of this note.",))])
    write_markdown(source / "drop.md", [Section("Drop", ("The parrot speaks three languages.",))])
    first = last_json(ingest(home, "run", "--tenant", "gamma", "--source", str(source), "--json"))
    assert first["docs"]["new"] == 3

    again = last_json(ingest(home, "run", "--tenant", "gamma", "--json"))
    assert again["docs"]["unchanged"] == 3 and again["points"] == {"upserted": 0, "deleted": 0}

    write_markdown(source / "edit.md", [Section("Edit", ("The second version mentions a lighthouse.",))])
    (source / "drop.md").unlink()
    third = last_json(ingest(home, "run", "--tenant", "gamma", "--json"))
    assert (third["docs"]["unchanged"], third["docs"]["changed"], third["docs"]["deleted"]) == (1, 1, 1)
    assert third["points"]["deleted"] >= 2  # the dropped document's point and the edit's old version

    exported = ingest(home, "export", "--tenant", "gamma", "--jsonl").stdout
    assert "parrot" not in exported and "first version" not in exported and "lighthouse" in exported
    status = last_json(ingest(home, "status", "--tenant", "gamma", "--json"))
    assert sorted(d["source"] for d in status["documents"]) == ["edit.md", "keep.md"]


def test_bad_tenant_names_and_unknown_tenants_get_clear_errors(tmp_path):
    bad = ingest(tmp_path, "run", "--tenant", "../Evil", "--source", str(tmp_path), check=False)
    assert bad.returncode == 2 and "invalid tenant name" in bad.stderr
    unknown = ingest(tmp_path, "query", "--tenant", "nobody", "hello", check=False)
    assert unknown.returncode == 2 and "ingest run --tenant nobody --source DIR" in unknown.stderr
    missing = ingest(tmp_path, "run", "--tenant", "ok", "--source", str(tmp_path / "nowhere"), check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
