"""The benchmark's corpus, reproducible from a seed: business prose with PII sprinkled in, made into text
PDFs, DOCX, HTML, Markdown, e-mail and scanned PDFs (or, for the formats profile, one share of every
format the pipeline reads but images); its summary, and the one-document edit."""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.corpus import (
    Section,
    convert_with_libreoffice,
    write_docx,
    write_eml,
    write_epub,
    write_html,
    write_markdown,
    write_msg,
    write_odp,
    write_ods,
    write_odt,
    write_pptx,
    write_rtf,
    write_scanned_pdf,
    write_text,
    write_text_pdf,
    write_xlsx,
)

# Non-scanned documents are split among these kinds in these proportions (largest remainder).
KIND_WEIGHTS = {"pdf": 0.25, "docx": 0.20, "html": 0.20, "md": 0.20, "eml": 0.15}
# The formats profile: every type the pipeline reads, images aside (OCR is the scans profile's), in equal shares.
FORMAT_KINDS = ("pdf", "docx", "pptx", "xlsx", "html", "md", "txt", "eml", "msg", "doc", "odt", "rtf", "ppt", "odp",
                "xls", "ods", "epub")
FORMAT_KIND_WEIGHTS = {kind: 1 / len(FORMAT_KINDS) for kind in FORMAT_KINDS}
KIND_FOLDERS = {"pdf": "reports", "scan": "scans", "docx": "office", "html": "web", "md": "wiki", "eml": "mail",
                "msg": "mail", "txt": "notes", "doc": "office", "odt": "office", "rtf": "office", "epub": "books",
                "pptx": "slides", "ppt": "slides", "odp": "slides", "xlsx": "sheets", "xls": "sheets", "ods": "sheets"}
KIND_EXTENSIONS = {kind: kind for kind in KIND_FOLDERS} | {"scan": "pdf"}
# Kinds LibreOffice writes from a DOCX, PPTX or XLSX made first (one LibreOffice call per kind and corpus).
LIBREOFFICE_KINDS = {"doc": "docx", "ppt": "pptx", "xls": "xlsx"}
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


def _kind_counts(documents: int, scan_fraction: float, weights: Mapping[str, float] = KIND_WEIGHTS
                 ) -> dict[str, int]:
    """How many documents of each kind: round(documents * scan_fraction) scans, the rest by `weights`."""
    if documents < 1:
        raise ValueError("the corpus needs at least one document")
    if not 0 <= scan_fraction <= 1:
        raise ValueError("the scan fraction must be between 0 and 1")
    scans = int(documents * scan_fraction + 0.5)
    rest = documents - scans
    shares = {kind: rest * weight for kind, weight in weights.items()}
    counts = {kind: int(share) for kind, share in shares.items()}
    # Largest remainder, ties in the weights' order, so that the counts add up exactly.
    by_remainder = sorted(weights, key=lambda kind: -(shares[kind] - counts[kind]))
    for kind in by_remainder[:rest - sum(counts.values())]:
        counts[kind] += 1
    return {"scan": scans, **counts}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def generate_corpus(documents: int, scan_fraction: float, seed: int,
                    weights: Mapping[str, float] = KIND_WEIGHTS) -> list[BenchDocument]:
    """The corpus for a seed: the same arguments give the same documents, text for text."""
    counts = _kind_counts(documents, scan_fraction, weights)
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
        if kind in ("eml", "msg"):
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


def _rows(document: BenchDocument) -> list[list[str]]:
    """A spreadsheet of the document: a header, then one row per paragraph with its section."""
    return [["Section", document.title]] + [[section.title, paragraph] for section in document.sections
                                             for paragraph in section.paragraphs]


def write_document(document: BenchDocument, root: Path) -> Path:
    path = root / document.path
    if document.kind in LIBREOFFICE_KINDS:
        write_libreoffice_documents([document], root)
        return path
    sections = list(document.sections)
    titled = [Section(document.title, ()), *sections]
    if document.kind == "pdf":
        # The title shares the first page: a page with only a short title has too little text layer
        # (ParseSettings.min_text_layer_chars) and would be OCR'd.
        first = sections[0]
        return write_text_pdf(path, [Section(f"{document.title}: {first.title}", first.paragraphs), *sections[1:]])
    if document.kind == "scan":
        return write_scanned_pdf(path, scan_pages(document))
    if document.kind == "docx":
        return write_docx(path, titled)
    if document.kind == "html":
        return write_html(path, titled)
    if document.kind == "md":
        return write_markdown(path, titled)
    if document.kind == "eml":
        return write_eml(path, sender=document.sender, to=document.recipient, subject=document.title,
                         body=email_body(document))
    if document.kind == "msg":
        name, address = document.sender[:-1].split(" <", 1)
        return write_msg(path, sender_name=name, sender=address, to=document.recipient, subject=document.title,
                         body=email_body(document))
    writers = {"txt": write_text, "pptx": write_pptx, "odt": write_odt, "odp": write_odp, "rtf": write_rtf,
               "epub": write_epub}
    if document.kind in writers:
        return writers[document.kind](path, titled)
    if document.kind == "xlsx":
        return write_xlsx(path, "Sheet", _rows(document))
    if document.kind == "ods":
        return write_ods(path, "Sheet", _rows(document))
    raise ValueError(f"unknown document kind {document.kind!r}")


def write_libreoffice_documents(documents: Sequence[BenchDocument], root: Path) -> None:
    """Legacy Office documents: written as DOCX, PPTX or XLSX, then converted by one LibreOffice call per kind."""
    with tempfile.TemporaryDirectory(prefix="bench-originals-") as folder:
        for kind, original in LIBREOFFICE_KINDS.items():
            chosen = [document for document in documents if document.kind == kind]
            if not chosen:
                continue
            originals = [write_document(replace(document, kind=original,
                                                path=f"{original}/{Path(document.path).stem}.{original}"),
                                        Path(folder)) for document in chosen]
            converted = convert_with_libreoffice(originals, kind, Path(folder) / kind)
            for document, path in zip(chosen, converted, strict=True):
                (root / document.path).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, root / document.path)


def write_corpus(corpus: Sequence[BenchDocument], root: Path) -> None:
    for document in corpus:
        if document.kind not in LIBREOFFICE_KINDS:
            write_document(document, root)
    write_libreoffice_documents([document for document in corpus if document.kind in LIBREOFFICE_KINDS], root)


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
