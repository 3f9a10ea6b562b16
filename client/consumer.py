"""Consumer: read topics by offset, alone or in a consumer group (blocking facade).

Shaped after kafka-python's ``KafkaConsumer``: the same option names and defaults (see
``client.consumer_config.ConsumerConfig``), the same calls.  A ``Consumer`` runs one
``ConsumerActor`` (a pykka actor on its own runtime and ZeroMQ endpoint) that owns every
position, buffer and group membership; each method here tells it a command and waits for
the answer.  ``consumer.actor_ref`` can be handed to the user's own actors, which tell it the
commands of ``client.consumer_commands`` without blocking.

    from zafka.client import Consumer
    with Consumer("orders", cluster="data/cluster.json", group_id="billing",
                  value_deserializer="json", auto_offset_reset="earliest") as consumer:
        for record in consumer:                 # honours consumer_timeout_ms
            print(record.partition, record.offset, record.value)

Rebalance callbacks (``on_assign`` / ``on_revoke``, or a kafka-python style ``listener``)
and ``commit_async`` callbacks run in the caller's thread, inside ``poll()``, so they may call
the consumer (commit in ``on_revoke``, seek in ``on_assign``).

Must never: touch consumer state itself (the actor owns it), or be used after ``close()``
(every call then raises ``ClientClosed``).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import pykka
from zafka.client.admin import ClientClosed
from zafka.client.consumer_actor import ConsumerActor
from zafka.client.consumer_commands import (
    Assign,
    Close,
    Commit,
    Committed,
    ConsumerView,
    Describe,
    ListOffsets,
    PartitionsFor,
    Pause,
    Poll,
    PollResult,
    Position,
    Seek,
    Subscribe,
    Unsubscribe,
)
from zafka.client.consumer_config import ConsumerConfig, ConsumerRecord, PartitionsCallback
from zafka.client.runtime import start_actor, start_runtime
from zafka.core.errors import RequestTimedOut
from zafka.core.group_codec import OffsetAndMetadata
from zafka.core.messages import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, TopicPartition
from zafka.transport.cluster_file import ClusterFile

log = logging.getLogger(__name__)

REPLY_SLACK_S = 5.0
ITERATOR_POLL_MS = 1_000

CommitCallback = Callable[[dict[TopicPartition, OffsetAndMetadata], BaseException | None], Any]


class Consumer:
    """A Kafka-style consumer of a zafka cluster, found through its cluster file."""

    def __init__(self, *topics: str, cluster: str | os.PathLike[str] | None = None,
                 **options: Any) -> None:
        self.config = ConsumerConfig.from_options(options)
        cluster_file = ClusterFile.load(cluster)
        self._runtime = start_runtime(cluster_file, role="consumer")
        self._ref = start_actor(self._runtime, ConsumerActor, "consumer", self.config,
                                cluster_file, ticks=True)
        self._closed = False
        self._pending: deque[ConsumerRecord] = deque()
        self._async_commits: list[tuple[Future[Any], CommitCallback]] = []
        self._on_assign: PartitionsCallback | None = self.config.on_assign
        self._on_revoke: PartitionsCallback | None = self.config.on_revoke
        self._timeout_s = self.config.request_timeout_ms / 1000 + REPLY_SLACK_S
        if topics:
            self.subscribe(topics)

    @property
    def actor_ref(self) -> pykka.ActorRef[Any]:
        """The consumer actor's ref: tell it ``client.consumer_commands`` commands."""
        return self._ref

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- talking to the actor -----------------------------------------------------------

    def _call(self, command_type: type, timeout_s: float | None = None, **fields: Any) -> Any:
        if self._closed:
            raise ClientClosed("this Consumer is closed")
        reply: Future[Any] = Future()
        try:
            self._ref.tell(command_type(reply=reply, **fields))
        except pykka.ActorDeadError:
            failure = self._runtime.failures.get("consumer")
            raise ClientClosed("the consumer actor stopped"
                               + (f": {failure!r}" if failure else "")) from None
        try:
            return reply.result(timeout=timeout_s or self._timeout_s)
        except FutureTimeout:
            raise RequestTimedOut(f"the consumer did not answer {command_type.__name__} in "
                                  f"time") from None

    # --- subscription and assignment ----------------------------------------------------

    def subscribe(self, topics: Iterable[str] = (), pattern: str | None = None,
                  listener: Any = None, on_assign: PartitionsCallback | None = None,
                  on_revoke: PartitionsCallback | None = None) -> None:
        """Subscribe to ``topics`` or to every topic matching the regex ``pattern``
        (``re.fullmatch``).  With a ``group_id`` the group splits their partitions among
        its members; without one this consumer reads them all.  ``listener`` may be a
        kafka-python ``ConsumerRebalanceListener``-like object."""
        if isinstance(topics, str):
            topics = (topics,)
        if listener is not None:
            on_assign = on_assign or listener.on_partitions_assigned
            on_revoke = on_revoke or listener.on_partitions_revoked
        self._call(Subscribe, topics=tuple(topics), pattern=pattern)
        self._on_assign = on_assign or self._on_assign
        self._on_revoke = on_revoke or self._on_revoke

    def unsubscribe(self) -> None:
        """Drop the subscription (leaving the group) or the manual assignment."""
        self._pending.clear()
        self._call(Unsubscribe)

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Read exactly ``partitions``, without group membership (committed offsets of the
        ``group_id``, if any, are still the starting positions)."""
        self._pending.clear()
        self._call(Assign, partitions=tuple(TopicPartition(*tp) for tp in partitions))

    def _view(self) -> ConsumerView:
        view: ConsumerView = self._call(Describe)
        return view

    def assignment(self) -> set[TopicPartition]:
        """The partitions assigned to this consumer now."""
        return set(self._view().assignment)

    def subscription(self) -> set[str] | None:
        """The subscribed topics (those a pattern matches now), or None."""
        topics = self._view().subscription
        return None if topics is None else set(topics)

    # --- polling ------------------------------------------------------------------------

    def poll(self, timeout_ms: int = 0, max_records: int | None = None,
             ) -> list[ConsumerRecord]:
        """Records fetched since the last poll (at most ``max_records``, default
        ``max_poll_records``), waiting up to ``timeout_ms`` when none are there yet.
        Rebalances, their callbacks and due auto-commits happen here."""
        self._run_commit_callbacks()
        deadline = time.monotonic() + timeout_ms / 1000
        limit = max_records or self.config.max_poll_records
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            result: PollResult = self._call(Poll, remaining_ms / 1000 + self._timeout_s,
                                            timeout_ms=remaining_ms, max_records=limit)
            if result.revoked is not None:
                self._pending.clear()
                self._run_callback(self._on_revoke, result.revoked)
            elif result.assigned is not None:
                self._run_callback(self._on_assign, result.assigned)
            else:
                return result.records

    def _run_callback(self, callback: PartitionsCallback | None,
                      partitions: list[TopicPartition]) -> None:
        if callback is None:
            return
        try:
            callback(list(partitions))
        except Exception:
            log.exception("rebalance callback %r failed", callback)

    def __iter__(self) -> Iterator[ConsumerRecord]:
        return self

    def __next__(self) -> ConsumerRecord:
        """The next record; ``StopIteration`` after ``consumer_timeout_ms`` without one."""
        deadline = time.monotonic() + self.config.consumer_timeout_ms / 1000
        while not self._pending:
            remaining_ms = (deadline - time.monotonic()) * 1000
            if remaining_ms <= 0:
                raise StopIteration
            self._pending.extend(self.poll(timeout_ms=int(min(remaining_ms, ITERATOR_POLL_MS))))
        return self._pending.popleft()

    # --- positions ----------------------------------------------------------------------

    def seek(self, partition: TopicPartition, offset: int) -> None:
        """The next poll returns ``partition``'s records from ``offset`` on."""
        if offset < 0:
            raise ValueError(f"offset must be >= 0, not {offset}")
        self._seek([(TopicPartition(*partition), offset)])

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        """Seek to the log start (every assigned partition when none is named)."""
        self._seek([(tp, EARLIEST_TIMESTAMP) for tp in self._named(partitions)])

    def seek_to_end(self, *partitions: TopicPartition) -> None:
        """Seek to the high watermark (every assigned partition when none is named)."""
        self._seek([(tp, LATEST_TIMESTAMP) for tp in self._named(partitions)])

    def _named(self, partitions: tuple[TopicPartition, ...]) -> list[TopicPartition]:
        return [TopicPartition(*tp) for tp in partitions] or sorted(self.assignment())

    def _seek(self, positions: list[tuple[TopicPartition, int]]) -> None:
        self._pending.clear()
        self._call(Seek, positions=tuple(positions))

    def position(self, partition: TopicPartition) -> int:
        """The offset of the next record ``poll()`` returns for ``partition``."""
        offset: int = self._call(Position, partition=TopicPartition(*partition))
        return offset

    def pause(self, *partitions: TopicPartition) -> None:
        """Stop fetching and returning ``partitions`` until ``resume``."""
        self._call(Pause, partitions=tuple(TopicPartition(*tp) for tp in partitions),
                   paused=True)

    def resume(self, *partitions: TopicPartition) -> None:
        self._call(Pause, partitions=tuple(TopicPartition(*tp) for tp in partitions),
                   paused=False)

    def paused(self) -> set[TopicPartition]:
        return set(self._view().paused)

    def beginning_offsets(self, partitions: Iterable[TopicPartition],
                          ) -> dict[TopicPartition, int]:
        """The log start offset of each partition."""
        return self._list_offsets(partitions, EARLIEST_TIMESTAMP)

    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The high watermark (the next offset to be committed) of each partition."""
        return self._list_offsets(partitions, LATEST_TIMESTAMP)

    def _list_offsets(self, partitions: Iterable[TopicPartition],
                      timestamp: int) -> dict[TopicPartition, int]:
        offsets: dict[TopicPartition, int] = self._call(
            ListOffsets, partitions=tuple(TopicPartition(*tp) for tp in partitions),
            timestamp=timestamp)
        return offsets

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        """The partition ids of ``topic``, or None when it does not exist."""
        partitions = self._call(PartitionsFor, topic=topic)
        return None if partitions is None else set(partitions)

    def topics(self) -> set[str]:
        """Every topic of the cluster (internal ones only if ``exclude_internal_topics``
        is off)."""
        return set(self._call(PartitionsFor, topic=None))

    # --- commits ------------------------------------------------------------------------

    @staticmethod
    def _offsets(offsets: dict[TopicPartition, OffsetAndMetadata | int] | None,
                 ) -> dict[TopicPartition, OffsetAndMetadata] | None:
        if offsets is None:
            return None
        return {TopicPartition(*tp): o if isinstance(o, OffsetAndMetadata)
                else OffsetAndMetadata(int(o)) for tp, o in offsets.items()}

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata | int] | None = None,
               ) -> dict[TopicPartition, OffsetAndMetadata]:
        """Commit ``offsets`` (default: every assigned partition's position) and wait;
        ``CommitFailed`` when the group rebalanced without this consumer."""
        self._run_commit_callbacks()
        committed: dict[TopicPartition, OffsetAndMetadata] = self._call(
            Commit, offsets=self._offsets(offsets))
        return committed

    def commit_async(self, offsets: dict[TopicPartition, OffsetAndMetadata | int] | None = None,
                     callback: CommitCallback | None = None) -> Future[Any]:
        """Commit without waiting; ``callback(offsets, error_or_None)`` runs in a later
        ``poll()``/``commit()``/``close()``.  The returned future completes with the offsets."""
        if self._closed:
            raise ClientClosed("this Consumer is closed")
        reply: Future[Any] = Future()
        self._ref.tell(Commit(reply=reply, offsets=self._offsets(offsets)))
        if callback is not None:
            self._async_commits.append((reply, callback))
        return reply

    def _run_commit_callbacks(self) -> None:
        done = [(f, cb) for f, cb in self._async_commits if f.done()]
        self._async_commits = [(f, cb) for f, cb in self._async_commits if not f.done()]
        for future, callback in done:
            error = future.exception()
            try:
                callback({} if error else future.result(), error)
            except Exception:
                log.exception("commit callback %r failed", callback)

    def committed(self, partition: TopicPartition, metadata: bool = False,
                  ) -> int | OffsetAndMetadata | None:
        """The group's committed offset of ``partition`` (None if none);
        ``metadata=True`` gives the ``OffsetAndMetadata``."""
        tp = TopicPartition(*partition)
        result: OffsetAndMetadata | None = self._call(Committed, partitions=(tp,))[tp]
        if result is None or metadata:
            return result
        offset: int = result.offset
        return offset

    # --- close --------------------------------------------------------------------------

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None:
        """Commit positions (when auto-commit is on and ``autocommit``), leave the group
        and stop.  Idempotent; any later call raises ``ClientClosed``."""
        if self._closed:
            return
        try:
            self._call(Close, timeout_s=timeout_ms / 1000 if timeout_ms else None,
                       autocommit=autocommit)
        except (ClientClosed, RequestTimedOut) as error:
            log.warning("consumer close was not clean: %s", error)
        finally:
            self._closed = True
            self._runtime.stop()
        self._run_commit_callbacks()


__all__ = ["Consumer", "ConsumerRecord", "OffsetAndMetadata", "TopicPartition"]
