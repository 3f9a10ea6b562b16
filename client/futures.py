"""What ``Producer.send`` returns: ``FutureRecordMetadata``, completed with ``RecordMetadata``.

Owns: ``BatchResult`` — the one completion latch per record batch (the producer's I/O actor
completes it once, with the batch's base offset or an error) — and the per-record futures
that read their own offset from it (``base_offset + index``), as Kafka's
``ProduceRequestResult`` / ``FutureRecordMetadata`` do: completing a batch of 10,000 records
sets one event, not 10,000.

Callbacks (``add_callback`` / ``add_errback``) run on the producer's I/O thread when the batch
completes, or at once on the caller's thread if it already has: keep them short and never
block in them.  An exception a callback raises is logged and does not stop the producer.

Must never: block the completing thread, or do I/O.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from zafka.core.errors import RequestTimedOut

log = logging.getLogger(__name__)


class RecordMetadata(NamedTuple):
    """Where an acknowledged record landed (offset -1 with ``acks=0``: the broker says
    nothing).  ``timestamp`` is the record's timestamp in ms."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    serialized_key_size: int = -1
    serialized_value_size: int = -1


class BatchResult:
    """The outcome of one batch: set once with a base offset or an error."""

    __slots__ = ("topic", "partition", "base_offset", "error", "parent", "open_parts", "_event",
                 "_callbacks", "_lock")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.base_offset = -1
        self.error: BaseException | None = None
        self.parent: BatchResult | None = None  # the batch this one was split from
        self.open_parts = 0
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None) -> bool:
        return self._event.wait(timeout)

    def complete(self, base_offset: int, error: BaseException | None = None) -> None:
        """Set the outcome (once) and run the registered callbacks."""
        with self._lock:
            assert not self._event.is_set(), "a batch completes once"
            self.base_offset = base_offset
            self.error = error
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()
        parent = self.parent
        if parent is not None:
            parent.open_parts -= 1
            if error is not None and parent.error is None:
                parent.error = error
            if parent.open_parts == 0:
                parent.complete(-1, parent.error)

    def split_into(self, parts: list[BatchResult]) -> None:
        """This batch was split: it completes (for flushes and callbacks registered on it)
        once every part has."""
        self.open_parts = len(parts)
        for part in parts:
            part.parent = self

    def on_done(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when complete (now, if it already is)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()


class FutureRecordMetadata:
    """The pending result of one ``send``: ``get()`` gives ``RecordMetadata`` or raises the
    Kafka-named error (``NotEnoughReplicas``, ``RecordTooLarge``, ``RequestTimedOut``...)."""

    __slots__ = ("_result", "_index", "_timestamp", "_key_size", "_value_size")

    def __init__(self, result: BatchResult, index: int, timestamp: int, key_size: int = -1,
                 value_size: int = -1) -> None:
        self._result = result
        self._index = index
        self._timestamp = timestamp
        self._key_size = key_size
        self._value_size = value_size

    def rebind(self, result: BatchResult, index: int) -> None:
        """Point at another batch (the producer split this record's batch)."""
        self._result = result
        self._index = index

    @property
    def is_done(self) -> bool:
        return self._result.done

    def succeeded(self) -> bool:
        return self._result.done and self._result.error is None

    def failed(self) -> bool:
        return self._result.done and self._result.error is not None

    @property
    def exception(self) -> BaseException | None:
        """The error, if the send failed (None while pending or after success)."""
        return self._result.error if self._result.done else None

    @property
    def value(self) -> RecordMetadata | None:
        """The metadata, if the send succeeded (None while pending or after failure)."""
        return self._metadata() if self.succeeded() else None

    def _metadata(self) -> RecordMetadata:
        result = self._result
        offset = -1 if result.base_offset < 0 else result.base_offset + self._index
        return RecordMetadata(result.topic, result.partition, offset, self._timestamp,
                              self._key_size, self._value_size)

    def get(self, timeout: float | None = None) -> RecordMetadata:
        """Block until acknowledged (``timeout`` s; None = as long as it takes)."""
        if not self._result.wait(timeout):
            raise RequestTimedOut(f"no acknowledgement within {timeout} s (the record may "
                                  f"still be delivered)")
        if self._result.error is not None:
            raise self._result.error
        return self._metadata()

    result = get  # concurrent.futures spelling

    def add_callback(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> \
            FutureRecordMetadata:
        """Call ``fn(*args, record_metadata, **kwargs)`` on success."""
        def run() -> None:
            if self._result.error is None:
                _safely(fn, *args, self._metadata(), **kwargs)
        self._result.on_done(run)
        return self

    def add_errback(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> \
            FutureRecordMetadata:
        """Call ``fn(*args, exception, **kwargs)`` on failure."""
        def run() -> None:
            if self._result.error is not None:
                _safely(fn, *args, self._result.error, **kwargs)
        self._result.on_done(run)
        return self

    def add_both(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> \
            FutureRecordMetadata:
        """Call ``fn`` with the metadata or the exception, whichever comes."""
        self.add_callback(fn, *args, **kwargs)
        return self.add_errback(fn, *args, **kwargs)


def _safely(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except Exception:
        log.exception("producer callback %r raised", fn)


__all__ = ["BatchResult", "FutureRecordMetadata", "RecordMetadata"]
