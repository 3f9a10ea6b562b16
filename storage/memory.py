"""The in-memory twin of the partition log's files, with ``crash()``.

Owns ``MemoryDirectory`` (the ``storage.files.Directory`` interface over bytearrays) and
``MemoryPartitionLog`` (a ``PartitionLog`` on it).  Crash semantics, the ones the disk code
is written against: appended bytes survive a crash only once ``sync()`` covered them;
creating, renaming, truncating and deleting a file and ``write_atomic`` survive at once.

Must never: touch the disk.
"""

from __future__ import annotations

from collections.abc import Callable

from zafka.storage.files import Buffer
from zafka.storage.log import LogConfig, PartitionLog


class MemoryFile:
    """A bytearray with a synced prefix."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.synced = 0

    @property
    def size(self) -> int:
        return len(self.data)

    def append(self, data: Buffer) -> None:
        self.data += data

    def pread(self, position: int, size: int) -> bytes:
        return bytes(self.data[position:position + size])

    def truncate(self, size: int) -> None:
        del self.data[size:]
        self.synced = min(self.synced, size)

    def sync(self) -> None:
        self.synced = len(self.data)

    def close(self) -> None:
        """Nothing to release."""

    def crash(self) -> None:
        del self.data[self.synced:]


class MemoryDirectory:
    """A partition directory held in memory; survives ``crash()`` as a disk would."""

    def __init__(self) -> None:
        self.files: dict[str, MemoryFile] = {}

    def names(self) -> list[str]:
        return sorted(self.files)

    def open(self, name: str) -> MemoryFile:
        return self.files.setdefault(name, MemoryFile())

    def read_bytes(self, name: str) -> bytes | None:
        file = self.files.get(name)
        return None if file is None else bytes(file.data)

    def write_atomic(self, name: str, data: bytes) -> None:
        file = MemoryFile()
        file.append(data)
        file.sync()
        self.files[name] = file

    def rename(self, source: str, target: str) -> None:
        self.files[target] = self.files.pop(source)

    def delete(self, name: str) -> None:
        self.files.pop(name, None)

    def delete_all(self) -> None:
        self.files.clear()

    def crash(self) -> None:
        """Lose every appended byte that no ``sync()`` covered."""
        for file in self.files.values():
            file.crash()


class MemoryPartitionLog(PartitionLog):
    """A ``PartitionLog`` whose files live in a ``MemoryDirectory``."""

    directory: MemoryDirectory

    def __init__(self, directory: MemoryDirectory, config: LogConfig,
                 clock_ms: Callable[[], int]) -> None:
        super().__init__(directory, config, clock_ms)

    @classmethod
    def create(cls, config: LogConfig, clock_ms: Callable[[], int]) -> MemoryPartitionLog:
        """A new, empty log in a new memory directory."""
        return cls(MemoryDirectory(), config, clock_ms)

    def crash(self) -> None:
        """Lose everything not flushed, then recover as a restarted process would."""
        self.directory.crash()
        self._load()

    def reopen(self) -> MemoryPartitionLog:
        """Close this log and open a new one on the same memory directory."""
        self.close()
        return MemoryPartitionLog(self.directory, self.config, self.clock_ms)


__all__ = ["MemoryDirectory", "MemoryFile", "MemoryPartitionLog"]
