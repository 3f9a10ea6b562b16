"""Idempotent-producer state of one partition: the dedup window of each producer id.

Owns: per producer id, its current epoch and the last ``window`` batches it appended
(epoch, first/last sequence, first/last offset).  Decides whether an incoming batch is new
(append it), a retried duplicate (answer with the original offsets, append nothing) or an
error (``OutOfOrderSequence``, ``InvalidProducerEpoch``), following Kafka's
``ProducerStateManager``.  The table is rebuilt from batch headers when a replica becomes
leader (``rebuild``).

Must never: read or write the log, or know about replication; it sees sequence numbers and
offsets only.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable

from zafka.core.errors import ErrorCode

NO_PRODUCER_ID = -1
SEQUENCE_MAX = 2**31 - 1  # sequences are int32 and wrap to 0 after this


def next_sequence(sequence: int, count: int = 1) -> int:
    """The sequence ``count`` after ``sequence``, wrapping like Kafka's int32 sequences."""
    return (sequence + count) % (SEQUENCE_MAX + 1)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BatchHeader:
    """The producer fields of one appended batch, as read from its RecordBatch v2 header."""

    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int
    base_offset: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BatchMetadata:
    """One remembered batch of a producer."""

    producer_epoch: int
    first_sequence: int
    last_sequence: int
    first_offset: int
    last_offset: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SequenceCheck:
    """The decision for an incoming batch: append it, answer a duplicate, or refuse it."""

    error: ErrorCode = ErrorCode.NONE
    duplicate_of: BatchMetadata | None = None

    @property
    def should_append(self) -> bool:
        return self.error == ErrorCode.NONE and self.duplicate_of is None


APPEND = SequenceCheck()
OUT_OF_ORDER = SequenceCheck(error=ErrorCode.OUT_OF_ORDER_SEQUENCE)


class ProducerStateTable:
    """Per producer id: current epoch and the last ``window`` batches (Kafka keeps 5)."""

    def __init__(self, window: int = 5) -> None:
        assert window >= 1, "dedup window must hold at least one batch"
        self.window = window
        self._epochs: dict[int, int] = {}
        self._batches: dict[int, deque[BatchMetadata]] = {}

    def __len__(self) -> int:
        return len(self._epochs)

    def producer_epoch(self, producer_id: int) -> int | None:
        """The current epoch of ``producer_id``, or None if the table does not know it."""
        return self._epochs.get(producer_id)

    def batches(self, producer_id: int) -> tuple[BatchMetadata, ...]:
        """The remembered batches of ``producer_id``, oldest first."""
        return tuple(self._batches.get(producer_id, ()))

    def check(self, producer_id: int, producer_epoch: int, first_sequence: int,
              last_sequence: int) -> SequenceCheck:
        """Decide what to do with a batch before it is appended (changes nothing).

        Rules (Kafka's): a non-idempotent batch (producer id -1) is always appended; an older
        epoch is ``INVALID_PRODUCER_EPOCH``; a batch equal to one of the remembered ones is a
        duplicate; a newer epoch must start at sequence 0; within an epoch the first sequence
        must follow the last one.  Stricter than Kafka: an unknown producer id must start at
        sequence 0 too — with several batches in flight, a later batch must not be appended
        before a lost first one.  (A producer whose state left with old segments meets
        ``OUT_OF_ORDER_SEQUENCE`` for its oldest batch, which the leader did not append; it
        takes a new producer id and starts again at 0.)
        """
        if producer_id == NO_PRODUCER_ID:
            return APPEND
        current_epoch = self._epochs.get(producer_id)
        if current_epoch is None:
            return APPEND if first_sequence == 0 else OUT_OF_ORDER
        if producer_epoch < current_epoch:
            return SequenceCheck(error=ErrorCode.INVALID_PRODUCER_EPOCH)
        if producer_epoch > current_epoch:
            return APPEND if first_sequence == 0 else OUT_OF_ORDER
        remembered = self._batches[producer_id]
        for batch in remembered:
            if (batch.first_sequence, batch.last_sequence) == (first_sequence, last_sequence):
                return SequenceCheck(duplicate_of=batch)
        if remembered and first_sequence != next_sequence(remembered[-1].last_sequence):
            return OUT_OF_ORDER
        return APPEND

    def on_batch_appended(self, producer_id: int, producer_epoch: int, first_sequence: int,
                          last_sequence: int, first_offset: int, last_offset: int) -> None:
        """Remember a batch that is now in the log (leader append or rebuild)."""
        if producer_id == NO_PRODUCER_ID:
            return
        assert first_offset <= last_offset, "a batch spans at least one offset"
        current_epoch = self._epochs.get(producer_id)
        assert current_epoch is None or producer_epoch >= current_epoch, "epoch went back"
        if current_epoch != producer_epoch:
            self._epochs[producer_id] = producer_epoch
            self._batches[producer_id] = deque(maxlen=self.window)
        self._batches[producer_id].append(BatchMetadata(
            producer_epoch=producer_epoch, first_sequence=first_sequence,
            last_sequence=last_sequence, first_offset=first_offset, last_offset=last_offset))

    def on_header_appended(self, header: BatchHeader) -> None:
        """Remember a batch given by its header (record count -> last sequence and offset)."""
        assert header.record_count >= 1, "a batch holds at least one record"
        self.on_batch_appended(
            header.producer_id, header.producer_epoch, header.base_sequence,
            next_sequence(header.base_sequence, header.record_count - 1),
            header.base_offset, header.base_offset + header.record_count - 1)

    @classmethod
    def rebuild(cls, headers: Iterable[BatchHeader], window: int = 5) -> ProducerStateTable:
        """The table a new leader starts from: every batch header of its log, in offset order."""
        table = cls(window)
        for header in headers:
            table.on_header_appended(header)
        return table

    def invariants(self) -> None:
        """Fail fast if the table is inconsistent."""
        assert self._epochs.keys() == self._batches.keys()
        for producer_id, batches in self._batches.items():
            assert len(batches) <= self.window
            offsets = [b.first_offset for b in batches]
            assert offsets == sorted(offsets), f"producer {producer_id} batches out of order"
            assert all(b.producer_epoch == self._epochs[producer_id] for b in batches)


__all__ = [
    "APPEND", "NO_PRODUCER_ID", "OUT_OF_ORDER", "SEQUENCE_MAX", "BatchHeader", "BatchMetadata",
    "ProducerStateTable", "SequenceCheck", "next_sequence",
]
