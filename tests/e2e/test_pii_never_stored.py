"""The audit guarantee: a raw PII value found in a document is never written anywhere the pipeline
writes: not to a parquet file, the index, Dagster's event log and run storage, a log, or the output
of the commands. Values are seeded into documents of several types, the whole pipeline runs through
the `ingest` command, and every file under INGEST_HOME and DAGSTER_HOME is searched: as raw bytes
and, decoded, as parquet columns, SQLite rows and the index's payloads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from benchmarks.corpus import Section, write_docx, write_eml, write_html, write_markdown, write_text, write_text_pdf
from tests.e2e.commands import ingest

pytestmark = pytest.mark.e2e

# Values the default policy redacts. Each is searched for as written and in the forms a tool
# might store it in (lowercased; digits alone for numbers).
SEEDED = {
    "PERSON": "Margaret Thornton",
    "EMAIL_ADDRESS": "margaret.thornton@example.org",
    "PHONE_NUMBER": "+44 20 7946 0958",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "IBAN_CODE": "GB82 WEST 1234 5698 7654 32",
    "US_SSN": "536-22-8726",
    "IP_ADDRESS": "203.0.113.77",
}
# Text that is not PII and must be found by the same search: proof that the search sees content.
MARKER = "quokka feeding schedule"


def _forms(value: str) -> set[str]:
    forms = {value, value.lower()}
    digits = "".join(character for character in value if character.isdigit())
    if len(digits) >= 9:
        forms.add(digits)
    if " " in value and not value.replace(" ", "").isalpha():
        forms.add(value.replace(" ", ""))
    return forms


NEEDLES = {form: entity for entity, value in SEEDED.items() for form in _forms(value)}


def _write_corpus(folder: Path) -> None:
    person, email, phone = SEEDED["PERSON"], SEEDED["EMAIL_ADDRESS"], SEEDED["PHONE_NUMBER"]
    card, iban, ssn, ip = SEEDED["CREDIT_CARD"], SEEDED["IBAN_CODE"], SEEDED["US_SSN"], SEEDED["IP_ADDRESS"]
    write_markdown(folder / "care.md", [Section("Animal care", (
        f"The {MARKER} is posted by the keeper's office every Monday.",
        f"Questions go to {person} at {email} or by phone on {phone}.",
    ))])
    write_text(folder / "billing.txt", [Section("Billing", (
        f"Please charge the card {card} for the annual membership.",
        f"Refunds are paid to IBAN {iban}.",
    ))])
    write_html(folder / "staff.html", [Section("Staff record", (
        f"Employee {person}, SSN {ssn}, last logged in from {ip}.",
    ))])
    write_docx(folder / "letter.docx", [Section("Letter", (f"Dear {person}, thank you for your donation.",))])
    write_text_pdf(folder / "invoice.pdf", [Section("Invoice", (
        f"Billed to {person}, card {card}, contact {email}.",
    ))])
    write_eml(folder / "mail.eml", sender="keeper@zoo.example.org", to="office@zoo.example.org",
              subject="Feeding schedule", body=f"Hi all, {person} ({phone}) covers the {MARKER} this week.")


def _decoded_texts(path: Path) -> list[str]:
    """The text a file holds once decoded: parquet columns, SQLite rows; raw bytes for the rest."""
    texts = [path.read_bytes().decode("utf-8", errors="ignore")]
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        texts.append(json.dumps(frame.to_dicts(), default=str))
    elif path.read_bytes()[:16] == b"SQLite format 3\x00":
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            texts.extend(connection.iterdump())
    elif path.name == "edge_config.json":  # a Qdrant Edge shard: its payload pages are compressed
        texts.append(json.dumps(_shard_payloads(path.parent), default=str))
    return texts


def _shard_payloads(shard_path: Path) -> list[dict]:
    import qdrant_edge

    shard = qdrant_edge.EdgeShard.load(str(shard_path))
    try:
        payloads, offset = [], None
        while True:
            records, offset = shard.scroll(qdrant_edge.ScrollRequest(offset=offset, limit=512, with_payload=True))
            payloads.extend(dict(record.payload or {}) for record in records)
            if offset is None:
                return payloads
    finally:
        shard.close()


def _search(roots: list[Path], needles: dict[str, str]) -> dict[str, set[str]]:
    """needle -> files (relative) that hold it, case-insensitively."""
    found: dict[str, set[str]] = {}
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            content = " ".join(_decoded_texts(path)).lower()
            for needle in needles:
                if needle.lower() in content:
                    found.setdefault(needle, set()).add(str(path.relative_to(root.parent)))
    return found


@pytest.fixture(scope="module")
def pipeline_state(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("pii-audit")
    source, home, dagster_home = base / "source", base / "home", base / "dagster"
    source.mkdir()
    dagster_home.mkdir()
    _write_corpus(source)
    env = {"DAGSTER_HOME": str(dagster_home)}
    outputs = [ingest(home, "run", "--tenant", "zoo", "--source", str(source), "--json", env=env)]
    outputs.append(ingest(home, "query", "--tenant", "zoo", "--json", "who covers the feeding schedule", env=env))
    outputs.append(ingest(home, "export", "--tenant", "zoo", "--jsonl", env=env))
    outputs.append(ingest(home, "status", "--tenant", "zoo", "--json", env=env))
    outputs.append(ingest(home, "lineage", "--tenant", "zoo", "--source", "care.md", "--json", env=env))
    return {"source": source, "home": home, "dagster_home": dagster_home, "outputs": outputs}


def test_the_run_redacted_every_seeded_type(pipeline_state):
    exported = [json.loads(line) for line in pipeline_state["outputs"][2].stdout.splitlines() if line.strip()]
    placeholders = " ".join(point["text"] for point in exported)
    for entity in SEEDED:
        assert f"<{entity}>" in placeholders, entity


def test_the_search_sees_decoded_content(pipeline_state):
    in_source = _search([pipeline_state["source"]], NEEDLES)
    assert set(SEEDED.values()) <= set(in_source)  # every seeded value is findable where it is
    found = _search([pipeline_state["home"], pipeline_state["dagster_home"]], {MARKER: "marker"})
    places = found.get(MARKER, set())
    assert any(place.endswith("redacted_elements.parquet") for place in places), places
    assert any("qdrant" in place for place in places), places


def test_no_raw_pii_value_is_stored_under_ingest_home_or_dagster_home(pipeline_state):
    found = _search([pipeline_state["home"], pipeline_state["dagster_home"]], NEEDLES)
    leaks = {f"{NEEDLES[needle]} ({needle!r})": sorted(places) for needle, places in found.items()}
    assert leaks == {}


def test_no_raw_pii_value_is_printed_by_the_commands(pipeline_state):
    printed = " ".join(output.stdout + output.stderr for output in pipeline_state["outputs"]).lower()
    assert MARKER in printed
    assert [needle for needle in NEEDLES if needle.lower() in printed] == []
