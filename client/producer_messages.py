"""Messages between the user's own pykka actors and a producer's I/O actor (in-process).

These never cross a process boundary (they carry actor refs and futures), so they are not in
the wire catalogue of ``core.messages``; they use its ``@message`` form all the same.

    producer_ref.tell(SendRecords(records=(ProducerRecord(topic="orders", value=b"x"),),
                                  reply_to=my_actor_ref, correlation_id=7))
    # later, in my actor: on_receive(RecordsSent(correlation_id=7, results=(RecordMetadata...)))

Must never: be sent to another process.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from zafka.core.messages import message


@message
class ProducerRecord:
    """One record to send: the user's key and value, serialized by the producer."""

    topic: str
    value: Any = None
    key: Any = None
    partition: int | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp_ms: int | None = None


@message
class SendRecords:
    """Send ``records`` in order; ``reply_to`` (anything with ``tell``) gets one
    ``RecordsSent`` once every record is acknowledged or failed (None: no reply)."""

    records: tuple[ProducerRecord, ...]
    reply_to: Any = None
    correlation_id: int = 0


@message
class RecordsSent:
    """The outcome of a ``SendRecords``: a ``RecordMetadata`` or an exception per record."""

    correlation_id: int
    results: tuple[Any, ...]


@message
class FlushRecords:
    """Send everything buffered now; ``reply_to`` gets ``RecordsFlushed`` when it is all
    acknowledged or failed."""

    reply_to: Any = None
    correlation_id: int = 0


@message
class RecordsFlushed:
    """Everything buffered when the ``FlushRecords`` arrived is acknowledged or failed."""

    correlation_id: int


@message
class Wake:
    """Batches were opened or filled: drain what is ready."""


@message
class WantTopic:
    """Look ``topic`` up; ``waiter`` completes (None) once it is known, or fails with
    ``UnknownTopicOrPartition``."""

    topic: str
    waiter: Future[None]


__all__ = ["FlushRecords", "ProducerRecord", "RecordsFlushed", "RecordsSent",
           "SendRecords", "WantTopic", "Wake"]
