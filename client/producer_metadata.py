"""The producer actor's lookups: topic metadata and its idempotent producer id.

Owns (as a mixin of ``ProducerActor``): the topics the producer uses, the one metadata request
and the one ``InitProducerIdRequest`` in flight (each with a deadline, retried on another
broker after ``retry_backoff_ms``), the waiters for a topic's first lookup, and how many
lookups in a row found a topic missing.  A topic is reported missing
(``UnknownTopicOrPartition``) only after ``UNKNOWN_TOPIC_LOOKUPS`` brokers' images agreed, so a
topic created a moment ago (brokers follow the controller's log a few ms behind) is found.

Must never: block; every answer comes back as a message.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

from zafka.client.metadata import REFRESH_ERRORS
from zafka.core.errors import ErrorCode, UnknownTopicOrPartition
from zafka.core.messages import (
    DescribeTopicsReply,
    DescribeTopicsRequest,
    Envelope,
    ErrorReply,
    InitProducerIdRequest,
    InitProducerIdResponse,
)

UNKNOWN_TOPIC_LOOKUPS = 3
LOOKUP_TIMEOUT_S = 0.5  # a live broker answers in ms; a dead one must not hold us up


class MetadataMixin:
    """Metadata and producer-id lookups for ``ProducerActor``."""

    REFRESH_ERRORS = REFRESH_ERRORS
    config: Any
    sender: Any
    stats: Any
    runtime: Any
    name: str
    send: Any
    sequences: dict[tuple[str, int], int]

    def init_metadata(self, bootstrap: list[str]) -> None:
        self.bootstrap = bootstrap
        self.rotation = 0
        self.topics: set[str] = set()
        self.topic_waiters: dict[str, list[Future[None]]] = {}
        self.unknown_counts: dict[str, int] = {}
        self.metadata_request: tuple[int, float] | None = None
        self.metadata_due = False
        self.next_metadata_at = 0.0
        self.last_refresh = time.monotonic()
        self.producer_id = -1
        self.producer_epoch = -1
        self.pid_request: tuple[int, float] | None = None
        self.pid_retry_at = 0.0

    def next_address(self) -> str:
        candidates = sorted(self.sender.metadata.brokers.values()) or self.bootstrap
        self.rotation += 1
        return str(candidates[self.rotation % len(candidates)])

    def backoff_s(self) -> float:
        return float(self.config.retry_backoff_ms) / 1000

    # --- topics -------------------------------------------------------------------------

    def want_topic(self, topic: str, waiter: Future[None]) -> None:
        """Look ``topic`` up; ``waiter`` completes when it is known or known missing."""
        if self.sender.metadata.partition_count(topic) is not None:
            waiter.set_result(None)
            return
        self.topics.add(topic)
        self.topic_waiters.setdefault(topic, []).append(waiter)
        self.request_metadata()

    def request_metadata(self) -> None:
        """Refresh the used topics now, or as soon as the backoff and the request in flight
        allow."""
        now = time.monotonic()
        if self.metadata_request is not None or now < self.next_metadata_at or not self.topics:
            self.metadata_due = bool(self.topics)
            return
        self.metadata_due = False
        correlation_id = self.runtime.postbox.next_correlation_id()
        self.metadata_request = (correlation_id, now + LOOKUP_TIMEOUT_S)
        self.stats.metadata_requests += 1
        self.send(self.next_address(), "broker",
                  DescribeTopicsRequest(names=tuple(sorted(self.topics))),
                  correlation_id=correlation_id, reply_to=self.name)

    def refresh_if_old(self) -> None:
        age_s = time.monotonic() - self.last_refresh
        if self.metadata_due or (self.topics and
                                 age_s * 1000 > self.config.metadata_max_age_ms):
            self.request_metadata()

    def on_describe_topics_reply(self, reply: DescribeTopicsReply, envelope: Envelope) -> None:
        if self.metadata_request is None or envelope.correlation_id != self.metadata_request[0]:
            return
        now = time.monotonic()
        self.metadata_request = None
        self.next_metadata_at = now + self.backoff_s()
        self.last_refresh = now
        metadata, missing = self.sender.metadata.updated(reply)
        self.sender.metadata = metadata
        for topic in list(self.topic_waiters):
            if metadata.partition_count(topic) is not None:
                self.unknown_counts.pop(topic, None)
                for waiter in self.topic_waiters.pop(topic):
                    waiter.set_result(None)
        for topic in missing:
            self.unknown_counts[topic] = self.unknown_counts.get(topic, 0) + 1
            if self.unknown_counts[topic] < UNKNOWN_TOPIC_LOOKUPS:
                self.metadata_due = True
                continue
            del self.unknown_counts[topic]
            self.topics.discard(topic)
            error = UnknownTopicOrPartition(
                f"topic {topic!r} does not exist ({UNKNOWN_TOPIC_LOOKUPS} metadata lookups "
                f"found no such topic); create it first")
            for waiter in self.topic_waiters.pop(topic, []):
                waiter.set_exception(error)
        if any(p.leader == -1 for parts in metadata.topics.values() for p in parts):
            self.metadata_due = True
        self.abandon_moved()
        self.run()

    # --- producer id --------------------------------------------------------------------

    def request_producer_id(self) -> None:
        now = time.monotonic()
        if self.pid_request is not None or now < self.pid_retry_at:
            return
        correlation_id = self.runtime.postbox.next_correlation_id()
        self.pid_request = (correlation_id, now + LOOKUP_TIMEOUT_S)
        self.send(self.next_address(), "broker", InitProducerIdRequest(),
                  correlation_id=correlation_id, reply_to=self.name)

    def on_init_producer_id_response(self, reply: InitProducerIdResponse,
                                     envelope: Envelope) -> None:
        if self.pid_request is None or envelope.correlation_id != self.pid_request[0]:
            return
        self.pid_request = None
        if reply.error != ErrorCode.NONE:
            self.pid_retry_at = time.monotonic() + self.backoff_s()
            return
        self.producer_id, self.producer_epoch = reply.producer_id, reply.producer_epoch
        self.stats.producer_ids.append(reply.producer_id)
        self.sequences.clear()
        self.run()

    # --- deadlines ----------------------------------------------------------------------

    def on_metadata_error(self, correlation_id: int, reply: ErrorReply) -> None:
        if self.metadata_request is not None and self.metadata_request[0] == correlation_id:
            self.metadata_request = None
            self.metadata_due = True
            self.next_metadata_at = time.monotonic() + self.backoff_s()
        elif self.pid_request is not None and self.pid_request[0] == correlation_id:
            self.pid_request = None
            self.pid_retry_at = time.monotonic() + self.backoff_s()

    def check_metadata_deadlines(self, now: float) -> None:
        if self.metadata_request is not None and now >= self.metadata_request[1]:
            self.metadata_request = None
            self.metadata_due = True
        if self.metadata_due:
            self.request_metadata()
        if self.pid_request is not None and now >= self.pid_request[1]:
            self.pid_request = None
        if self.config.enable_idempotence and self.producer_id < 0:
            self.request_producer_id()

    def metadata_delays(self) -> list[float]:
        """Seconds until each lookup deadline or retry this mixin waits for."""
        now = time.monotonic()
        delays = [deadline - now for _, deadline in
                  filter(None, (self.metadata_request, self.pid_request))]
        if self.metadata_due:
            delays.append(self.next_metadata_at - now)
        if self.config.enable_idempotence and self.producer_id < 0 and self.pid_request is None:
            delays.append(self.pid_retry_at - now)
        return delays

    def abandon_moved(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        raise NotImplementedError


__all__ = ["LOOKUP_TIMEOUT_S", "MetadataMixin", "UNKNOWN_TOPIC_LOOKUPS"]
