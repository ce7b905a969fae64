"""Atomic writes and file hashing.

Every file is written to a temporary name in the same folder and renamed into
place, so a crash never leaves a half-written parquet file or manifest behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the workers' fork server loads this module and must not
    import polars as pl  # hold polars' thread pool, which would not survive a fork

HASH_BLOCK_BYTES = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_replace(path: Path, write, durable: bool = False, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        if not private:  # mkstemp makes 0600, the owner's alone from the first byte; else follow the umask
            os.chmod(temporary, 0o666 & ~_current_umask())
        if durable:
            _fsync(Path(temporary))
        os.replace(temporary, path)
        if durable:
            _fsync(path.parent)  # the rename itself
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write_text(path: Path, text: str, *, durable: bool = False) -> None:
    """Replace `path` in one step; durable: on disk, rename included, before this returns (a power
    loss then cannot bring the old content back)."""
    _atomic_replace(path, lambda temporary: temporary.write_text(text, encoding="utf-8"), durable)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = False, private: bool = False) -> None:
    """atomic_write_text, for bytes; private: readable by the owner only, from the first byte on (a key)."""
    _atomic_replace(path, lambda temporary: temporary.write_bytes(data), durable, private)


def unlink_durably(path: Path) -> None:
    """Remove `path` (if there) so that a power loss cannot bring it back."""
    if path.exists():
        path.unlink()
        _fsync(path.parent)


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    _atomic_replace(path, lambda temporary: frame.write_parquet(temporary))


def read_parquet(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: materialise the upstream stage first (`ingest run --tenant ...`)"
        )
    import polars as pl

    return pl.read_parquet(path)
