"""Small files written atomically: temp file -> fsync -> rename -> fsync directory.

Owns the crash-safe replacement of small files (checkpoints, metadata).  A reader sees either
the old or the new content, never a mix, even if the process or machine dies mid-write.

Must never: be used for bulk data (segments are appended and fsynced by ``storage.files``).
"""

from __future__ import annotations

import os
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def fsync_directory(directory: str | Path) -> None:
    """Make creations, renames and deletions inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` atomically and durably."""
    path = Path(path)
    temp = path.with_name(path.name + TEMP_SUFFIX)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_directory(path.parent)


def read_file(path: str | Path) -> bytes | None:
    """The content of ``path``, or None if it does not exist."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


__all__ = ["TEMP_SUFFIX", "fsync_directory", "read_file", "write_atomic"]
