"""The consumer actor: one per ``Consumer``, the sole owner of its fetch and group state.

Owns: the subscription (topics or a pattern) or manual assignment; the ``Fetcher`` (positions,
buffers, pipelined fetches), the ``GroupMember`` (coordinator, generation, heartbeats), the
consumer's metadata view; the requests it has in flight (correlation id -> continuation,
expiring after their timeout); timers; the poll held until records arrive; and the
rebalance events (revoked / assigned partitions) waiting to be handed to the caller.

Rebalances happen inside ``poll`` as in Kafka: when the member must rejoin, the next poll
commits positions (auto-commit), answers with the partitions being revoked (the caller runs
its ``on_revoke`` callback, which may still commit), and the poll after that drops them and
sends JoinGroup; the partitions assigned by SyncGroup are announced by a poll result of their
own (the caller runs ``on_assign``, which may seek) before any of their records.  A caller
that stops polling for ``max_poll_interval_ms`` leaves the group.

Every handler ends with ``drive()``: refresh metadata when due, resolve positions (committed
offsets, resets), answer held calls, and send a fetch to every leader broker that has none in
flight — so a fetch goes out as soon as the previous one to that broker answers.

Time is counted in milliseconds of the monotonic clock (``clock``), and the actor asks the
ticker for a wake-up at its earliest deadline (a request timeout, a back-off, the end of a
held poll) so that options set in milliseconds are honoured to about a millisecond; the
10 ms tick it subscribes to drives heartbeats and the rest.

Must never: block, call user code (callbacks and deserializer errors are the facade's), or
serve a command after close.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from zafka.actors.runtime import NodeRuntime
from zafka.client.admin import ClientClosed
from zafka.client.consumer_calls import CallsMixin
from zafka.client.consumer_commands import ConsumerCommand, Poll, PollResult, Position
from zafka.client.consumer_config import ConsumerConfig, IllegalStateError
from zafka.client.consumer_metadata import METADATA_REPLY_MS, ConsumerMetadata
from zafka.client.fetcher import Fetcher
from zafka.client.group_member import GroupMember, MemberState
from zafka.client.runtime import ClientActor
from zafka.client.serializers import SerializationError, resolve_deserializer
from zafka.core.errors import RequestTimedOut, UnknownTopicOrPartition, ZafkaError, error_for
from zafka.core.group_codec import OffsetAndMetadata, Subscription
from zafka.core.messages import Envelope, ErrorReply, Tick, TopicPartition
from zafka.transport.cluster_file import ClusterFile

log = logging.getLogger(__name__)

FETCH_REPLY_SLACK_MS = 3_000
"""A fetch unanswered ``fetch_max_wait_ms`` + this long is taken as lost (its broker died):
the partitions' leaders are looked up again and fetched anew."""
UNKNOWN_TOPIC_GRACE_MS = 2_000
"""How long a topic may stay unknown to the brokers before poll() raises (a topic just
created reaches every broker's metadata image a little later)."""


class ConsumerActor(CallsMixin, ClientActor):
    """Fetching, positions and group membership of one consumer."""

    def __init__(self, runtime: NodeRuntime, name: str, config: ConsumerConfig,
                 cluster: ClusterFile) -> None:
        super().__init__(runtime, name)
        self.config = config
        self.tick_ms = 1  # the unit of clock(): milliseconds
        self.metadata = ConsumerMetadata([b.address for b in cluster.brokers],
                                         self.ticks(config.metadata_max_age_ms),
                                         self.ticks(config.retry_backoff_ms))
        self.fetcher = Fetcher(config, self.metadata,
                               resolve_deserializer(config.key_deserializer),
                               resolve_deserializer(config.value_deserializer))
        self.fetcher.backoff_ticks = self.ticks(config.retry_backoff_ms)
        self.member: GroupMember | None = None
        if config.group_id is not None:
            self.member = GroupMember(config, self.metadata, self.request, self.after,
                                      self.clock, self.tick_ms)
            self.member.subscription = self.current_subscription
            self.member.on_assigned = self.on_assigned
            self.member.partition_counts = self.partition_counts
        self.topics: frozenset[str] | None = None  # subscribed topics (None: none / pattern)
        self.pattern: re.Pattern[str] | None = None
        self.manual = False
        self.joined_topics: frozenset[str] = frozenset()
        self.joined_counts: dict[str, int] = {}
        self.unknown_since: dict[str, int] = {}
        self.requests: dict[int, Callable[[Any], None]] = {}
        self.deadlines: list[tuple[int, int]] = []
        self.timers: list[tuple[int, int, Callable[[], None]]] = []
        self.ids = itertools.count(1)
        self.open_replies: set[Future[Any]] = set()
        self.poll_waiter: tuple[Poll, int] | None = None
        self.position_waiters: list[tuple[Position, int]] = []
        self.events: list[PollResult] = []
        self.on_ack: Callable[[], None] | None = None
        self.last_poll = self.clock()
        self.last_auto_commit = self.clock()
        self.auto_committed: dict[TopicPartition, int] = {}
        self.committed_in_flight = False
        self.closed = False
        self.late_replies = 0

    # --- time, requests and timers ------------------------------------------------------

    def clock(self) -> int:
        return int(time.monotonic() * 1000)

    def ticks(self, ms: float) -> int:
        return max(1, int(-(-ms // self.tick_ms)))

    def request(self, address: str, dest: str, body: Any, timeout_ms: int,
                on_reply: Callable[[Any], None]) -> None:
        """Send ``body``; ``on_reply(reply body | ZafkaError)`` runs once, on the reply or at
        the timeout (``RequestTimedOut``)."""
        correlation_id = next(self.ids)
        self.requests[correlation_id] = on_reply
        heapq.heappush(self.deadlines, (self.clock() + self.ticks(timeout_ms), correlation_id))
        self.send(address, dest, body, correlation_id=correlation_id, reply_to=self.name)

    def after(self, ticks: int, action: Callable[[], None]) -> None:
        """Run ``action`` once, ``ticks`` ticks from now."""
        heapq.heappush(self.timers, (self.clock() + ticks, next(self.ids), action))

    # --- dispatch -----------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if type(message) is Envelope:
            on_reply = self.requests.pop(message.correlation_id, None)
            if on_reply is None:
                self.late_replies += 1  # answered after its timeout, or not a reply
                return None
            body = message.body
            on_reply(error_for(body.code, body.message) if type(body) is ErrorReply else body)
        elif isinstance(message, ConsumerCommand):
            self.open_replies.add(message.reply)
            try:
                if self.closed:
                    raise ClientClosed("this Consumer is closed")
                self._handler(type(message))(message)  # type: ignore[misc]
            except (ZafkaError, ValueError) as error:
                self.fail(message, error)
        elif type(message) is Tick:
            self.runtime.ticker.handled(self.actor_urn)
            self.on_tick(message)
            return None
        else:
            return super().on_receive(message)
        self.drive()
        return None

    def complete(self, command: ConsumerCommand, result: Any) -> None:
        self.open_replies.discard(command.reply)
        if not command.reply.done():
            command.reply.set_result(result)

    def fail(self, command: ConsumerCommand, error: BaseException) -> None:
        self.open_replies.discard(command.reply)
        if not command.reply.done():
            command.reply.set_exception(error)

    def fail_all(self, error: BaseException) -> None:
        replies, self.open_replies = self.open_replies, set()
        for reply in replies:
            if not reply.done():
                reply.set_exception(error)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        super().on_failure(exception_type, exception_value, traceback)
        self.fail_all(exception_value)

    def on_stop(self) -> None:
        self.fail_all(ClientClosed("this Consumer is closed"))

    def on_tick(self, tick: Tick) -> None:
        now = self.clock()
        while self.deadlines and self.deadlines[0][0] <= now:
            on_reply = self.requests.pop(heapq.heappop(self.deadlines)[1], None)
            if on_reply is not None:
                on_reply(RequestTimedOut("no reply before the request timeout"))
        while self.timers and self.timers[0][0] <= now:
            heapq.heappop(self.timers)[2]()
        if self.member is not None and not self.closed:
            self.member.tick(now)
            self.check_poll_interval(now)
        self.drive()

    # --- the loop -----------------------------------------------------------------------

    def drive(self) -> None:
        """Do whatever the state allows now (see the module docstring)."""
        if self.closed:
            return
        now = self.clock()
        self.fetcher.now = now
        if self.metadata.due(now):
            self.refresh_metadata()
        self.resolve_committed()
        for address, request in self.fetcher.resets():
            self.request(address, "broker", request, self.config.request_timeout_ms,
                         self._reset_answer(request))
        self.send_fetches()
        self.answer_waiters()
        self.send_fetches()
        self.wake_at_next_deadline(now)

    def wake_at_next_deadline(self, now: int) -> None:
        """A precise wake-up at the earliest request timeout, timer or held poll's end."""
        due = [heap[0][0] for heap in (self.deadlines, self.timers) if heap]
        if self.poll_waiter is not None:
            due.append(self.poll_waiter[1])
        if due:
            self.wake_after(max(0, min(due) - now) / 1000)

    def _reset_answer(self, request: Any) -> Callable[[Any], None]:
        return lambda reply: self.fetcher.on_reset_response(request, reply)

    def send_fetches(self) -> None:
        timeout = self.config.fetch_max_wait_ms + min(self.config.request_timeout_ms,
                                                      FETCH_REPLY_SLACK_MS)
        for broker_id, address, request, sent in self.fetcher.fetches():
            self.request(address, "broker", request, timeout,
                         self._fetch_answer(broker_id, sent))

    def _fetch_answer(self, broker_id: int, sent: dict[TopicPartition, int],
                      ) -> Callable[[Any], None]:
        return lambda reply: self.fetcher.on_fetch_response(broker_id, sent, reply)

    def refresh_metadata(self) -> None:
        asked = self.wanted_topics()
        request = self.metadata.request(asked)

        def on_reply(reply: Any) -> None:
            if isinstance(reply, ZafkaError):
                self.metadata.failed(self.clock())
                return
            self.metadata.update(reply, self.clock(), asked)
            self.on_metadata()

        self.request(self.metadata.any_broker(), "broker", request,
                     min(self.config.request_timeout_ms, METADATA_REPLY_MS), on_reply)

    def wanted_topics(self) -> tuple[str, ...] | None:
        if self.pattern is not None:
            return None
        if self.manual:
            return tuple(sorted({tp.topic for tp in self.fetcher.states}))
        return tuple(sorted(self.topics or ()))

    def on_metadata(self) -> None:
        now = self.clock()
        needed = {tp.topic for tp in self.fetcher.states} if self.manual else set(
            self.topics or ())
        for topic in needed:
            if topic in self.metadata.unknown:
                self.unknown_since.setdefault(topic, now)
            else:
                self.unknown_since.pop(topic, None)
        if self.manual or (self.topics is None and self.pattern is None):
            return
        topics = self.subscribed_topics()
        if self.member is None:
            self.fetcher.assign([TopicPartition(t, p) for t in sorted(topics)
                                 for p in range(self.metadata.partitions[t])], False)
            return
        counts = {t: self.metadata.partitions[t] for t in self.joined_counts
                  if t in self.metadata.partitions}
        if self.member.state is MemberState.STABLE and (
                topics != self.joined_topics or (self.member.leader
                                                 and counts != self.joined_counts)):
            self.member.rejoin_needed = True

    def subscribed_topics(self) -> frozenset[str]:
        """The topics the subscription covers now (existing ones only)."""
        if self.pattern is not None:
            pattern = self.pattern
            return frozenset(t for t in self.metadata.topics(
                include_internal=not self.config.exclude_internal_topics)
                if pattern.fullmatch(t))
        return frozenset(t for t in self.topics or () if t in self.metadata.partitions)

    # --- polls and rebalances -----------------------------------------------------------

    def on_poll(self, command: Poll) -> None:
        if self.poll_waiter is not None:
            self.complete(self.poll_waiter[0], PollResult([]))
        if self.topics is None and self.pattern is None and not self.manual:
            raise IllegalStateError("subscribe() or assign() before poll()")
        self.last_poll = self.clock()
        if self.on_ack is not None:
            on_ack, self.on_ack = self.on_ack, None
            on_ack()
        self.maybe_auto_commit()
        self.poll_waiter = (command, self.clock() + max(0, command.timeout_ms))

    def answer_waiters(self) -> None:
        self.answer_positions()
        if self.poll_waiter is None:
            return
        command, deadline = self.poll_waiter
        pending = self.pending_error()
        if pending is not None:
            self.poll_waiter = None
            self.fail(command, pending)
            return
        if self.member is not None and self.member.rejoin_needed and self.on_ack is None \
                and self.member.state in (MemberState.STABLE, MemberState.UNJOINED) \
                and not self.manual and (self.topics is not None or self.pattern is not None):
            self.prepare_rejoin()
        if self.events:
            self.poll_waiter = None
            event = self.events.pop(0)
            if event.revoked is not None and self.on_ack is None:
                self.on_ack = self.after_revocation
            self.complete(command, event)
            return
        try:
            records = self.fetcher.drain(command.max_records)
        except SerializationError as error:
            self.poll_waiter = None
            self.fail(command, error)
            return
        if records or self.clock() >= deadline:
            self.poll_waiter = None
            self.complete(command, PollResult(records))

    def pending_error(self) -> ZafkaError | None:
        error = self.fetcher.first_error()
        if error is not None:
            return error
        if self.member is not None and self.member.fatal is not None:
            error, self.member.fatal = self.member.fatal, None
            return error
        now = self.clock()
        for topic, since in self.unknown_since.items():
            if now - since >= self.ticks(UNKNOWN_TOPIC_GRACE_MS):
                return UnknownTopicOrPartition(f"topic {topic!r} does not exist")
        if self.manual:
            for tp in self.fetcher.states:
                count = self.metadata.partitions.get(tp.topic)
                if count is not None and tp.partition >= count:
                    return UnknownTopicOrPartition(
                        f"topic {tp.topic!r} has {count} partitions; there is no partition "
                        f"{tp.partition}")
        return None

    def prepare_rejoin(self) -> None:
        """Start a rebalance: eager protocols first revoke everything (through a poll
        result, then ``after_revocation``); cooperative ones keep their partitions."""
        assert self.member is not None
        owned = sorted(self.fetcher.states)
        if self.config.cooperative or not owned:
            self.join()
            return
        self.commit_positions(owned)
        self.member.rejoin_needed = False
        self.events.append(PollResult([], revoked=owned))

    def after_revocation(self) -> None:
        """The caller has run its revocation callback: drop the partitions and join."""
        if self.member is None or self.manual or (self.topics is None and self.pattern is None):
            return
        if not self.config.cooperative:
            self.fetcher.assign([], False)
        if self.member.state in (MemberState.STABLE, MemberState.UNJOINED):
            self.join()

    def join(self) -> None:
        assert self.member is not None
        self.joined_topics = self.subscribed_topics()
        self.joined_counts = {t: self.metadata.partitions[t] for t in self.joined_topics}
        self.member.join()

    def current_subscription(self) -> Subscription:
        owned = tuple(sorted(self.fetcher.states)) if self.config.cooperative else ()
        topics = self.joined_topics or frozenset(self.topics or ())
        return Subscription(tuple(sorted(topics)), owned)

    def on_assigned(self, partitions: list[TopicPartition]) -> None:
        """SyncGroup gave this member ``partitions``."""
        owned = set(self.fetcher.states)
        new = set(partitions)
        if self.config.cooperative and owned - new:
            revoked = sorted(owned - new)
            self.commit_positions(revoked)
            assert self.member is not None
            self.member.rejoin_needed = True
            self.events.append(PollResult([], revoked=revoked))
        self.fetcher.assign(sorted(new), awaiting_committed=True)
        self.events.append(PollResult([], assigned=sorted(new - owned
                                                          if self.config.cooperative else new)))

    def partition_counts(self, topics: list[str], done: Callable[[dict[str, int]], None]) -> None:
        """The group leader's view of every subscribed topic's partition count."""

        def on_reply(reply: Any) -> None:
            if isinstance(reply, ZafkaError):
                self.after(self.ticks(self.config.retry_backoff_ms),
                           lambda: self.partition_counts(topics, done))
                return
            counts = {t.name: len(t.partitions) for t in reply.topics if t.partitions}
            self.joined_counts = {t: c for t, c in counts.items() if t in self.joined_topics}
            done(counts)

        self.describe(tuple(topics), on_reply)

    def check_poll_interval(self, now: int) -> None:
        assert self.member is not None
        if self.member.state is MemberState.STABLE and not self.member.left and \
                now - self.last_poll > self.ticks(self.config.max_poll_interval_ms):
            log.warning("consumer %s did not poll within max_poll_interval_ms=%d: leaving "
                        "group %r", self.config.client_id, self.config.max_poll_interval_ms,
                        self.config.group_id)
            self.member.leave()

    # --- commits ------------------------------------------------------------------------

    def positions(self, partitions: list[TopicPartition]) -> dict[TopicPartition,
                                                                  OffsetAndMetadata]:
        out = {}
        for tp in partitions:
            state = self.fetcher.states.get(tp)
            if state is not None and state.position is not None:
                out[tp] = OffsetAndMetadata(state.position)
        return out

    def commit_positions(self, partitions: list[TopicPartition]) -> None:
        """Auto-commit (fire and forget) the positions of ``partitions``."""
        if not self.config.enable_auto_commit or self.member is None:
            return
        offsets = {tp: o for tp, o in self.positions(partitions).items()
                   if self.auto_committed.get(tp) != o.offset}
        if not offsets:
            return

        def done(error: Any) -> None:
            if error is None:
                self.auto_committed.update((tp, o.offset) for tp, o in offsets.items())
            else:
                log.warning("auto-commit of group %r failed: %s", self.config.group_id, error)

        self.member.commit(offsets, self.manual, done,
                           self.clock() + self.ticks(self.config.request_timeout_ms))

    def maybe_auto_commit(self) -> None:
        now = self.clock()
        if now - self.last_auto_commit >= self.ticks(self.config.auto_commit_interval_ms):
            self.last_auto_commit = now
            self.commit_positions(sorted(self.fetcher.states))

    def resolve_committed(self) -> None:
        """Ask the coordinator for the committed offsets of partitions that need one."""
        waiting = tuple(sorted(tp for tp, s in self.fetcher.states.items()
                               if s.awaiting_committed))
        if not waiting or self.committed_in_flight or self.member is None:
            return
        self.committed_in_flight = True

        def done(result: Any) -> None:
            self.committed_in_flight = False
            if isinstance(result, ZafkaError):
                return  # asked again by the next drive()
            for tp, committed in result.items():
                state = self.fetcher.states.get(tp)
                if state is None or not state.awaiting_committed:
                    continue
                if committed is not None:
                    state.seek(committed.offset)
                else:
                    self.fetcher.reset_or_fail(tp, state, None)

        self.member.fetch_committed(waiting, done,
                                    self.clock() + self.ticks(self.config.request_timeout_ms))

    # --- close --------------------------------------------------------------------------

    def finish_close(self) -> None:
        """Stop serving: every held call fails with ``ClientClosed``."""
        self.closed = True
        self.poll_waiter = None
        self.fail_all(ClientClosed("this Consumer is closed"))


__all__ = ["ConsumerActor", "UNKNOWN_TOPIC_GRACE_MS"]
