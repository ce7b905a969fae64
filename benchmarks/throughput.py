"""The throughput benchmark behind `python -m benchmarks bench` (and `make bench`).

It builds a reproducible corpus from a seed (text PDFs, DOCX, HTML, Markdown,
e-mail and a share of scanned PDFs, with PII sprinkled into varied prose), runs
the whole pipeline on it in a throwaway INGEST_HOME and DAGSTER_HOME, and
reports side by side:

- end-to-end documents and chunks per second of a full run, with the seconds
  and share of every stage (orchestration is what the stages do not account for);
- the ceiling: plain sentence-transformers encoding of exactly the chunk texts
  the run embedded, same model, batch size and machine, and ceiling / pipeline;
- an unchanged re-run and a one-document edit, as ratios of the full run;
- OCR pages, redacted characters and upserted points per second;
- peak memory of the run's whole process tree (parse workers and fork server included);
- query latency of the embedded store at several sizes.

Each pipeline run is a child process (`python -m benchmarks.throughput --child ...`), as a
real `ingest run` is: it pays its own model loads, and the parent can sample
the memory of its whole process tree. Only that child touches Dagster (through
`launcher.runs.run_tenant`, imported inside the function); everything here is
plain Python. Timing figures are measured, never asserted by the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.corpus import (
    Section,
    write_docx,
    write_eml,
    write_html,
    write_markdown,
    write_scanned_pdf,
    write_text_pdf,
)
from ingest.core.config import converted_models_dir
from ingest.embedding.embed import configured_embedder

REPO_ROOT = Path(__file__).resolve().parents[1]
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

# Non-scanned documents are split among these kinds in these proportions (largest remainder).
KIND_WEIGHTS = {"pdf": 0.25, "docx": 0.20, "html": 0.20, "md": 0.20, "eml": 0.15}
KIND_FOLDERS = {"pdf": "reports", "scan": "scans", "docx": "office", "html": "web", "md": "wiki", "eml": "mail"}
KIND_EXTENSIONS = {"pdf": "pdf", "scan": "pdf", "docx": "docx", "html": "html", "md": "md", "eml": "eml"}
SCAN_LINE_CHARS = 64  # wrapped so that a line fits the 1,700-pixel page of render_page_image
SCAN_PAGE_LINES = 34  # what fits the 2,200-pixel page height
SCAN_MAX_PAGES = 2

# --- corpus: seeded prose -------------------------------------------------------------------
# ASCII only: the text PDFs use a core font (Latin-1).

_WORDS = {
    "team": ("finance", "operations", "legal", "support", "procurement", "security", "facilities",
             "engineering", "sales", "people"),
    "project": ("the warehouse migration", "the billing overhaul", "the supplier audit", "the mobile app launch",
                "the data retention review", "the office move", "the onboarding redesign", "the pricing update",
                "the incident response drill", "the customer portal", "the fleet renewal", "the ERP upgrade"),
    "artifact": ("draft contract", "risk register", "budget forecast", "release checklist", "service agreement",
                 "training plan", "inventory report", "escalation matrix", "vendor scorecard", "floor plan",
                 "shift rota", "maintenance log"),
    "action": ("update the approval workflow", "retire the legacy spreadsheet", "renegotiate the delivery terms",
               "add a second reviewer", "move the backups to the new region", "publish the revised guidelines",
               "schedule a follow-up workshop", "consolidate the duplicate accounts", "tighten the access controls",
               "shorten the response times", "automate the monthly reconciliation", "hire two temporary clerks"),
    "period": ("the first quarter", "the second quarter", "the third quarter", "the last quarter", "March",
               "the summer months", "the past six weeks", "the holiday season", "the previous financial year",
               "the pilot phase"),
    "metric": ("average handling time", "the refund rate", "on-time delivery", "ticket volume",
               "customer satisfaction", "energy consumption", "the defect rate", "invoice processing time",
               "staff turnover", "the backlog of open orders"),
    "cause": ("seasonal demand", "a staffing shortage", "the new routing rules", "a supplier delay",
              "better self-service content", "the price change", "a software defect", "the warehouse relocation",
              "higher return volumes", "improved forecasting"),
    "product": ("power drills", "garden furniture", "laboratory gloves", "printer cartridges", "safety helmets",
                "ceiling fans", "office chairs", "cordless kettles", "storage racks", "water filters"),
    "place": ("the Leeds depot", "the Rotterdam hub", "the downtown store", "the north warehouse", "the Lyon office",
              "the distribution centre", "the training room", "the head office", "the Dublin branch",
              "the loading bay"),
    "deadline": ("the end of the month", "the next board meeting", "Friday", "the start of the next quarter",
                 "the annual audit", "the contract renewal", "the spring release", "mid-November"),
    "unit": ("days", "working days", "weeks", "hours"),
    "adjective": ("minor", "significant", "temporary", "recurring", "unexpected", "gradual", "sharp", "modest"),
}
_SENTENCES = (
    "The {team} team reviewed the {artifact} for {project} and agreed to {action} before {deadline}.",
    "During {period}, {metric} showed a {adjective} change of {number} percent, largely because of {cause}.",
    "Orders of {product} shipped from {place} now take {small} {unit} on average.",
    "Customers who return {product} after {small} {unit} receive store credit instead of a refund.",
    "A {adjective} issue with the {artifact} delayed {project} by {small} {unit}.",
    "The committee asked the {team} team to {action} and to report back by {deadline}.",
    "Staff at {place} should log every exception in the {artifact} on the same day.",
    "We expect {metric} to improve once we {action}.",
    "Budget for {project} was set at {money} for {period}, of which {number} percent is already committed.",
    "Access to the {artifact} is limited to the {team} and {team2} teams.",
    "If a delivery to {place} is late by more than {small} {unit}, the carrier pays a penalty of {money}.",
    "The audit found that {metric} had not been measured consistently since {period}.",
    "Please keep the {artifact} up to date, because the {team2} team relies on it for {project}.",
    "After {cause} in {period}, the {team} team decided to {action}.",
    "Stock of {product} at {place} fell to {number} units, below the agreed minimum.",
    "The new policy applies to all contracts signed after {deadline}.",
    "Training on the {artifact} takes about {small} hours and is mandatory for new starters in {team}.",
    "Requests that arrive after {deadline} are handled in the following cycle.",
    "Our suppliers of {product} were asked to confirm their prices for {period}.",
    "Most of the feedback on {project} concerned {metric} rather than {metric2}.",
    "Nobody disputed that {cause} explains part of the drop, but the {team} team wants more data first.",
    "Until {deadline}, exceptions for {product} need written approval from the {team} lead.",
)
_PII_SENTENCES = (
    "Questions about {project} go to {person} at {email}.",
    "{person} ({phone}) is the contact for {place} until {deadline}.",
    "Please call {person} on {phone} or write to {email} if the {artifact} is unclear.",
    "The request was raised by {person}, who can be reached at {email}.",
    "Escalations outside office hours go to {person} on {phone}.",
)
_FIRST_NAMES = ("Margaret", "Daniel", "Priya", "Tomasz", "Aisha", "Henrik", "Lucia", "Kwame", "Sofia", "Oliver",
                "Mei", "Rafael", "Ingrid", "Samuel", "Fatima", "George", "Elena", "Jonas", "Chloe", "Arjun")
_LAST_NAMES = ("Thornton", "Okafor", "Lindqvist", "Moreau", "Kowalski", "Brennan", "Castillo", "Nakamura",
               "Haddad", "Fischer", "Oduya", "Whitfield", "Petrov", "Delgado", "Sorensen", "Achebe")
_DOMAINS = ("example.com", "example.org", "example.net")
_AREA_CODES = ("212", "415", "617", "312", "206", "303")
_TITLE_SUBJECTS = ("Returns", "Supplier", "Warehouse", "Security", "Onboarding", "Pricing", "Incident", "Travel",
                   "Expense", "Maintenance", "Quality", "Retention", "Procurement", "Fleet")
_TITLE_KINDS = ("policy", "handbook", "review", "report", "guidelines", "minutes", "plan", "checklist",
                "overview", "notes")
_SECTION_TITLES = ("Background", "Scope", "Responsibilities", "Procedure", "Exceptions", "Timeline", "Costs",
                   "Risks", "Open questions", "Next steps", "Contacts", "Summary", "Findings", "Recommendations",
                   "Decisions", "Actions")
# Skewed counts: most documents are short, a few are long; some paragraphs exceed one chunk.
_SECTIONS_PER_DOCUMENT = (1, 2, 2, 3, 3, 3, 4, 4, 5, 6)
_PARAGRAPHS_PER_SECTION = (1, 2, 2, 3, 3, 4, 5)
_SENTENCES_PER_PARAGRAPH = (1, 2, 3, 3, 4, 4, 5, 5, 6, 7, 9, 12)
PII_PARAGRAPH_SHARE = 0.3


class _Prose:
    """Business prose from one seeded generator: every draw comes from `rng`, never the clock."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self) -> tuple[str, str]:
        first, last = self.rng.choice(_FIRST_NAMES), self.rng.choice(_LAST_NAMES)
        return f"{first} {last}", f"{first}.{last}@{self.rng.choice(_DOMAINS)}".lower()

    def phone(self) -> str:
        area, line = self.rng.choice(_AREA_CODES), self.rng.randint(100, 199)  # 555-0100..0199: fictional
        return f"+1 {area} 555 0{line}" if self.rng.random() < 0.5 else f"({area}) 555-0{line}"

    def _fill(self, template: str) -> str:
        slots = {name: self.rng.choice(words) for name, words in _WORDS.items()}
        slots["team2"] = self.rng.choice([team for team in _WORDS["team"] if team != slots["team"]])
        slots["metric2"] = self.rng.choice([metric for metric in _WORDS["metric"] if metric != slots["metric"]])
        slots["number"] = self.rng.randint(2, 40)
        slots["small"] = self.rng.randint(2, 14)
        slots["money"] = f"${self.rng.randint(2, 950) * 100:,}"
        if "{person}" in template:
            slots["person"], slots["email"] = self.person()
            slots["phone"] = self.phone()
        return template.format(**slots)

    def paragraph(self, max_sentences: int | None = None) -> str:
        count = self.rng.choice(_SENTENCES_PER_PARAGRAPH)
        if max_sentences is not None:
            count = min(count, max_sentences)
        sentences = [self._fill(self.rng.choice(_SENTENCES)) for _ in range(count)]
        if self.rng.random() < PII_PARAGRAPH_SHARE:
            sentences.insert(self.rng.randint(0, len(sentences)), self._fill(self.rng.choice(_PII_SENTENCES)))
        return " ".join(sentences)

    def title(self) -> str:
        return f"{self.rng.choice(_TITLE_SUBJECTS)} {self.rng.choice(_TITLE_KINDS)}"

    def sections(self, *, max_sections: int | None = None, max_paragraphs: int | None = None,
                 max_sentences: int | None = None) -> tuple[Section, ...]:
        count = self.rng.choice(_SECTIONS_PER_DOCUMENT)
        titles = self.rng.sample(_SECTION_TITLES, min(count, max_sections or count))
        made = []
        for title in titles:
            paragraphs = self.rng.choice(_PARAGRAPHS_PER_SECTION)
            paragraphs = min(paragraphs, max_paragraphs or paragraphs)
            made.append(Section(title, tuple(self.paragraph(max_sentences) for _ in range(paragraphs))))
        return tuple(made)


# --- corpus: documents ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BenchDocument:
    """One generated document: where it goes, its kind and its text (the source of truth for its bytes)."""

    path: str  # relative to the corpus folder, with "/" separators
    kind: str  # pdf, scan, docx, html, md or eml
    title: str
    sections: tuple[Section, ...]
    sender: str = ""  # e-mail only: "Name <address>"
    recipient: str = ""

    def text(self) -> str:
        """The document's words, as the generator made them (headers included for e-mail)."""
        parts = [self.sender, self.recipient, self.title]
        for section in self.sections:
            parts.append(section.title)
            parts.extend(section.paragraphs)
        return "\n".join(part for part in parts if part)


def _kind_counts(documents: int, scan_fraction: float) -> dict[str, int]:
    """How many documents of each kind: round(documents * scan_fraction) scans, the rest by KIND_WEIGHTS."""
    if documents < 1:
        raise ValueError("the corpus needs at least one document")
    if not 0 <= scan_fraction <= 1:
        raise ValueError("the scan fraction must be between 0 and 1")
    scans = int(documents * scan_fraction + 0.5)
    rest = documents - scans
    shares = {kind: rest * weight for kind, weight in KIND_WEIGHTS.items()}
    counts = {kind: int(share) for kind, share in shares.items()}
    # Largest remainder, ties in KIND_WEIGHTS order, so that the counts add up exactly.
    by_remainder = sorted(KIND_WEIGHTS, key=lambda kind: -(shares[kind] - counts[kind]))
    for kind in by_remainder[:rest - sum(counts.values())]:
        counts[kind] += 1
    return {"scan": scans, **counts}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def generate_corpus(documents: int, scan_fraction: float, seed: int) -> list[BenchDocument]:
    """The corpus for a seed: the same arguments give the same documents, text for text."""
    counts = _kind_counts(documents, scan_fraction)
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    random.Random(f"{seed}/kinds").shuffle(kinds)
    corpus = []
    for index, kind in enumerate(kinds):
        # One generator per document: its text does not depend on how many documents come before it.
        prose = _Prose(random.Random(f"{seed}/document/{index}"))
        title = prose.title()
        if kind == "scan":  # a scan is one or two pages: OCR cost grows with pages, not with words
            sections = prose.sections(max_sections=2, max_paragraphs=2, max_sentences=5)
        else:
            sections = prose.sections()
        sender = recipient = ""
        if kind == "eml":
            name, address = prose.person()
            sender, recipient = f"{name} <{address}>", f"{prose.rng.choice(_WORDS['team'])}@example.com"
        path = f"{KIND_FOLDERS[kind]}/{index:04d}-{_slug(title)}.{KIND_EXTENSIONS[kind]}"
        corpus.append(BenchDocument(path, kind, title, sections, sender, recipient))
    return corpus


def corpus_digest(corpus: Sequence[BenchDocument]) -> str:
    """sha256 of every document's path, kind and text: equal digests, equal source texts."""
    digest = hashlib.sha256()
    for document in corpus:
        digest.update(f"{document.path}\n{document.kind}\n{document.text()}\n\x00".encode())
    return digest.hexdigest()


def scan_pages(document: BenchDocument) -> list[list[str]]:
    """The lines of a scanned document's pages: title, section titles and wrapped paragraphs."""
    lines = [document.title, ""]
    for section in document.sections:
        lines.extend([section.title, ""])
        for paragraph in section.paragraphs:
            lines.extend(textwrap.wrap(paragraph, SCAN_LINE_CHARS))
            lines.append("")
    pages = [lines[first:first + SCAN_PAGE_LINES] for first in range(0, len(lines), SCAN_PAGE_LINES)]
    return pages[:SCAN_MAX_PAGES]


def email_body(document: BenchDocument) -> str:
    team = document.recipient.split("@", 1)[0]
    name = document.sender.split(" <", 1)[0]
    parts = [f"Hello {team} team,"]
    for section in document.sections:
        parts.append(section.title)
        parts.extend(section.paragraphs)
    parts.append(f"Best regards,\n{name}")
    return "\n\n".join(parts) + "\n"


def write_document(document: BenchDocument, root: Path) -> Path:
    path = root / document.path
    sections = list(document.sections)
    if document.kind == "pdf":
        # The title shares the first page: a page with only a short title has too little text layer
        # (ParseSettings.min_text_layer_chars) and would be OCR'd.
        first = sections[0]
        return write_text_pdf(path, [Section(f"{document.title}: {first.title}", first.paragraphs), *sections[1:]])
    if document.kind == "scan":
        return write_scanned_pdf(path, scan_pages(document))
    if document.kind == "docx":
        return write_docx(path, [Section(document.title, ()), *sections])
    if document.kind == "html":
        return write_html(path, [Section(document.title, ()), *sections])
    if document.kind == "md":
        return write_markdown(path, [Section(document.title, ()), *sections])
    if document.kind == "eml":
        return write_eml(path, sender=document.sender, to=document.recipient, subject=document.title,
                         body=email_body(document))
    raise ValueError(f"unknown document kind {document.kind!r}")


def write_corpus(corpus: Sequence[BenchDocument], root: Path) -> None:
    for document in corpus:
        write_document(document, root)


def edited(document: BenchDocument, seed: int) -> BenchDocument:
    """The document with one more paragraph at the end of its last section (the one-document edit)."""
    paragraph = _Prose(random.Random(f"{seed}/edit/{document.path}")).paragraph()
    last = document.sections[-1]
    return replace(document, sections=(*document.sections[:-1],
                                       Section(last.title, (*last.paragraphs, paragraph))))


def document_to_edit(corpus: Sequence[BenchDocument]) -> BenchDocument:
    """The first Markdown document (a text document, cheap to rewrite), else the first that is not a scan."""
    for kind in ("md", "html", "docx", "eml", "pdf"):
        for document in corpus:
            if document.kind == kind:
                return document
    raise ValueError("the corpus has no text document to edit")


def corpus_summary(corpus: Sequence[BenchDocument], root: Path | None = None) -> dict:
    by_kind: dict[str, int] = {}
    for document in corpus:
        by_kind[document.kind] = by_kind.get(document.kind, 0) + 1
    summary = {
        "documents": len(corpus),
        "by_kind": dict(sorted(by_kind.items())),
        "scanned_documents": by_kind.get("scan", 0),
        "scanned_pages": sum(len(scan_pages(document)) for document in corpus if document.kind == "scan"),
        "characters": sum(len(document.text()) for document in corpus),
        "sha256": corpus_digest(corpus),
    }
    if root is not None:
        summary["bytes"] = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
    return summary


# --- measurement: one pipeline run in a child process ---------------------------------------

class BenchError(RuntimeError):
    """A benchmark step failed; the message says which and why."""


def _read_pss_kb(pid: int) -> int | None:
    """Proportional set size (shared pages split among their sharers), from Linux's smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class TreeMemory:
    """Peak memory of a process and every descendant, from samples the caller takes.

    RSS summed over the processes counts pages they share (the forked parse
    workers share the fork server's loaded parsers) once per process: an upper
    bound. PSS splits shared pages among their sharers, so its sum is what the
    tree really holds; it costs more to read, so it is sampled every fifth time.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples = 0
        self.peak_rss = 0
        self.peak_pss: int | None = None
        self.peak_processes = 0

    def sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return  # the process has just ended
        rss = 0
        pss = 0
        with_pss = self.samples % 5 == 0
        for process in processes:
            try:
                rss += process.memory_info().rss
            except psutil.Error:
                continue
            if with_pss:
                pss += (_read_pss_kb(process.pid) or 0) * 1024
        self.samples += 1
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_processes = max(self.peak_processes, len(processes))
        if with_pss and pss:
            self.peak_pss = max(self.peak_pss or 0, pss)

    def result(self) -> dict:
        return {"peak_tree_rss_bytes": self.peak_rss, "peak_tree_pss_bytes": self.peak_pss,
                "peak_processes": self.peak_processes, "samples": self.samples,
                "sample_seconds": SAMPLE_SECONDS}


def _tail(path: Path, lines: int) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def run_pipeline(tenant: str, env: dict[str, str], workdir: Path, label: str,
                 log: Callable[[str], None]) -> dict:
    """One `run_tenant` of `tenant` in a child process: its outcome, timings and the tree's peak memory."""
    out = workdir / "runs" / f"{label}.json"
    log_path = workdir / "runs" / f"{label}.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "benchmarks.throughput", "--child", tenant, str(out)]
    started = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log_file:
        # The child imports this package from the checkout, whatever its working folder.
        child_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))}
        process = subprocess.Popen(command, env=child_env, cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT)
        memory = TreeMemory(process.pid)
        next_heartbeat = started + HEARTBEAT_SECONDS
        while process.poll() is None:
            memory.sample()
            time.sleep(SAMPLE_SECONDS)
            if time.perf_counter() >= next_heartbeat:
                last = _tail(log_path, 1).strip()
                log(f"  ... {label}: {time.perf_counter() - started:.0f} s, "
                    f"{memory.peak_rss / 2**30:.2f} GB peak RSS; last log line: {last[-160:]}")
                next_heartbeat += HEARTBEAT_SECONDS
    process_seconds = time.perf_counter() - started
    if process.returncode != 0 or not out.is_file():
        detail = json.loads(out.read_text(encoding="utf-8")).get("error") if out.is_file() else None
        raise BenchError(f"the {label} run exited {process.returncode}"
                         + (f": {detail}" if detail else "") + f"\n--- last lines of {log_path}:\n"
                         + _tail(log_path, 40))
    run = json.loads(out.read_text(encoding="utf-8"))
    run["process_seconds"] = round(process_seconds, 3)
    run["memory"] = {**memory.result(), "main_ru_maxrss_bytes": run.pop("ru_maxrss_kb") * 1024}
    return run


def _child_run(tenant: str, out: Path) -> int:
    """In the child process: one run of the tenant, its outcome written to `out` as JSON."""
    import resource

    started = time.perf_counter()
    from launcher.instance import prepare_dagster_home

    prepare_dagster_home()
    from launcher.runs import run_tenant
    from resources import default_resources

    imported = time.perf_counter() - started
    outcome = run_tenant(tenant, log_level="INFO")
    steps = _step_seconds(outcome.run_id)
    result = {
        "tenant": tenant,
        "success": outcome.success,
        "error": outcome.error,
        "run_id": outcome.run_id,
        "seconds": outcome.seconds,  # the whole run_tenant call
        "import_seconds": round(imported, 3),
        "summary": outcome.summary(),
        "metadata": outcome.metadata,
        "step_seconds": steps,
        "embed_batch_size": default_resources()["embedder"].batch_size,
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,  # kilobytes on Linux
    }
    out.write_text(json.dumps(result, default=str, indent=1), encoding="utf-8")
    return 0 if outcome.success else 1


def _step_seconds(run_id: str) -> dict[str, float]:
    """Wall seconds of each step of the run (assets and asset checks), from Dagster's event log.

    In the child only, next to run_tenant: the one place here that reads Dagster's own records.
    """
    import dagster as dg

    kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    began: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in dg.DagsterInstance.get().all_logs(run_id, of_type=kinds):
        if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            began[entry.step_key] = entry.timestamp
        elif entry.step_key in began:
            seconds[entry.step_key] = round(entry.timestamp - began[entry.step_key], 3)
    return seconds


# --- measurement: derived figures of one run ------------------------------------------------

# (stage, asset whose metadata holds its seconds); OCR is carved out of parsing (see stage_seconds).
STAGE_ASSETS = (
    ("source", "source_documents"), ("parse", "parsed_documents"), ("ocr", None),
    ("redact", "redacted_documents"), ("chunk", "chunks"), ("enrich", "enriched_chunks"),
    ("embed", "embeddings"), ("upsert", "qdrant_index"), ("publish", "published_index"),
)
# The steps that materialise assets; every other step of the run is an asset check.
ASSET_STEPS = {"source_documents", "parse_and_redact", "chunks", "enriched_chunks", "embeddings", "qdrant_index",
               "published_index"}
STAGES = (*(stage for stage, _ in STAGE_ASSETS), "checks", "orchestration")


def _meta(metadata: dict, asset: str, key: str, default: float = 0) -> float:
    value = metadata.get(asset, {}).get(key, default)
    return default if value is None else value


def stage_seconds(metadata: dict, run_seconds: float, step_seconds: dict[str, float] | None = None
                  ) -> dict[str, float]:
    """Seconds per stage from the assets' metadata; checks from the check steps' wall time;
    orchestration is the rest of the run's wall time (Dagster, step set-up, reading and writing
    what the stages do not time).

    Parse workers run side by side, so parsing reports its wall time ("seconds") and the summed
    per-document worker seconds, of which "ocr_seconds" went to documents that needed OCR. The
    wall time is split between parse and OCR in that proportion.
    """
    seconds = {stage: float(_meta(metadata, asset, "seconds")) for stage, asset in STAGE_ASSETS if asset}
    worker = float(_meta(metadata, "parsed_documents", "parse_worker_seconds"))
    ocr_worker = float(_meta(metadata, "parsed_documents", "ocr_seconds"))
    share = min(1.0, ocr_worker / worker) if worker > 0 else 0.0
    seconds["ocr"] = seconds["parse"] * share
    seconds["parse"] -= seconds["ocr"]
    seconds["checks"] = sum(value for step, value in (step_seconds or {}).items() if step not in ASSET_STEPS)
    ordered = {stage: round(seconds[stage], 3) for stage in STAGES if stage != "orchestration"}
    ordered["orchestration"] = round(run_seconds - sum(seconds.values()), 3)
    return ordered


def _rate(count: float, seconds: float) -> float | None:
    return round(count / seconds, 2) if seconds > 0 and count else None


def summarize_run(run: dict) -> dict:
    """The figures of one pipeline run: throughput, stage seconds and shares, OCR, redaction, upsert, memory."""
    metadata, total = run["metadata"], float(run["seconds"])
    stages = stage_seconds(metadata, total, run.get("step_seconds"))
    documents = int(_meta(metadata, "source_documents", "seen"))
    chunks = int(_meta(metadata, "chunks", "chunks"))
    ocr_pages = int(_meta(metadata, "parsed_documents", "ocr_pages"))
    characters = int(_meta(metadata, "redacted_documents", "characters"))
    written = int(_meta(metadata, "qdrant_index", "written"))
    return {
        "seconds": round(total, 3),
        "process_seconds": run.get("process_seconds"),
        "import_seconds": run.get("import_seconds"),
        "documents": documents,
        "quarantined": int(_meta(metadata, "parsed_documents", "quarantined")),
        "chunks": chunks,
        "embedded": int(_meta(metadata, "embeddings", "embedded")),
        "documents_per_second": _rate(documents, total),
        "chunks_per_second": _rate(chunks, total),
        "stages": stages,
        "shares": {stage: round(value / total, 4) if total > 0 else None for stage, value in stages.items()},
        "ocr": {"pages": ocr_pages, "seconds": stages["ocr"],
                "worker_seconds": round(float(_meta(metadata, "parsed_documents", "ocr_seconds")), 3),
                "pages_per_second": _rate(ocr_pages, stages["ocr"])},
        "redaction": {"characters": characters, "seconds": stages["redact"],
                      "characters_per_second": _meta(metadata, "redacted_documents", "characters_per_second")
                      or _rate(characters, stages["redact"])},
        "upsert": {"points": written, "seconds": stages["upsert"],
                   "points_per_second": _rate(written, stages["upsert"])},
        "memory": run.get("memory", {}),
        "step_seconds": run.get("step_seconds", {}),
        "run_id": run.get("run_id"),
    }


# --- measurement: the ceiling ---------------------------------------------------------------

def chunk_texts(home: Path, tenant: str) -> list[str]:
    """The distinct chunk texts of the tenant's last run, in the order the embedding stage encodes them."""
    import polars as pl

    from ingest.core.storage import TenantPaths

    enriched = pl.read_parquet(TenantPaths.for_tenant(home, tenant).enriched_chunks)
    wanted = enriched.select("text_sha256", "text").unique("text_sha256", keep="first").sort("text_sha256")
    return wanted["text"].to_list()


class CeilingModel:
    """The embedding model loaded with plain sentence-transformers, nothing of the pipeline around it."""

    def __init__(self, model_name: str) -> None:
        from sentence_transformers import SentenceTransformer

        from ingest.embedding.embed import resolve_model_path

        started = time.perf_counter()
        self.model = SentenceTransformer(resolve_model_path(model_name), device="cpu", local_files_only=True)
        self.load_seconds = round(time.perf_counter() - started, 3)
        # One small batch first, so every measured encode finds the model equally warm.
        self.model.encode(["warm-up"] * 4, show_progress_bar=False)

    def measure(self, texts: Sequence[str], batch_size: int) -> dict:
        started = time.perf_counter()
        self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                          convert_to_numpy=True, show_progress_bar=False)
        seconds = time.perf_counter() - started
        return {"texts": len(texts), "batch_size": batch_size, "seconds": round(seconds, 3),
                "model_load_seconds": self.load_seconds, "chunks_per_second": _rate(len(texts), seconds)}


# --- measurement: query latency -------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile with linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _latency_figures(seconds: Sequence[float]) -> dict:
    return {"queries": len(seconds), "p50_ms": round(percentile(seconds, 50) * 1000, 2),
            "p95_ms": round(percentile(seconds, 95) * 1000, 2),
            "mean_ms": round(sum(seconds) / len(seconds) * 1000, 2)}


def measure_query_latency(sizes: Sequence[int], *, store: Path, seed: int, queries: int,
                          dimension: int = 384, model_name: str = "all-MiniLM-L6-v2",
                          embed: Callable[[str], Sequence[float]] | None = None,
                          seconds_per_size: float = LATENCY_SECONDS_PER_SIZE,
                          log: Callable[[str], None] = lambda message: None) -> dict:
    """p50/p95 of the search call of `ingest query` (TenantIndex.search on the embedded store) at each size.

    One collection grows through the sizes in order; points are seeded random unit vectors with
    payloads shaped like the pipeline's. At each size the store is closed and opened again, as
    each `ingest query` opens it (that time is reported too), then up to `queries` searches run,
    stopping early (after at least LATENCY_MIN_QUERIES) once `seconds_per_size` is spent. With
    `embed`, the smallest size is also measured with the query's embedding included, as `ingest query`
    does.
    """
    import warnings

    import numpy as np

    from ingest.core.ids import point_id
    from ingest.embedding.embed import embedding_model_key
    from ingest.index.qdrant import (
        PAYLOAD_COLUMNS,
        IndexPoint,
        QdrantSettings,
        TenantIndex,
        open_qdrant,
    )

    tenant = "bench-latency"
    settings = QdrantSettings(path=store)
    rng = np.random.default_rng(seed)
    prose = _Prose(random.Random(f"{seed}/latency"))
    texts = [prose.paragraph() for _ in range(500)]  # payload texts, reused round-robin
    query_texts = [prose.paragraph(max_sentences=1) for _ in range(queries)]

    def unit(rows: int) -> np.ndarray:
        vectors = rng.standard_normal((rows, dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def points(first: int, last: int) -> list[IndexPoint]:
        made = []
        for number, vector in zip(range(first, last), unit(last - first), strict=True):
            text = texts[number % len(texts)]
            doc_id = f"doc-{number // 8:06d}"
            chunk = number % 8
            sha = hashlib.sha256(f"{number}/{text}".encode()).hexdigest()
            payload = {name: None for name in PAYLOAD_COLUMNS}
            payload.update({
                "tenant": tenant, "doc_id": doc_id, "source": f"reports/{doc_id}.pdf", "source_sha256": sha,
                "chunk_index": chunk, "text": text, "text_sha256": sha, "start": chunk * 900,
                "end": chunk * 900 + len(text), "token_count": len(text) // 5, "pages": [chunk // 3 + 1],
                "page": chunk // 3 + 1, "section_path": ["Findings"], "section": "Findings",
                "title": "Quality review", "element_types": ["NarrativeText"], "file_type": "pdf",
                "language": "en", "source_modified_at": "2026-01-01T00:00:00+00:00", "parser": "pypdf+pdfminer",
                "strategy": "text-layer", "ocr": False, "ocr_confidence": None, "doc_version": 1,
                "doc_fingerprint": sha[:32], "redaction_entities": {"PERSON": 1},
                "parser_version": "bench", "redaction_policy": "bench", "chunker_version": "bench",
                "embedding_model": model_name, "run_id": "bench", "ingested_at": "2026-01-01T00:00:00+00:00",
            })
            made.append(IndexPoint(point_id(tenant, doc_id, chunk, sha), vector.tolist(), payload))
        return made

    def timed_searches(search: Callable[[int], object], limit: int) -> list[float]:
        timings: list[float] = []
        began = time.perf_counter()
        for number in range(limit):
            started = time.perf_counter()
            search(number)
            timings.append(time.perf_counter() - started)
            if len(timings) >= LATENCY_MIN_QUERIES and time.perf_counter() - began > seconds_per_size:
                break
        return timings

    query_vectors = unit(queries)
    result: dict = {"top_k": LATENCY_TOP_K, "dimension": dimension, "seconds_per_size": seconds_per_size,
                    "sizes": {}, "warnings": [], "note": LOCAL_MODE_NOTE}
    inserted = 0
    collection = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for size in sorted(sizes):
            log(f"  latency: inserting points {inserted:,} to {size:,}")
            with open_qdrant(settings, tenant) as client:
                index = TenantIndex(client, tenant)
                if collection is None:
                    collection = index.prepare_staging(embedding_model_key(model_name), dimension)
                    index.publish(collection)  # queries read the alias, as `ingest query` does
                started = time.perf_counter()
                index.upsert(points(inserted, size), collection)
                insert_seconds = time.perf_counter() - started
            inserted = size
            started = time.perf_counter()
            with open_qdrant(settings, tenant) as client:
                open_seconds = time.perf_counter() - started
                index = TenantIndex(client, tenant)
                timings = timed_searches(lambda n: index.search(query_vectors[n], LATENCY_TOP_K), queries)
                figures = {**_latency_figures(timings), "points": index.count(),
                           "open_seconds": round(open_seconds, 3), "insert_seconds": round(insert_seconds, 3)}
                result["sizes"][str(size)] = figures
                log(f"  latency at {size:,} points: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms "
                    f"({figures['queries']} queries; store opened in {open_seconds:.1f} s)")
                if embed is not None and "with_embedding" not in result:
                    timings = timed_searches(lambda n: index.search(embed(query_texts[n]), LATENCY_TOP_K), queries)
                    result["with_embedding"] = {"points": size, **_latency_figures(timings)}
        result["warnings"] = sorted({str(warning.message)[:200] for warning in caught})
    return result


# --- the report --------------------------------------------------------------------------------

TARGET_EDIT_DOCUMENTS = 2.0  # "about one document": at most twice one document's share of the full run
TARGET_MEMORY_DOCUMENTS = 2000  # the memory target is stated for a run of this many documents


def _get(result: dict, *keys: str):
    value = result
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def peak_memory_bytes(result: dict) -> int | None:
    """The highest PSS (else RSS) of a full run's process tree over the benchmark's profiles."""
    peaks = []
    for profile in result.get("profiles", {}).values():
        memory = _get(profile, "full_run", "memory") or {}
        value = memory.get("peak_tree_pss_bytes") or memory.get("peak_tree_rss_bytes")
        if value:
            peaks.append(value)
    return max(peaks) if peaks else None


def evaluate_targets(result: dict) -> list[dict]:
    """The issue's targets: value, goal and met (None when not measured or not applicable)."""

    def target(key: str, label: str, value, goal: str, met, note: str = "") -> dict:
        return {"key": key, "label": label, "value": value, "goal": goal, "met": met, "note": note}

    def at_least(value, bound):
        return None if value is None else value >= bound

    def at_most(value, bound):
        return None if value is None else value <= bound

    text = _get(result, "profiles", "text", "ceiling", "ratio")
    scans = _get(result, "profiles", "scans", "ceiling", "ratio")
    rerun = _get(result, "rerun", "ratio_to_full")
    edit = _get(result, "edit", "ratio_to_one_document")
    documents = _get(result, "parameters", "documents") or 0
    memory = peak_memory_bytes(result)
    memory_gb = round(memory / 1e9, 3) if memory else None
    memory_applies = documents >= TARGET_MEMORY_DOCUMENTS
    return [
        target("ceiling_ratio_text", "ceiling / pipeline, text-only corpus", text, ">= 0.7", at_least(text, 0.7)),
        target("ceiling_ratio_scans", "ceiling / pipeline, with scans", scans, ">= 0.5", at_least(scans, 0.5)),
        target("rerun_ratio", "unchanged re-run / full run", rerun, "<= 0.05", at_most(rerun, 0.05)),
        target("edit_ratio", "one-document edit / one document's share of a full run", edit,
               f"<= {TARGET_EDIT_DOCUMENTS:g} (about one)", at_most(edit, TARGET_EDIT_DOCUMENTS)),
        target("peak_memory", "peak memory of a 2,000-document run, GB", memory_gb, "< 3",
               (memory_gb < 3.0 if memory_gb is not None else None) if memory_applies else None,
               "" if memory_applies else f"judged on runs of {TARGET_MEMORY_DOCUMENTS:,} documents or more; "
               f"this run had {documents:,} (try --documents {TARGET_MEMORY_DOCUMENTS})"),
    ]


def _number(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _gb(value) -> str:
    return "-" if not value else f"{value / 1e9:.2f} GB"


def _met(flag) -> str:
    return "n/a" if flag is None else ("met" if flag else "NOT met")


def format_table(result: dict) -> str:
    """A short plain-text report (Markdown tables) of a benchmark result."""
    parameters = result["parameters"]
    names = list(result.get("profiles", {}))
    headers = {"text": "text-only", "scans": f"with {parameters['scan_fraction']:.0%} scans"}
    profiles = [result["profiles"][name] for name in names]
    lines = [
        f"tenant-ingest benchmark: {parameters['documents']:,} documents a corpus, seed {parameters['seed']}, "
        f"model {parameters['model']} ({result.get('embedder', {}).get('backend', '?')} backend, batches of "
        f"{result.get('embedder', {}).get('batch_size', '?')}), {result['machine']['cpu_count']} CPUs; "
        f"took {result['wall_seconds'] / 60:.1f} min",
        "",
        "| full run | " + " | ".join(headers[name] for name in names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]

    def row(label: str, values: Sequence[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    runs = [profile.get("full_run", {}) for profile in profiles]
    ceilings = [profile.get("ceiling") or {} for profile in profiles]
    row("documents (quarantined)", [f"{r['documents']:,} ({r['quarantined']})" for r in runs])
    row("chunks", [_number(r["chunks"]) for r in runs])
    row("seconds", [_number(r["seconds"], 1) for r in runs])
    row("documents / s", [_number(r["documents_per_second"]) for r in runs])
    row("chunks / s", [_number(r["chunks_per_second"]) for r in runs])
    row("ceiling: plain encode, s", [_number(c.get("seconds"), 1) for c in ceilings])
    row("ceiling / pipeline", [_number(c.get("ratio"), 3) for c in ceilings])
    for stage in STAGES:
        row(f"{stage}, s (share)", [f"{_number(r['stages'][stage], 1)} ({r['shares'][stage]:.0%})"
                                    if r["shares"][stage] is not None else "-" for r in runs])
    row("OCR pages / s", [_number(r["ocr"]["pages_per_second"]) + f" ({r['ocr']['pages']} pages)" for r in runs])
    row("redaction characters / s", [_number(r["redaction"]["characters_per_second"], 0) for r in runs])
    row("upsert points / s", [_number(r["upsert"]["points_per_second"], 0) for r in runs])
    row("peak memory, tree PSS (RSS sum)",
        [f"{_gb(r['memory'].get('peak_tree_pss_bytes'))} ({_gb(r['memory'].get('peak_tree_rss_bytes'))})"
         for r in runs])
    if result.get("rerun") or result.get("edit"):
        lines += ["", "| incremental (" + headers[result["incremental_profile"]] + ") | seconds | ratio |",
                  "| --- | ---: | ---: |"]
        if result.get("rerun"):
            lines.append(f"| unchanged re-run | {_number(result['rerun']['seconds'], 1)} | "
                         f"{_number(result['rerun']['ratio_to_full'], 3)} of the full run |")
        if result.get("edit"):
            lines.append(f"| one-document edit | {_number(result['edit']['seconds'], 1)} | "
                         f"{_number(result['edit']['ratio_to_one_document'], 1)} documents' worth |")
    latency = result.get("latency")
    if latency:
        lines += ["", f"| query latency (top {latency['top_k']}, search only) | p50 ms | p95 ms |",
                  "| --- | ---: | ---: |"]
        for size, figures in latency["sizes"].items():
            lines.append(f"| {int(size):,} points | {figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} |")
        if latency.get("with_embedding"):
            figures = latency["with_embedding"]
            lines.append(f"| {figures['points']:,} points, with the query's embedding | "
                         f"{figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} |")
        lines.append(f"({latency['note']})")
    lines += ["", "| target | value | goal | |", "| --- | ---: | --- | --- |"]
    for item in result["targets"]:
        lines.append(f"| {item['label']} | {_number(item['value'], 3)} | {item['goal']} | {_met(item['met'])} |")
    notes = [item["note"] for item in result["targets"] if item["note"]]
    lines += [f"({note})" for note in notes]
    return "\n".join(lines)


# --- the driver ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BenchOptions:
    documents: int = DEFAULT_DOCUMENTS
    scan_fraction: float = DEFAULT_SCAN_FRACTION
    seed: int = DEFAULT_SEED
    profile: str = "both"  # both, text or scans
    latency_points: tuple[int, ...] = DEFAULT_LATENCY_POINTS
    latency_queries: int = DEFAULT_LATENCY_QUERIES
    skip_latency: bool = False
    skip_incremental: bool = False
    skip_ceiling: bool = False
    keep_workdir: bool = False
    model: str = "all-MiniLM-L6-v2"


def _child_environment(home: Path, config: Path) -> dict[str, str]:
    """The environment of each run: throwaway homes, own tenants file, embedded store, alerts to a file.

    Converted models stay where this installation keeps them (INGEST_MODELS_DIR), converted before
    the runs: a conversion happens once per installation, not in every run.
    """
    dropped = {"QDRANT_URL", "QDRANT_API_KEY", "INGEST_DAGSTER_PG_URL", "INGEST_TEST_FAULT", "INGEST_CONFIG",
               "DAGSTER_HOME", "INGEST_HOME", "INGEST_ALERT_KIND", "INGEST_ALERT_URL", "INGEST_ALERT_SECRET"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env.update({"INGEST_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "INGEST_CONFIG": str(config),
                "INGEST_ALERT_KIND": "log", "INGEST_MODELS_DIR": str(converted_models_dir())})
    return env


def _git_commit() -> dict:
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain"], capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip() != ""
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def machine_info() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import psutil

    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = {}
    for name in ("torch", "sentence-transformers", "qdrant-client", "dagster", "unstructured",
                 "presidio-analyzer", "spacy"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    tesseract = shutil.which("tesseract")
    if tesseract:
        completed = subprocess.run([tesseract, "--version"], capture_output=True, text=True, timeout=30)
        tesseract = (completed.stdout or completed.stderr).splitlines()[0] if completed.returncode == 0 else None
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": packages,
        "tesseract": tesseract,
        **_git_commit(),
    }


def run_benchmark(options: BenchOptions, log: Callable[[str], None]) -> dict:
    """The whole benchmark in a throwaway folder (removed at the end unless keep_workdir); the result dict."""
    if options.profile not in PROFILES:
        raise ValueError(f"unknown profile {options.profile!r}: one of {', '.join(PROFILES)}")
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    home = workdir / "home"

    def say(message: str) -> None:
        log(f"bench [{time.perf_counter() - started:6.0f} s] {message}")

    result: dict = {
        "benchmark": "tenant-ingest", "version": RESULT_VERSION,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {**asdict(options), "latency_points": list(options.latency_points)},
        "machine": machine_info(),
        "profiles": {},
    }
    say(f"working in {workdir}" + (" (kept afterwards)" if options.keep_workdir else " (removed afterwards)"))
    try:
        profiles = PROFILES[options.profile]
        corpora = {name: generate_corpus(options.documents, options.scan_fraction if name == "scans" else 0.0,
                                         options.seed) for name in profiles}
        config = workdir / "tenants.toml"
        config.write_text("".join(f'[tenants.{TENANTS[name]}]\nsource = "{workdir / ("corpus-" + name)}"\n'
                                  f"refresh_hour = 2\n\n" for name in profiles), encoding="utf-8")
        env = _child_environment(home, config)
        say(f"embedding model: loading {options.model} (converting it once if its backend needs that)")
        loaded = time.perf_counter()
        embedder = configured_embedder(options.model)
        result["embedder"] = {"model": options.model, "backend": embedder.backend,
                              "batch_size": embedder.batch_size,
                              "load_seconds": round(time.perf_counter() - loaded, 3)}
        ceiling_model = None
        for name in profiles:
            corpus, root = corpora[name], workdir / f"corpus-{name}"
            say(f"{name}: writing {len(corpus)} documents to {root}")
            write_corpus(corpus, root)
            profile: dict = {"tenant": TENANTS[name], "corpus": corpus_summary(corpus, root)}
            result["profiles"][name] = profile
            say(f"{name}: full run ({profile['corpus']['by_kind']})")
            run = run_pipeline(TENANTS[name], env, workdir, f"{name}-full", say)
            profile["full_run"] = summarize_run(run)
            profile["embed_batch_size"] = run["embed_batch_size"]
            say(f"{name}: full run took {run['seconds']:.1f} s ({profile['full_run']['chunks']} chunks)")
            if not options.skip_ceiling:
                if ceiling_model is None:
                    say(f"ceiling: loading {options.model} with plain sentence-transformers")
                    ceiling_model = CeilingModel(options.model)
                texts = chunk_texts(home, TENANTS[name])
                say(f"{name}: ceiling: encoding the run's {len(texts)} chunk texts")
                ceiling = ceiling_model.measure(texts, run["embed_batch_size"])
                ceiling["ratio"] = round(ceiling["seconds"] / run["seconds"], 4) if run["seconds"] else None
                profile["ceiling"] = ceiling
        if not options.skip_incremental:
            name = profiles[-1]
            full = result["profiles"][name]["full_run"]
            result["incremental_profile"] = name
            say(f"{name}: unchanged re-run")
            rerun = run_pipeline(TENANTS[name], env, workdir, f"{name}-rerun", say)
            result["rerun"] = {**summarize_run(rerun), "ratio_to_full": round(rerun["seconds"] / full["seconds"], 4)}
            target = document_to_edit(corpora[name])
            write_document(edited(target, options.seed), workdir / f"corpus-{name}")
            say(f"{name}: one-document edit ({target.path}, one paragraph appended)")
            edit = run_pipeline(TENANTS[name], env, workdir, f"{name}-edit", say)
            per_document = full["seconds"] / full["documents"]
            result["edit"] = {**summarize_run(edit), "document": target.path,
                              "full_run_seconds_per_document": round(per_document, 3),
                              "ratio_to_one_document": round(edit["seconds"] / per_document, 3)}
        if not options.skip_latency:
            say(f"latency: {options.latency_queries} queries at {', '.join(map(str, options.latency_points))} points")
            result["latency"] = measure_query_latency(
                options.latency_points, store=workdir / "latency-qdrant", seed=options.seed,
                queries=options.latency_queries, dimension=embedder.dimension, model_name=options.model,
                embed=lambda text: embedder.encode([text])[0], log=say)
    finally:
        if not options.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)  # only the folder mkdtemp made for this benchmark
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = evaluate_targets(result)
    return result


def write_result(result: dict, out: Path) -> Path:
    """The JSON result at `out` and the table next to it (same name, .md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    table = out.with_suffix(".md")
    table.write_text(format_table(result) + "\n", encoding="utf-8")
    return table


if __name__ == "__main__":  # the child process of run_pipeline: python -m benchmarks.throughput --child TENANT OUT
    if len(sys.argv) != 4 or sys.argv[1] != "--child":
        sys.exit("usage: python -m benchmarks.throughput --child TENANT OUT_JSON (started by `python -m benchmarks bench`)")
    sys.exit(_child_run(sys.argv[2], Path(sys.argv[3])))
