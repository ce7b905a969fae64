"""E-mail attachments as documents of their own.

A message (.eml, .msg) carries attachments; each becomes a document with the source
`<message>#<name>` (`mail/2024-03.eml#report.pdf`; inside an attached message
`mail/2024-03.eml#fwd.eml#report.pdf`), its own type, hash and parse, and the message's doc id as
its parent (`parent_id`) with its place in the message (`member`). The source stage lists them
(`attachment_documents`: in worker processes under the parse limits, for new and changed messages
only; an unchanged message keeps the attachments it had). A parse worker takes the attachment's
bytes out of the message again (`extract_attachment`) into the parse run's private folder and
parses them as any file. A message deleted or changed at the source so takes its attachments with
it: they leave the next scan as files do, and the index stage deletes their points.

Messages nest (a forwarded message is an attachment with attachments of its own): at most
MAX_ATTACHMENT_DEPTH levels and MAX_ATTACHMENTS attachments in all per message file. A message beyond
either is quarantined as too_large when it is parsed, and none of its attachments is listed. Archives
are not opened: an attached .zip is a document of type zip, quarantined as unsupported.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import multiprocessing
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ingest.core.ids import make_doc_id
from ingest.core.models import SourceDocument
from ingest.parsing.limits import ParseLimits, Quarantine

MESSAGE_TYPES = {"eml", "msg"}
MAX_ATTACHMENT_DEPTH = 3  # the message, a message attached to it, and one attached to that
MAX_ATTACHMENTS = 100  # per message file, those of attached messages included
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an Outlook .msg is an OLE compound file
_NESTED_SUFFIXES = {".eml": "eml", ".msg": "msg"}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f#/\\]+")
# Without one of these an e-mail has no part this module counts as an attachment (a disposition, a file
# name, an attached message), and a .msg no attachment storage: such messages are not read at all.
_EML_HINT = re.compile(rb"attachment|message/rfc822|name\s*[=*]", re.IGNORECASE)
_MSG_HINT = "__attach_version1.0_".encode("utf-16-le")


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str  # its part of the source: "report.pdf", or "fwd.eml#report.pdf" inside an attached message
    member: str  # positions from the outer message down ("2", "1/0"): how a parse worker finds it again
    data: bytes


def message_kind(data: bytes) -> str:
    return "msg" if data.startswith(_OLE_MAGIC) else "eml"


def may_have_attachments(data: bytes, kind: str) -> bool:
    """False only for a message that certainly has no attachment: a byte search, no parsing."""
    return _MSG_HINT in data if kind == "msg" else _EML_HINT.search(data) is not None


def message_attachments(data: bytes, kind: str) -> list[Attachment]:
    """Every attachment of a message, nested messages' included, in order; or Quarantine (too_large, corrupt)."""
    found: list[Attachment] = []
    if not may_have_attachments(data, kind):
        return found

    def walk(data: bytes, kind: str, depth: int, name_prefix: str, member_prefix: str) -> None:
        used: set[str] = set()
        for position, (filename, content_type, payload, nested) in enumerate(_children(data, kind)):
            if len(found) >= MAX_ATTACHMENTS:
                raise Quarantine(f"too_large: the message holds more than {MAX_ATTACHMENTS} attachments "
                                 "(those of attached messages included)")
            name = _unique(_safe_name(filename, content_type, position), used)
            member = f"{member_prefix}{position}"
            found.append(Attachment(name_prefix + name, member, payload))
            if nested is not None:
                if depth + 1 > MAX_ATTACHMENT_DEPTH:
                    raise Quarantine(f"too_large: messages are attached inside messages more than "
                                     f"{MAX_ATTACHMENT_DEPTH} levels deep")
                walk(payload, nested, depth + 1, f"{name_prefix}{name}#", f"{member}/")

    try:
        walk(data, kind, 1, "", "")
    except (Quarantine, MemoryError):
        raise
    except Exception as error:  # the e-mail and .msg readers raise many kinds on damaged files
        raise Quarantine(f"corrupt: unreadable {kind} message ({type(error).__name__})") from error
    return found


def _children(data: bytes, kind: str) -> list[tuple[str | None, str, bytes, str | None]]:
    """(file name, content type, bytes, message type when it is a message) of each direct attachment."""
    if kind == "msg":
        from oxmsg import Message

        attachments = [(item.file_name, item.mime_type or "application/octet-stream", item.file_bytes)
                       for item in Message.load(io.BytesIO(data)).attachments]
        return [(name, content_type, payload, _nested_kind(name, content_type))
                for name, content_type, payload in attachments if payload is not None]  # not by value: no bytes
    message = email.message_from_bytes(data, policy=email.policy.default)
    found: list[tuple[str | None, str, bytes, str | None]] = []

    def visit(part) -> None:
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                found.append((part.get_filename(), content_type, inner[0].as_bytes(), "eml"))
            return
        if part.is_multipart():
            for sub in part.iter_parts():
                visit(sub)
            return
        disposition = part.get_content_disposition()
        shown_in_body = disposition == "inline" and part["Content-ID"]  # an HTML body's picture: the body's
        if disposition == "attachment" or (part.get_filename() and not shown_in_body):
            payload = part.get_payload(decode=True) or b""
            found.append((part.get_filename(), content_type, payload, _nested_kind(part.get_filename(), content_type)))

    visit(message)
    return found


def _nested_kind(filename: str | None, content_type: str) -> str | None:
    if content_type in ("message/rfc822",):
        return "eml"
    if content_type == "application/vnd.ms-outlook":
        return "msg"
    return _NESTED_SUFFIXES.get(PurePosixPath(filename or "").suffix.lower())


def _safe_name(filename: str | None, content_type: str, position: int) -> str:
    """The attachment's own file name without folders, '#' or control characters; one made up without it."""
    import mimetypes

    name = _UNSAFE.sub("_", PurePosixPath((filename or "").replace("\\", "/")).name).strip(" ._")[:200]
    if name:
        return name
    if content_type == "message/rfc822":
        return f"attachment-{position + 1}.eml"
    return f"attachment-{position + 1}{mimetypes.guess_extension(content_type) or ''}"


def _unique(name: str, used: set[str]) -> str:
    candidate, number = name, 1
    while candidate in used:
        number += 1
        stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
        candidate = f"{stem} ({number}){suffix}"
    used.add(candidate)
    return candidate


# --- in the parse worker ------------------------------------------------------------------

def extract_attachment(document: SourceDocument, folder: Path) -> SourceDocument:
    """The attachment written into `folder` (private, removed by its owner), as a document of its own file.

    Quarantine when the message no longer holds it as listed (changed since the source was scanned).
    """
    data = Path(document.path).read_bytes()
    found = {item.member: item for item in message_attachments(data, message_kind(data))}
    attachment = found.get(document.member)
    if attachment is None or hashlib.sha256(attachment.data).hexdigest() != document.sha256:
        raise Quarantine("corrupt: the message no longer holds this attachment as listed (it changed since "
                         "the source was scanned; the next run lists it again)")
    target = folder / f"attachment-{document.doc_id}"
    target.mkdir(parents=True, exist_ok=True)
    path = target / PurePosixPath(attachment.name.rsplit("#", 1)[-1]).name
    path.write_bytes(attachment.data)
    return replace(document, path=str(path), size=len(attachment.data), member="")


# --- in the source stage ------------------------------------------------------------------

def attachment_documents(tenant: str, documents: Sequence[SourceDocument], previous: Sequence[SourceDocument],
                         limits: ParseLimits = ParseLimits(), relist: frozenset[str] = frozenset()
                         ) -> tuple[list[SourceDocument], list[str]]:
    """(the attachments of the messages among `documents`, the sources of messages that could not be listed).

    An unchanged message (same sha256 as in `previous`, and not in `relist`: one whose last reading may have
    been cut short) keeps its previous attachments; the others are read in worker processes under `limits`
    (a fresh interpreter each: they need no parser loaded).
    """
    before = {document.doc_id: document.sha256 for document in previous if not document.parent_id}
    kept: dict[str, list[SourceDocument]] = {}
    for document in previous:
        if document.parent_id:
            kept.setdefault(document.parent_id, []).append(document)
    messages = [document for document in documents if document.file_type in MESSAGE_TYPES]
    found: list[SourceDocument] = []
    to_read = []
    for message in messages:
        if before.get(message.doc_id) == message.sha256 and message.doc_id not in relist:
            found.extend(replace(attachment, path=message.path, modified_at=message.modified_at)
                         for attachment in kept.get(message.doc_id, []))
        elif may_have_attachments(Path(message.path).read_bytes(), message.file_type):
            to_read.append(message)
    unlisted: list[str] = []
    if to_read:
        from pebble import ProcessPool

        from ingest.core.workers import contain_this_process

        pool = ProcessPool(max_workers=min(limits.workers, len(to_read)), initializer=contain_this_process,
                           initargs=(limits.memory_mb,), context=multiprocessing.get_context("spawn"))
        try:
            futures = [pool.schedule(_list_one, args=(tenant, message), timeout=limits.timeout_seconds)
                       for message in to_read]
            for message, future in zip(to_read, futures, strict=True):
                try:
                    found.extend(future.result())
                except Exception:  # a bomb, a damaged message, a timeout: its parse says why
                    unlisted.append(message.source)
        finally:
            pool.stop()
            pool.join()
    return found, unlisted


def _list_one(tenant: str, message: SourceDocument) -> list[SourceDocument]:
    """In a worker: the message's attachments as documents, typed from their content."""
    data = Path(message.path).read_bytes()
    documents = []
    for attachment in message_attachments(data, message.file_type):
        from ingest.parsing.sources import detect_file_type  # libmagic and unstructured: only when needed

        source = f"{message.source}#{attachment.name}"
        kind, mime = detect_file_type(Path(attachment.name), data=attachment.data)
        documents.append(SourceDocument(
            doc_id=make_doc_id(tenant, source), source=source, path=message.path,
            sha256=hashlib.sha256(attachment.data).hexdigest(), size=len(attachment.data),
            modified_at=message.modified_at, file_type=kind, mime_type=mime,
            parent_id=message.doc_id, member=attachment.member))
    return documents
