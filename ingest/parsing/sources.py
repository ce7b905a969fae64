"""List a tenant's source folder: every file with its hash, type, size and time."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from ingest.core import tables
from ingest.core.files import file_sha256
from ingest.core.ids import make_doc_id
from ingest.core.manifest import classify_changes
from ingest.core.models import SourceDocument


def detect_file_type(path: Path, data: bytes | None = None) -> tuple[str, str]:
    """(kind, mime type) from the file's content, falling back to its extension.

    With `data`, the content is those bytes and `path` only names them (an e-mail attachment).
    """
    from unstructured.file_utils.encoding import EncodingDetectionWarning
    from unstructured.file_utils.filetype import detect_filetype
    from unstructured.file_utils.model import FileType

    try:
        with warnings.catch_warnings():
            # Sniffing a text file's type guesses its encoding and warns the guess may be wrong; the
            # parser decodes the text itself (ingest.parsing.parse.detect_encoding), so the guess is unused.
            warnings.simplefilter("ignore", EncodingDetectionWarning)
            file_type = (detect_filetype(file_path=str(path)) if data is None
                         else detect_filetype(file=io.BytesIO(data), metadata_file_path=str(path)))
    except Exception:  # unreadable or odd files are classified, not fatal
        file_type = FileType.UNK
    if file_type == FileType.UNK:
        return path.suffix.lower().lstrip(".") or "unknown", "application/octet-stream"
    return file_type.name.lower(), file_type.mime_type


def _is_visible_inside(target: Path, root: Path) -> bool:
    if not target.is_relative_to(root):
        return False
    return not any(part.startswith(".") for part in target.relative_to(root).parts)


def _walk_visible_files(root: Path, skipped: list[str] | None = None) -> Iterator[Path]:
    """Files under root, skipping hidden files and folders and anything outside root.

    Links that lead out of the folder (or into a hidden part of it) are never read; each is named in
    `skipped` ("path: reason"), so the run can report it.
    """
    def skip(path: Path, reason: str) -> None:
        if skipped is not None:
            skipped.append(f"{path.relative_to(root).as_posix()}: {reason}")

    for folder, subfolders, files in os.walk(root, followlinks=False):
        for name in sorted(subfolders):
            path = Path(folder) / name
            if not name.startswith(".") and path.is_symlink():
                # os.walk does not follow folder links; one that leads outside is worth a word.
                if not _is_visible_inside(path.resolve(), root):
                    skip(path, "a folder link that leads outside the source folder")
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if path.is_symlink() and not _is_visible_inside(path.resolve(), root):
                skip(path, "a link that leads outside the source folder (or into a hidden part of it)")
                continue
            if path.is_file():
                yield path


def scan_source(tenant: str, root: Path, known_types: dict[str, tuple[str, str]] | None = None,
                skipped: list[str] | None = None,
                detect: Callable[[Path], tuple[str, str]] = detect_file_type) -> list[SourceDocument]:
    """Every visible file under the tenant's source folder, in a stable order.

    `known_types` maps sha256 to (kind, mime type) from an earlier scan, so an
    unchanged file costs a hash and nothing more; a new or changed file's type comes from `detect`
    (unstructured's detection, about 0.8 s to import; the model host has it loaded). Links leading
    outside the folder are not read; they are listed in `skipped` when given.
    """
    known_types = known_types or {}
    root = root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"source folder {root} does not exist or is not a folder")
    documents = []
    for path in _walk_visible_files(root, skipped):
        source = path.relative_to(root).as_posix()
        stat = path.stat()
        sha256 = file_sha256(path)
        kind, mime = known_types.get(sha256) or detect(path)
        documents.append(
            SourceDocument(
                doc_id=make_doc_id(tenant, source),
                source=source,
                path=str(path),
                sha256=sha256,
                size=stat.st_size,
                modified_at=stat.st_mtime,
                file_type=kind,
                mime_type=mime,
            )
        )
    return documents


def source_frame(tenant: str, root: Path, manifest: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """The tenant's documents with their change since the manifest, and the deleted doc ids."""
    documents = tables.frame(scan_source(tenant, root), tables.SOURCE_DOCUMENTS)
    changes, deleted = classify_changes(documents, manifest)
    return documents.with_columns(pl.Series("change", changes, dtype=pl.String)), deleted


def folder_signature(root: Path) -> str:
    """A cheap fingerprint of a folder's visible files (paths, sizes, modification times).

    Detects new, changed and deleted files without reading them; a run then
    hashes the files to find out what really changed.
    """
    digest = hashlib.sha256()
    for path in _walk_visible_files(root.resolve()):
        stat = path.stat()
        digest.update(f"{path.relative_to(root.resolve()).as_posix()}\x00{stat.st_size}\x00{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]
