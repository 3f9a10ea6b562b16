"""The consumer actor's command handlers other than ``Poll``: subscription and assignment,
seeks and positions, pause, commits, committed offsets, offset lookups, metadata, close.

Owns (as a mixin of ``ConsumerActor``): the positions callers wait for (``Position`` holds
until the partition's offset is resolved) and the retry loops of offset lookups and topic
descriptions, which run until the request timeout.

Must never: block; every answer completes the command's future.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

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
    Position,
    Seek,
    Subscribe,
    Unsubscribe,
)
from zafka.client.consumer_config import ConsumerConfig, IllegalStateError
from zafka.client.consumer_metadata import METADATA_REPLY_MS, ConsumerMetadata
from zafka.client.fetcher import Fetcher
from zafka.client.group_member import GroupMember
from zafka.core.errors import ErrorCode, RequestTimedOut, ZafkaError, error_for
from zafka.core.group_codec import OffsetAndMetadata
from zafka.core.messages import (
    DescribeTopicsRequest,
    ListOffsetsPartition,
    ListOffsetsRequest,
    TopicPartition,
)


class CallsMixin:
    """Command handlers of ``ConsumerActor`` (which provides the attributes below)."""

    config: ConsumerConfig
    fetcher: Fetcher
    metadata: ConsumerMetadata
    member: GroupMember | None
    manual: bool
    topics: frozenset[str] | None
    pattern: re.Pattern[str] | None
    events: list[Any]
    on_ack: Callable[[], None] | None
    unknown_since: dict[str, int]
    position_waiters: list[tuple[Position, int]]
    open_replies: set[Any]
    clock: Callable[[], int]
    ticks: Callable[[float], int]
    after: Callable[[int, Callable[[], None]], None]
    request: Callable[[str, str, Any, int, Callable[[Any], None]], None]
    complete: Callable[[Any, Any], None]
    fail: Callable[[Any, BaseException], None]
    positions: Callable[[list[TopicPartition]], dict[TopicPartition, OffsetAndMetadata]]
    subscribed_topics: Callable[[], frozenset[str]]
    finish_close: Callable[[], None]

    # --- subscription and assignment ----------------------------------------------------

    def on_subscribe(self, command: Subscribe) -> None:
        if self.manual:
            raise IllegalStateError("subscribe() after assign(): unsubscribe() first")
        if not command.topics and command.pattern is None:
            raise ValueError("subscribe() needs topics or a pattern")
        if command.topics and command.pattern is not None:
            raise ValueError("subscribe() takes topics or a pattern, not both")
        self.pattern = re.compile(command.pattern) if command.pattern is not None else None
        self.topics = frozenset(command.topics) if command.pattern is None else None
        self.unknown_since.clear()
        self.metadata.refresh_needed = True
        if self.member is not None:
            self.member.rejoin_needed = True
        self.complete(command, None)

    def on_unsubscribe(self, command: Unsubscribe) -> None:
        if self.member is not None and not self.manual and self.member.member_id:
            self.member.leave()
        self.topics = self.pattern = None
        self.manual = False
        self.events.clear()
        self.on_ack = None
        self.unknown_since.clear()
        self.fetcher.assign([], False)
        self.complete(command, None)

    def on_assign(self, command: Assign) -> None:
        if self.topics is not None or self.pattern is not None:
            raise IllegalStateError("assign() while subscribed: unsubscribe() first")
        self.manual = True
        self.unknown_since.clear()
        self.fetcher.assign(list(dict.fromkeys(command.partitions)),
                            awaiting_committed=self.member is not None)
        self.metadata.refresh_needed = True
        self.complete(command, None)

    def on_describe(self, command: Describe) -> None:
        subscription = None
        if self.pattern is not None:
            subscription = self.subscribed_topics()
        elif self.topics is not None:
            subscription = self.topics
        member = self.member
        self.complete(command, ConsumerView(
            assignment=frozenset(self.fetcher.states), subscription=subscription,
            paused=frozenset(tp for tp, s in self.fetcher.states.items() if s.paused),
            member_id=member.member_id if member else "",
            generation_id=member.generation_id if member else -1))

    # --- positions ----------------------------------------------------------------------

    def assigned_state(self, tp: TopicPartition) -> Any:
        state = self.fetcher.states.get(tp)
        if state is None:
            raise IllegalStateError(f"{tp.topic}-{tp.partition} is not assigned to this "
                                    f"consumer")
        return state

    def on_seek(self, command: Seek) -> None:
        states = [(self.assigned_state(tp), offset) for tp, offset in command.positions]
        for state, offset in states:
            if offset >= 0:
                state.seek(offset)
            elif offset in (-1, -2):
                state.request_reset(offset)
            else:
                raise ValueError(f"cannot seek to offset {offset}")
        self.complete(command, None)

    def on_position(self, command: Position) -> None:
        self.assigned_state(command.partition)
        self.position_waiters.append(
            (command, self.clock() + self.ticks(self.config.request_timeout_ms)))

    def answer_positions(self) -> None:
        if not self.position_waiters:
            return
        now = self.clock()
        waiting = []
        for command, deadline in self.position_waiters:
            state = self.fetcher.states.get(command.partition)
            if state is None:
                self.fail(command, IllegalStateError(f"{command.partition} was revoked"))
            elif state.error is not None:
                self.fail(command, state.error)
            elif state.position is not None:
                self.complete(command, state.position)
            elif now >= deadline:
                self.fail(command, RequestTimedOut(f"the position of {command.partition} "
                                                   f"was not resolved in time"))
            else:
                waiting.append((command, deadline))
        self.position_waiters = waiting

    def on_pause(self, command: Pause) -> None:
        states = [self.assigned_state(tp) for tp in command.partitions]
        for state in states:
            state.paused = command.paused
        self.complete(command, None)

    # --- commits ------------------------------------------------------------------------

    def on_commit(self, command: Commit) -> None:
        if self.member is None:
            raise IllegalStateError("commit() needs a group_id")
        offsets = command.offsets
        if offsets is None:
            offsets = self.positions(sorted(self.fetcher.states))
        if not offsets:
            self.complete(command, {})
            return
        committed = dict(offsets)

        def done(error: Any) -> None:
            if error is None:
                self.complete(command, committed)
            else:
                self.fail(command, error)

        self.member.commit(committed, self.manual, done,
                           self.clock() + self.ticks(self.config.request_timeout_ms))

    def on_committed(self, command: Committed) -> None:
        if self.member is None:
            raise IllegalStateError("committed() needs a group_id")

        def done(result: Any) -> None:
            if isinstance(result, ZafkaError):
                self.fail(command, result)
            else:
                self.complete(command, result)

        self.member.fetch_committed(command.partitions, done,
                                    self.clock() + self.ticks(self.config.request_timeout_ms))

    # --- offsets and metadata lookups ---------------------------------------------------

    def on_list_offsets(self, command: ListOffsets) -> None:
        deadline = self.clock() + self.ticks(self.config.request_timeout_ms)
        found: dict[TopicPartition, int] = {}
        self.lookup_offsets(command, list(dict.fromkeys(command.partitions)), found, deadline)

    def lookup_offsets(self, command: ListOffsets, wanted: list[TopicPartition],
                       found: dict[TopicPartition, int], deadline: int) -> None:
        """Ask each partition's leader; partitions that failed are asked again after a
        metadata refresh and a backoff, until the deadline."""
        by_address: dict[str, list[ListOffsetsPartition]] = {}
        missing: list[TopicPartition] = []
        for tp in wanted:
            leader = self.metadata.leader(tp)
            if leader is None:
                missing.append(tp)
                continue
            by_address.setdefault(leader[1], []).append(ListOffsetsPartition(
                topic=tp.topic, partition=tp.partition, timestamp=command.timestamp))
        outstanding = len(by_address)
        retry: list[TopicPartition] = list(missing)

        def finish_round() -> None:
            if not retry:
                self.complete(command, found)
            elif self.clock() >= deadline:
                self.fail(command, RequestTimedOut(f"no leader answered for {retry[0]}"))
            else:
                self.metadata.refresh_needed = True
                self.after(self.ticks(self.config.retry_backoff_ms),
                           lambda: self.lookup_offsets(command, retry, found, deadline))

        def on_reply(asked: list[ListOffsetsPartition], reply: Any) -> None:
            nonlocal outstanding
            outstanding -= 1
            answers = {} if isinstance(reply, ZafkaError) else {
                TopicPartition(p.topic, p.partition): p for p in reply.partitions}
            for part in asked:
                tp = TopicPartition(part.topic, part.partition)
                answer = answers.get(tp)
                if answer is not None and answer.error == ErrorCode.NONE:
                    found[tp] = answer.offset
                elif answer is not None and answer.error == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION \
                        and tp.topic in self.metadata.unknown:
                    self.fail(command, error_for(answer.error, f"{tp} does not exist"))
                else:
                    retry.append(tp)
            if outstanding == 0:
                finish_round()

        def answer_for(asked: list[ListOffsetsPartition]) -> Callable[[Any], None]:
            return lambda reply: on_reply(asked, reply)

        for address, parts in by_address.items():
            self.request(address, "broker", ListOffsetsRequest(partitions=tuple(parts)),
                         self.config.request_timeout_ms, answer_for(parts))
        if not by_address:
            finish_round()

    def on_partitions_for(self, command: PartitionsFor) -> None:
        def on_reply(reply: Any) -> None:
            if isinstance(reply, ZafkaError):
                self.fail(command, reply)
            elif command.topic is None:
                self.complete(command, sorted(
                    t.name for t in reply.topics
                    if not (t.internal and self.config.exclude_internal_topics)))
            else:
                topic = reply.topics[0]
                self.complete(command, None if topic.error != ErrorCode.NONE else
                              sorted(p.partition for p in topic.partitions))

        self.describe(() if command.topic is None else (command.topic,), on_reply,
                      self.clock() + self.ticks(self.config.request_timeout_ms))

    def describe(self, topics: tuple[str, ...], done: Callable[[Any], None],
                 deadline: int | None = None) -> None:
        """``done(DescribeTopicsReply)``, retrying on other brokers until ``deadline``
        (None: a single attempt; ``done(error)`` when it fails)."""

        def on_reply(reply: Any) -> None:
            if isinstance(reply, ZafkaError) and deadline is not None \
                    and self.clock() < deadline:
                self.after(self.ticks(self.config.retry_backoff_ms),
                           lambda: self.describe(topics, done, deadline))
                return
            done(reply)

        self.request(self.metadata.any_broker(), "broker", DescribeTopicsRequest(names=topics),
                     min(self.config.request_timeout_ms, METADATA_REPLY_MS), on_reply)

    # --- close --------------------------------------------------------------------------

    def on_close(self, command: Close) -> None:
        """Commit positions (if asked and auto-commit is on), leave the group, stop."""
        member = self.member
        self.open_replies.discard(command.reply)

        def leave() -> None:
            if member is not None and not self.manual and member.member_id and not member.left:
                member.leave(finish)
            else:
                finish()

        def finish() -> None:
            self.finish_close()
            if not command.reply.done():
                command.reply.set_result(None)

        if member is None or not command.autocommit or not self.config.enable_auto_commit:
            leave()
            return
        offsets = self.positions(sorted(self.fetcher.states))
        if not offsets:
            leave()
            return
        member.commit(offsets, self.manual, lambda error: leave(),
                      self.clock() + self.ticks(self.config.request_timeout_ms))


__all__ = ["CallsMixin"]
