"""The file operations a partition log needs, on disk (``DiskDirectory``).

Owns file descriptors of one partition directory.  ``storage.memory.MemoryDirectory`` is the
in-memory twin with the same interface plus ``crash()``; ``PartitionLog`` works on either.

Semantics both implementations share: ``LogFile.append`` is not durable until ``sync()``;
creating, renaming, deleting a file and ``write_atomic`` are durable when they return.

Must never: interpret file contents.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

from zafka.core.errors import CorruptRecord
from zafka.storage.atomic import fsync_directory, read_file, write_atomic

Buffer = bytes | bytearray | memoryview


class LogCorruption(CorruptRecord):
    """Data the log had made durable is damaged: a loud, local, non-retriable failure."""

    retriable = False


class LogFile(Protocol):
    """An append-only file with positional reads."""

    @property
    def size(self) -> int: ...

    def append(self, data: Buffer) -> None: ...

    def pread(self, position: int, size: int) -> bytes: ...

    def truncate(self, size: int) -> None: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class Directory(Protocol):
    """One partition's directory."""

    def names(self) -> list[str]: ...

    def open(self, name: str) -> LogFile: ...

    def read_bytes(self, name: str) -> bytes | None: ...

    def write_atomic(self, name: str, data: bytes) -> None: ...

    def rename(self, source: str, target: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def delete_all(self) -> None: ...


class DiskFile:
    """A file descriptor opened for append + pread; ``size`` is tracked, not stat()ed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size

    @property
    def size(self) -> int:
        return self._size

    def append(self, data: Buffer) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self._size += written
            view = view[written:]

    def pread(self, position: int, size: int) -> bytes:
        return os.pread(self._fd, size, position)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)
        self._size = size

    def sync(self) -> None:
        os.fdatasync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class DiskDirectory:
    """A real directory; created if missing."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def names(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir())

    def open(self, name: str) -> DiskFile:
        existed = (self.path / name).exists()
        file = DiskFile(self.path / name)
        if not existed:
            fsync_directory(self.path)
        return file

    def read_bytes(self, name: str) -> bytes | None:
        return read_file(self.path / name)

    def write_atomic(self, name: str, data: bytes) -> None:
        write_atomic(self.path / name, data)

    def rename(self, source: str, target: str) -> None:
        os.replace(self.path / source, self.path / target)
        fsync_directory(self.path)

    def delete(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)
        fsync_directory(self.path)

    def delete_all(self) -> None:
        shutil.rmtree(self.path)


__all__ = ["Buffer", "Directory", "DiskDirectory", "DiskFile", "LogCorruption", "LogFile"]
