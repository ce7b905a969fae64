"""E-mail attachments as documents of their own: listed by the source stage, parsed in the workers, indexed
under `<message>#<name>` and gone with their message; attachment bombs quarantined while the rest goes on."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from benchmarks.corpus import Section, eml_bytes, write_eml, write_msg, write_text, write_text_pdf
from ingest.index.erase import forget_document
from ingest.index.lineage import trace
from ingest.index.qdrant import TenantIndex, open_qdrant
from ingest.index.retrieval import RetrievalSettings
from ingest.parsing.attachments import (
    MAX_ATTACHMENT_DEPTH,
    MAX_ATTACHMENTS,
    attachment_documents,
    may_have_attachments,
    message_attachments,
)
from ingest.parsing.isolation import parse_documents_isolated
from ingest.parsing.limits import ParseLimits
from ingest.parsing.parse import ParseSettings
from ingest.parsing.sources import scan_source

PHRASE = "Lisbon warehouse grew by seventeen percent"
REPORT = [Section("Annual report", (f"Revenue from the {PHRASE} in the third quarter, thanks to the new "
                                    "conveyor belts and a second shift.",))]
OTHER = [Section("Fleet review", ("The delivery vans in Porto were replaced by electric ones in the spring.",))]


def _pdf(tmp_path: Path, sections: list[Section], name: str = "report.pdf") -> bytes:
    return write_text_pdf(tmp_path / "made" / name, sections).read_bytes()


def _message(path: Path, attachments: list[tuple[str, bytes]], subject: str = "Quarterly figures") -> Path:
    return write_eml(path, sender="finance@example.com", to="board@example.com", subject=subject,
                     body="The figures are in the attached report.", attachments=attachments)


def _nested(depth: int) -> bytes:
    """A message carrying a message carrying a message ... `depth` levels in all."""
    inner = eml_bytes(sender="a@example.com", to="b@example.com", subject="Level 1", body="The innermost one.")
    for level in range(2, depth + 1):
        inner = eml_bytes(sender="a@example.com", to="b@example.com", subject=f"Level {level}",
                          body="Forwarded again.", attachments=[(f"level-{level - 1}.eml", inner)])
    return inner


def test_a_message_lists_its_attachments_nested_ones_included_with_unique_names(tmp_path):
    inner = eml_bytes(sender="a@example.com", to="b@example.com", subject="Inner", body="Inner body.",
                      attachments=[("notes.txt", b"Notes about pallets.")])
    data = eml_bytes(sender="a@example.com", to="b@example.com", subject="Outer", body="Outer body.",
                     attachments=[("report.pdf", _pdf(tmp_path, REPORT)), ("fwd.eml", inner),
                                  ("report.pdf", b"another file of the same name"), ("../odd#name.txt", b"x")])

    listed = [(item.name, item.member) for item in message_attachments(data, "eml")]

    assert listed == [("report.pdf", "0"), ("fwd.eml", "1"), ("fwd.eml#notes.txt", "1/0"),
                      ("report (2).pdf", "2"), ("odd_name.txt", "3")]
    plain = eml_bytes(sender="a@example.com", to="b@example.com", subject="Plain", body="Nothing attached.")
    assert may_have_attachments(data, "eml") and not may_have_attachments(plain, "eml")  # not even parsed


def test_attachment_bombs_are_quarantined_and_the_rest_of_the_batch_goes_on(tmp_path):
    folder = tmp_path / "mail"
    _message(folder / "many.eml", [(f"note-{n}.txt", b"tiny") for n in range(MAX_ATTACHMENTS + 1)])
    (folder / "deep.eml").write_bytes(_nested(MAX_ATTACHMENT_DEPTH + 2))
    _message(folder / "report.eml", [("report.pdf", _pdf(tmp_path, REPORT))])
    write_msg(folder / "fleet.msg", sender_name="Fleet desk", sender="fleet@example.com", to="board@example.com",
              subject="Fleet review", body="The review is attached.",
              attachments=[("fleet.pdf", _pdf(tmp_path, OTHER, "fleet.pdf"))])
    write_text(folder / "notes.txt", OTHER)
    documents = scan_source("acme", folder)

    attachments, unlisted = attachment_documents("acme", documents, [])
    parsed, elements = parse_documents_isolated(documents + attachments, ParseSettings(), ParseLimits())

    assert sorted(unlisted) == ["deep.eml", "many.eml"]
    assert [a.source for a in attachments] == ["fleet.msg#fleet.pdf", "report.eml#report.pdf"]
    reasons = dict(zip([d.source for d in documents + attachments], parsed["quarantine_reason"], strict=True))
    assert reasons["many.eml"] == (f"too_large: the message holds more than {MAX_ATTACHMENTS} attachments "
                                   "(those of attached messages included)")
    assert reasons["deep.eml"].startswith(f"too_large: messages are attached inside messages more than "
                                          f"{MAX_ATTACHMENT_DEPTH} levels deep")
    assert reasons["report.eml"] is reasons["report.eml#report.pdf"] is reasons["notes.txt"] is None
    fleet, report = attachments
    assert PHRASE in " ".join(elements.filter(pl.col("doc_id") == report.doc_id)["text"])
    assert "electric" in " ".join(elements.filter(pl.col("doc_id") == fleet.doc_id)["text"])  # from the .msg
    assert report.file_type == fleet.file_type == "pdf" and reasons["fleet.msg#fleet.pdf"] is None
    assert report.parent_id == next(d.doc_id for d in documents if d.source == "report.eml")


def _search(tenant, embedder, question: str) -> list[str]:
    with open_qdrant(tenant.qdrant, tenant.name) as client:
        hits = TenantIndex(client, tenant.name).search(embedder.encode([question])[0], 3, text=question,
                                                       settings=RetrievalSettings(mode="hybrid"))
    return [hit.payload["source"] for hit in hits]


def test_an_attached_pdf_is_indexed_under_its_message_and_leaves_with_it(tenant, embedder, tmp_path):
    message = _message(tenant.source / "mail" / "2024-03.eml", [("report.pdf", _pdf(tmp_path, REPORT))])
    attachment = "mail/2024-03.eml#report.pdf"

    first = tenant.run("run-1")
    assert first["source"]["attachments"] == 1
    chunks = tenant.enriched().filter(pl.col("source") == attachment)
    assert chunks.height and PHRASE in " ".join(chunks["text"]) and set(chunks["file_type"]) == {"pdf"}
    assert {payload["source"] for payload in tenant.points().values()} >= {attachment, "mail/2024-03.eml"}
    assert attachment in _search(tenant, embedder, "How much did revenue grow at the Lisbon warehouse?")
    sources = pl.read_parquet(tenant.paths.source_documents).filter(pl.col("source") == attachment)
    assert sources["parent_id"].to_list() == [tenant.doc_id("mail/2024-03.eml")]  # lineage to the message
    assert tenant.manifest_row(attachment)["status"] == "indexed"
    [chain, *_] = trace(tenant.name, tenant.source, tenant.paths, tenant.qdrant, source=attachment,
                        describe_run=lambda run_id: {})
    assert chain["source"]["message"] == "mail/2024-03.eml" and chain["source"]["unchanged"] is True

    # The message changes: its old attachment goes, the new one comes.
    _message(message, [("fleet.pdf", _pdf(tmp_path, OTHER, "fleet.pdf"))])
    second = tenant.run("run-2")
    assert second["source"]["deleted"] == 1 and second["source"]["attachments"] == 1
    assert {payload["source"] for payload in tenant.points().values()} >= {"mail/2024-03.eml#fleet.pdf"}
    assert attachment not in {payload["source"] for payload in tenant.points().values()}
    assert tenant.manifest_row(attachment)["status"] == "deleted"

    # The message is deleted: its attachment's points go with it.
    message.unlink()
    tenant.run("run-3")
    left = {payload["source"] for payload in tenant.points().values()}
    assert not {source for source in left if source.startswith("mail/")}
    assert tenant.enriched().filter(pl.col("source").str.starts_with("mail/")).height == 0
    assert tenant.manifest_row("mail/2024-03.eml#fleet.pdf")["status"] == "deleted"


def test_forgetting_a_message_forgets_its_attachments_and_keeps_both_out(tenant, tmp_path):
    _message(tenant.source / "mail" / "m.eml", [("report.pdf", _pdf(tmp_path, REPORT))])
    tenant.run("run-1")

    entry = forget_document(tenant.name, tenant.paths, tenant.qdrant, source="mail/m.eml", requested_by="test")

    assert [item["doc_id"] for item in entry["attachments"]] == [tenant.doc_id("mail/m.eml#report.pdf")]
    assert not [p for p in tenant.points().values() if p["source"].startswith("mail/")]
    again = tenant.run("run-2")  # the message is unchanged in the folder: neither comes back
    assert again["source"]["excluded_forgotten"] == 1 and again["source"]["attachments"] == 0
    assert not [p for p in tenant.points().values() if p["source"].startswith("mail/")]
