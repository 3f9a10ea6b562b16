"""The client side of a consumer group: coordinator discovery, join, sync, heartbeat, leave,
offset commits and committed-offset lookups, for one consumer.

Owns: this member's identity in its group (member id, generation, chosen protocol, whether
it leads), the coordinator's address, the heartbeat schedule, and whether the member must
rejoin.  Kafka's classic protocol: FindCoordinator on any broker (CoordinatorNotAvailable
while ``__consumer_offsets`` is being created: retry after a backoff); JoinGroup with one
subscription per assignor (the coordinator holds the reply until the rebalance completes);
the leader computes everyone's assignment with ``client.assignors`` and hands it in with its
SyncGroup; every member gets its own partitions from SyncGroup.  A heartbeat answered
REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID makes the member rejoin (the
consumer actor decides when: on the next poll, after revocation callbacks).  NOT_COORDINATOR,
COORDINATOR_NOT_AVAILABLE, an error reply or no reply in time: find the coordinator again and
retry.

Commits carry the member's generation; the coordinator refuses a stale one (``CommitFailed``).

Must never: block, touch fetch positions (the consumer actor applies assignments), or send
anything but through the ``request`` function it was given.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from zafka.client.assignors import assignor_for
from zafka.client.consumer_config import CommitFailed, ConsumerConfig
from zafka.client.consumer_metadata import METADATA_REPLY_MS, ConsumerMetadata
from zafka.core.errors import ErrorCode, RequestTimedOut, ZafkaError, error_for
from zafka.core.group_codec import (
    OffsetAndMetadata,
    Subscription,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from zafka.core.messages import (
    FindCoordinatorRequest,
    GroupProtocol,
    HeartbeatRequest,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    OffsetCommitPartition,
    OffsetCommitRequest,
    OffsetFetchRequest,
    SyncGroupAssignment,
    SyncGroupRequest,
    TopicPartition,
)

GROUP_ACTOR = "group"
COORDINATOR_ERRORS = frozenset({ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE})
STALE_ERRORS = frozenset({ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID,
                          ErrorCode.REBALANCE_IN_PROGRESS})

Request = Callable[[str, str, Any, int, Callable[[Any], None]], None]
Schedule = Callable[[int, Callable[[], None]], None]
Done = Callable[[Any], None]


class MemberState(enum.Enum):
    """Where this member is in the join / sync cycle."""

    UNJOINED = "unjoined"
    JOINING = "joining"
    SYNCING = "syncing"
    STABLE = "stable"


class GroupMember:
    """One consumer's membership of ``config.group_id``."""

    def __init__(self, config: ConsumerConfig, metadata: ConsumerMetadata, request: Request,
                 schedule: Schedule, clock: Callable[[], int], tick_ms: int) -> None:
        assert config.group_id is not None
        self.config = config
        self.group_id = config.group_id
        self.metadata = metadata
        self.request = request
        self.schedule = schedule
        self.clock = clock
        self.tick_ms = tick_ms
        self.state = MemberState.UNJOINED
        self.member_id = ""
        self.generation_id = -1
        self.protocol = ""
        self.leader = False
        self.left = False
        self.rejoin_needed = True
        self.fatal: ZafkaError | None = None
        self.coordinator: str | None = None
        self._finding = False
        self._waiting: list[Callable[[str], None]] = []
        self._heartbeat_in_flight = False
        self._next_heartbeat = 0
        self.subscription: Callable[[], Subscription] = lambda: Subscription(())
        self.on_assigned: Callable[[list[TopicPartition]], None] = lambda parts: None
        self.partition_counts: Callable[[list[str], Callable[[dict[str, int]], None]],
                                        None] = lambda topics, done: done({})

    def ticks(self, ms: int) -> int:
        return max(1, -(-ms // self.tick_ms))

    # --- the coordinator ----------------------------------------------------------------

    def with_coordinator(self, action: Callable[[str], None]) -> None:
        """Run ``action(address)`` once the coordinator is known."""
        if self.coordinator is not None:
            action(self.coordinator)
            return
        self._waiting.append(action)
        if not self._finding:
            self._find()

    def _find(self) -> None:
        self._finding = True
        self.request(self.metadata.any_broker(), "broker",
                     FindCoordinatorRequest(group_id=self.group_id),
                     min(self.config.request_timeout_ms, METADATA_REPLY_MS), self._on_find)

    def _on_find(self, reply: Any) -> None:
        self._finding = False
        if isinstance(reply, ZafkaError) or reply.error_code != ErrorCode.NONE:
            self.schedule(self.ticks(self.config.retry_backoff_ms), self._find)
            return
        self.coordinator = reply.address
        waiting, self._waiting = self._waiting, []
        for action in waiting:
            action(reply.address)

    def coordinator_lost(self) -> None:
        self.coordinator = None

    def _coordinator_trouble(self, reply: Any) -> bool:
        """True (and the coordinator is forgotten) when ``reply`` says to look it up again."""
        code = getattr(reply, "error_code", ErrorCode.NONE)
        if isinstance(reply, ZafkaError) or code in COORDINATOR_ERRORS:
            self.coordinator_lost()
            return True
        return False

    # --- join and sync ------------------------------------------------------------------

    def join(self) -> None:
        """Start (or restart) joining: JoinGroup, then SyncGroup, then ``on_assigned``."""
        if self.left:
            self.member_id, self.generation_id, self.left = "", -1, False
        self.state = MemberState.JOINING
        self.rejoin_needed = False
        self.with_coordinator(self._send_join)

    def _send_join(self, address: str) -> None:
        if self.state is not MemberState.JOINING:
            return
        metadata = encode_subscription(self.subscription())
        request = JoinGroupRequest(
            group_id=self.group_id, member_id=self.member_id,
            session_timeout_ms=self.config.session_timeout_ms,
            rebalance_timeout_ms=self.config.max_poll_interval_ms,
            protocols=tuple(GroupProtocol(name=name, metadata=metadata)
                            for name in self.config.assignors),
            client_id=self.config.client_id)
        self.request(address, GROUP_ACTOR, request,
                     self.config.max_poll_interval_ms + self.config.request_timeout_ms,
                     self._on_join)

    def _retry_join(self) -> None:
        self.schedule(self.ticks(self.config.retry_backoff_ms), self.join)

    def _on_join(self, reply: Any) -> None:
        if self.state is not MemberState.JOINING:
            return
        if self._coordinator_trouble(reply):
            self._retry_join()
            return
        code = reply.error_code
        if code == ErrorCode.UNKNOWN_MEMBER_ID:
            self.member_id = ""
            self.join()
            return
        if code == ErrorCode.REBALANCE_IN_PROGRESS:
            self.join()
            return
        if code != ErrorCode.NONE:
            self.state = MemberState.UNJOINED
            self.fatal = error_for(code, f"group {self.group_id!r} refused this consumer: "
                                         f"{ErrorCode(code).name}")
            return
        self.member_id, self.generation_id = reply.member_id, reply.generation_id
        self.protocol = reply.protocol_name
        self.leader = reply.leader == reply.member_id
        self.state = MemberState.SYNCING
        if self.leader:
            self._lead(reply)
        else:
            self._send_sync(())

    def _lead(self, reply: JoinGroupResponse) -> None:
        subscriptions = {m.member_id: decode_subscription(m.metadata) for m in reply.members}
        topics = sorted({t for s in subscriptions.values() for t in s.topics})
        generation = reply.generation_id

        def assign(counts: dict[str, int]) -> None:
            if self.state is not MemberState.SYNCING or self.generation_id != generation:
                return
            assignor = assignor_for(self.protocol)
            result = assignor.assign({m: s.topics for m, s in subscriptions.items()}, counts,
                                     {m: s.owned_partitions for m, s in subscriptions.items()})
            self._send_sync(tuple(SyncGroupAssignment(member_id=m,
                                                      assignment=encode_assignment(parts))
                                  for m, parts in sorted(result.items())))

        self.partition_counts(topics, assign)

    def _send_sync(self, assignments: tuple[SyncGroupAssignment, ...]) -> None:
        request = SyncGroupRequest(group_id=self.group_id, generation_id=self.generation_id,
                                   member_id=self.member_id, assignments=assignments)
        self.with_coordinator(lambda address: self.request(
            address, GROUP_ACTOR, request,
            self.config.max_poll_interval_ms + self.config.request_timeout_ms,
            lambda reply: self._on_sync(reply, request.generation_id)))

    def _on_sync(self, reply: Any, generation: int) -> None:
        if self.state is not MemberState.SYNCING or generation != self.generation_id:
            return
        if self._coordinator_trouble(reply):
            self._retry_join()
            return
        code = reply.error_code
        if code != ErrorCode.NONE:
            if code == ErrorCode.UNKNOWN_MEMBER_ID:
                self.member_id = ""
            self.join()
            return
        self.state = MemberState.STABLE
        self._next_heartbeat = self.clock() + self.ticks(self.config.heartbeat_interval_ms)
        self.on_assigned(list(decode_assignment(reply.assignment)))

    # --- heartbeat and leave ------------------------------------------------------------

    def tick(self, now: int) -> None:
        """Send a heartbeat when one is due (only while a generation is held)."""
        if self.state is not MemberState.STABLE or self.left or self._heartbeat_in_flight \
                or now < self._next_heartbeat:
            return
        self._heartbeat_in_flight = True
        self._next_heartbeat = now + self.ticks(self.config.heartbeat_interval_ms)
        request = HeartbeatRequest(group_id=self.group_id, generation_id=self.generation_id,
                                   member_id=self.member_id)
        self.with_coordinator(lambda address: self.request(
            address, GROUP_ACTOR, request, self.config.request_timeout_ms,
            lambda reply: self._on_heartbeat(reply, request.generation_id)))

    def _on_heartbeat(self, reply: Any, generation: int) -> None:
        self._heartbeat_in_flight = False
        if self._coordinator_trouble(reply) or generation != self.generation_id:
            return
        code = reply.error_code
        if code == ErrorCode.UNKNOWN_MEMBER_ID:
            self.left = True
        if code != ErrorCode.NONE:
            self.rejoin_needed = True

    def leave(self, done: Callable[[], None] | None = None) -> None:
        """Leave the group now (the others rebalance at once); the identity is kept only so
        that a late commit is refused as stale."""
        self.state = MemberState.UNJOINED
        self.rejoin_needed = True
        if self.left or not self.member_id:
            self.left = True
            if done is not None:
                done()
            return
        self.left = True
        request = LeaveGroupRequest(group_id=self.group_id, member_id=self.member_id)
        if self.coordinator is None:
            if done is not None:
                done()
            return
        self.request(self.coordinator, GROUP_ACTOR, request, self.config.request_timeout_ms,
                     lambda reply: done() if done is not None else None)

    # --- offsets ------------------------------------------------------------------------

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata], standalone: bool,
               done: Done, deadline: int) -> None:
        """Commit ``offsets``; ``done(None)`` or ``done(error)``.  ``standalone``: a manual
        assignment (generation -1, no member id)."""
        generation, member = (-1, "") if standalone else (self.generation_id, self.member_id)
        request = OffsetCommitRequest(
            group_id=self.group_id, generation_id=generation, member_id=member,
            offsets=tuple(OffsetCommitPartition(topic=tp.topic, partition=tp.partition,
                                                offset=o.offset, metadata=o.metadata,
                                                leader_epoch=o.leader_epoch)
                          for tp, o in sorted(offsets.items())))

        def answer(reply: Any) -> None:
            codes = {p.error_code for p in reply.partitions} - {ErrorCode.NONE}
            if codes & STALE_ERRORS:
                self.rejoin_needed = self.rejoin_needed or not standalone
                done(CommitFailed(
                    f"group {self.group_id!r} refused the commit of generation {generation} "
                    f"({', '.join(sorted(ErrorCode(c).name for c in codes))}): the group "
                    f"rebalanced without this consumer; poll() to rejoin"))
            elif codes:
                code = min(codes)
                done(error_for(code, f"commit to group {self.group_id!r}: "
                                     f"{ErrorCode(code).name}"))
            else:
                done(None)

        self.call(request, answer, done, deadline)

    def fetch_committed(self, partitions: tuple[TopicPartition, ...], done: Done,
                        deadline: int) -> None:
        """``done({tp: OffsetAndMetadata | None})`` or ``done(error)``."""

        def answer(reply: Any) -> None:
            if reply.error_code != ErrorCode.NONE:
                done(error_for(reply.error_code, f"offset fetch for group {self.group_id!r}"))
                return
            found = {TopicPartition(p.topic, p.partition): p for p in reply.partitions}
            result: dict[TopicPartition, OffsetAndMetadata | None] = {}
            for tp in partitions:
                p = found.get(tp)
                result[tp] = None if p is None or p.offset < 0 else OffsetAndMetadata(
                    p.offset, p.metadata, p.leader_epoch)
            done(result)

        self.call(OffsetFetchRequest(group_id=self.group_id, partitions=partitions),
                  answer, done, deadline)

    def call(self, body: Any, answer: Done, fail: Done, deadline: int) -> None:
        """Send ``body`` to the coordinator, finding it again and retrying (after a backoff)
        until ``deadline``; ``answer(reply)``, or ``fail(error)`` at the deadline."""
        finished = False

        def attempt(address: str) -> None:
            self.request(address, GROUP_ACTOR, body, self.config.request_timeout_ms, on_reply)

        def on_reply(reply: Any) -> None:
            nonlocal finished
            if finished:
                return
            if not self._trouble_in(reply):
                finished = True
                answer(reply)
            elif self.clock() < deadline:
                self.schedule(self.ticks(self.config.retry_backoff_ms),
                              lambda: self.with_coordinator(attempt))
            else:
                finished = True
                fail(reply if isinstance(reply, ZafkaError) else RequestTimedOut(
                    f"group {self.group_id!r}: no coordinator answered before the deadline"))

        def expire() -> None:
            nonlocal finished
            if not finished:
                finished = True
                fail(RequestTimedOut(f"group {self.group_id!r}: the coordinator was not found "
                                     f"before the deadline"))

        self.schedule(max(1, deadline - self.clock()), expire)
        self.with_coordinator(attempt)

    def _trouble_in(self, reply: Any) -> bool:
        if self._coordinator_trouble(reply):
            return True
        parts = getattr(reply, "partitions", None) or ()
        if any(getattr(p, "error_code", ErrorCode.NONE) in COORDINATOR_ERRORS for p in parts):
            self.coordinator_lost()
            return True
        return False


__all__ = ["GROUP_ACTOR", "GroupMember", "MemberState"]
