"""The group coordinator: consumer groups and committed offsets, as a pure state machine.

Owns: the state of every group whose ``__consumer_offsets`` partition this broker leads —
members, generations, the chosen assignor, assignments, committed offsets — and the rules of
Kafka's classic group protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup, OffsetCommit /
OffsetFetch, ListGroups / DescribeGroups).  States: Empty -> PreparingRebalance ->
CompletingRebalance -> Stable (Dead = unknown / removed).

It is driven by ``on_<request>(request, reply_to)``, ``tick()`` and ``on_append_done()``; each
returns ``GroupEffects``: first records to append to ``__consumer_offsets`` (carry them out
first), then replies to send to the opaque ``reply_to`` tokens the caller gave (address +
correlation id).  A reply that depends on an append (offset commits, the leader's assignment)
is only produced by ``on_append_done`` once the log accepted the records; state that the log
has not accepted is never shown to readers.  ``load(partition, records)`` rebuilds the state
from a replayed partition when this broker becomes its leader; ``unload`` drops it.

Held JoinGroup replies complete when every known member has rejoined, or when the rebalance
timeout (the largest of the members') expires, dropping those that did not.  A member whose
session times out without a heartbeat is removed and triggers a rebalance; so is a member that
did not send SyncGroup within the rebalance timeout.

Must never: do I/O, read a clock (time is counted in ticks), or use global randomness (member
ids come from the injected ``random.Random``).
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Iterable, Sequence

from zafka.core import group_codec as codec
from zafka.core.errors import ErrorCode
from zafka.core.group_codec import OffsetAndMetadata
from zafka.core.group_model import (
    AppendRecords,
    Group,
    GroupEffects,
    GroupLimits,
    Member,
    PendingCommit,
    PendingDelete,
    PendingSync,
    SendReply,
    Waiter,
    append_error,
)
from zafka.core.messages import (
    DeleteGroupsRequest,
    DescribedGroup,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    GroupState,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupMember,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    ListedGroup,
    ListGroupsRequest,
    ListGroupsResponse,
    OffsetCommitPartitionResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchPartition,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupRequest,
    SyncGroupResponse,
    TopicPartition,
)

EMPTY = GroupState.EMPTY
PREPARING = GroupState.PREPARING_REBALANCE
COMPLETING = GroupState.COMPLETING_REBALANCE
STABLE = GroupState.STABLE


class GroupCoordinator:
    """Every group of the ``__consumer_offsets`` partitions this broker leads."""

    def __init__(self, num_offsets_partitions: int, rng: random.Random,
                 limits: GroupLimits | None = None) -> None:
        assert num_offsets_partitions > 0
        self.num_offsets_partitions = num_offsets_partitions
        self.rng = rng
        self.limits = (limits or GroupLimits()).validate()
        self.now = 0
        self.groups: dict[str, Group] = {}
        self.owned_partitions: set[int] = set()
        self._pending: dict[int, PendingCommit | PendingSync | PendingDelete | None] = {}
        self._next_append_id = 1
        self._deadlines: list[tuple[int, str]] = []

    # --- partition ownership ------------------------------------------------------------

    def partition_for(self, group_id: str) -> int:
        """The ``__consumer_offsets`` partition that holds ``group_id``."""
        return codec.offsets_partition_for(group_id, self.num_offsets_partitions)

    def load(self, partition: int, records: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Become coordinator of ``partition``: replay its records (latest per key wins)."""
        assert partition not in self.owned_partitions, partition
        latest: dict[bytes, bytes | None] = {}
        for key, value in records:
            latest[bytes(key)] = None if value is None else bytes(value)
        self.owned_partitions.add(partition)
        for key, value in latest.items():
            if value is not None:
                self._load_record(partition, codec.decode_key(key), value)
        self.invariants()

    def _load_record(self, partition: int, key: codec.OffsetRecordKey | codec.GroupRecordKey,
                     value: bytes) -> None:
        assert self.partition_for(key.group_id) == partition, (key, partition)
        group = self.groups.get(key.group_id)
        if group is None:
            group = self.groups[key.group_id] = Group(key.group_id, partition)
        if isinstance(key, codec.OffsetRecordKey):
            group.offsets[key.tp] = codec.decode_offset(value)
            return
        meta = codec.decode_group(value)
        group.protocol_type, group.generation_id = meta.protocol_type, meta.generation_id
        group.protocol_name, group.leader = meta.protocol_name, meta.leader
        group.members.clear()
        for m in meta.members:
            member = Member.restored(m, meta.protocol_name, self.limits)
            member.session_deadline = self.now + member.session_timeout_ticks
            self._schedule(group.group_id, member.session_deadline)
            group.members[m.member_id] = member
        group.state = STABLE if group.members else EMPTY

    def unload(self, partition: int) -> GroupEffects:
        """Stop coordinating ``partition``: answer NOT_COORDINATOR to everyone waiting."""
        assert partition in self.owned_partitions, partition
        eff = GroupEffects()
        self.owned_partitions.discard(partition)
        for group in [g for g in self.groups.values() if g.partition == partition]:
            for member in group.members.values():
                self._fail_waiters(member, ErrorCode.NOT_COORDINATOR, eff)
            del self.groups[group.group_id]
        for append_id, pending in list(self._pending.items()):
            if isinstance(pending, PendingDelete):
                if any(self.partition_for(g) == partition for g, _ in pending.results):
                    eff.extend(self.on_append_done(append_id,
                                                   ErrorCode.NOT_LEADER_OR_FOLLOWER))
            elif pending is not None and self.partition_for(pending.group_id) == partition:
                eff.extend(self.on_append_done(append_id, ErrorCode.NOT_LEADER_OR_FOLLOWER))
        return eff

    def _not_coordinator(self, group_id: str) -> bool:
        return self.partition_for(group_id) not in self.owned_partitions

    # --- JoinGroup ----------------------------------------------------------------------

    def on_join_group(self, req: JoinGroupRequest, reply_to: object) -> GroupEffects:
        """Add or refresh a member; its reply is held until the rebalance completes."""
        eff = GroupEffects()
        error = self._join_error(req)
        if error is not ErrorCode.NONE:
            return eff.reply(reply_to, JoinGroupResponse(error_code=error,
                                                         member_id=req.member_id))
        group = self.groups.get(req.group_id)
        if group is None:
            group = self.groups[req.group_id] = Group(req.group_id,
                                                      self.partition_for(req.group_id))
        if not req.member_id:
            self._add_member(group, req, reply_to, eff)
        else:
            self._rejoin_member(group, group.members[req.member_id], req, reply_to, eff)
        return eff

    def _join_error(self, req: JoinGroupRequest) -> ErrorCode:
        group = self.groups.get(req.group_id)
        session_ms = req.session_timeout_ms
        if not req.group_id:
            return ErrorCode.INVALID_REQUEST
        if self._not_coordinator(req.group_id):
            return ErrorCode.NOT_COORDINATOR
        if not (self.limits.group_min_session_timeout_ms <= session_ms
                <= self.limits.group_max_session_timeout_ms):
            return ErrorCode.INVALID_SESSION_TIMEOUT
        if not req.protocols or not req.protocol_type:
            return ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        if group is None:
            if req.member_id:
                return ErrorCode.UNKNOWN_MEMBER_ID
            full = len(self.groups) >= self.limits.groups_max
            return ErrorCode.COORDINATOR_NOT_AVAILABLE if full else ErrorCode.NONE
        if req.member_id and req.member_id not in group.members:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if not group.supports(req.protocol_type, {p.name for p in req.protocols},
                              excluding=req.member_id):
            return ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        if not req.member_id and len(group.members) >= self.limits.group_max_size:
            return ErrorCode.INVALID_REQUEST
        return ErrorCode.NONE

    def _add_member(self, group: Group, req: JoinGroupRequest, reply_to: object,
                    eff: GroupEffects) -> None:
        member_id = f"{req.client_id or 'member'}-{uuid.UUID(int=self.rng.getrandbits(128))}"
        assert member_id not in group.members, member_id
        member = Member.joining(member_id, req, self.limits)
        member.join_waiter = Waiter(reply_to)
        group.members[member_id] = member
        group.protocol_type = req.protocol_type
        self._refresh_session(group, member)
        if group.state is PREPARING:
            group.extend_initial_delay(self.now, self.limits.ticks(
                self.limits.group_initial_rebalance_delay_ms))
            self._schedule(group.group_id, group.initial_delay_deadline)
        else:
            self._prepare_rebalance(group, eff)
        self._maybe_complete_join(group, eff)

    def _rejoin_member(self, group: Group, member: Member, req: JoinGroupRequest,
                       reply_to: object, eff: GroupEffects) -> None:
        changed = member.protocols != req.protocols
        self._refresh_session(group, member)
        if group.state in (COMPLETING, STABLE) and not changed and (
                group.state is COMPLETING or member.member_id != group.leader):
            eff.reply(reply_to, self._join_response(group, member))
            return
        member.update(req, self.limits)
        member.join_waiter = Waiter(reply_to)
        if group.state is not PREPARING:
            self._prepare_rebalance(group, eff)
        self._maybe_complete_join(group, eff)

    def _join_response(self, group: Group, member: Member) -> JoinGroupResponse:
        members: tuple[JoinGroupMember, ...] = ()
        if member.member_id == group.leader:
            members = tuple(JoinGroupMember(member_id=m.member_id,
                                            metadata=m.metadata(group.protocol_name))
                            for m in group.members.values())
        return JoinGroupResponse(
            error_code=ErrorCode.NONE, generation_id=group.generation_id,
            protocol_type=group.protocol_type, protocol_name=group.protocol_name,
            leader=group.leader, member_id=member.member_id, members=members)

    def _prepare_rebalance(self, group: Group, eff: GroupEffects) -> None:
        if group.state is COMPLETING:
            self._fail_syncs(group, ErrorCode.REBALANCE_IN_PROGRESS, eff)
        delay = 0
        if group.state is EMPTY:
            delay = self.limits.ticks(self.limits.group_initial_rebalance_delay_ms)
        group.state = PREPARING
        timeout = max((m.rebalance_timeout_ticks for m in group.members.values()), default=0)
        group.rebalance_deadline = self.now + timeout
        group.initial_delay_deadline = self.now + min(delay, timeout)
        self._schedule(group.group_id, group.initial_delay_deadline)
        self._schedule(group.group_id, group.rebalance_deadline)

    def _maybe_complete_join(self, group: Group, eff: GroupEffects) -> None:
        if group.state is not PREPARING:
            return
        everyone = all(m.join_waiter is not None for m in group.members.values())
        if (everyone and self.now >= group.initial_delay_deadline) or (
                self.now >= group.rebalance_deadline):
            self._complete_join(group, eff)

    def _complete_join(self, group: Group, eff: GroupEffects) -> None:
        for member in [m for m in group.members.values() if m.join_waiter is None]:
            del group.members[member.member_id]
        group.generation_id += 1
        group.store_pending = False
        if not group.members:
            group.state, group.protocol_name, group.leader = EMPTY, "", ""
            self._store_empty_group(group, eff)
            return
        group.state = COMPLETING
        group.protocol_name = group.select_protocol()
        if group.leader not in group.members:
            group.leader = next(iter(group.members))
        group.pending_sync = set(group.members)
        group.sync_deadline = self.now + max(m.rebalance_timeout_ticks
                                             for m in group.members.values())
        self._schedule(group.group_id, group.sync_deadline)
        for member in group.members.values():
            waiter = member.join_waiter
            assert waiter is not None
            member.join_waiter = None
            member.assignment = b""
            self._refresh_session(group, member)
            eff.reply(waiter.reply_to, self._join_response(group, member))

    def _store_empty_group(self, group: Group, eff: GroupEffects) -> None:
        if group.offsets:
            self._append(group, [(codec.group_key(group.group_id),
                                  codec.encode_group(group.metadata()))], None, eff)
        else:
            self._append(group, [(codec.group_key(group.group_id), None)], None, eff)
            del self.groups[group.group_id]

    # --- SyncGroup, Heartbeat, LeaveGroup -----------------------------------------------

    def on_sync_group(self, req: SyncGroupRequest, reply_to: object) -> GroupEffects:
        """Hand out assignments; the leader's are persisted before anyone receives them."""
        eff = GroupEffects()
        group, error = self._member_check(req.group_id, req.member_id, req.generation_id)
        if group is None or error is not ErrorCode.NONE:
            return eff.reply(reply_to, SyncGroupResponse(error_code=error))
        if group.state is PREPARING:
            return eff.reply(reply_to, SyncGroupResponse(
                error_code=ErrorCode.REBALANCE_IN_PROGRESS))
        member = group.members[req.member_id]
        self._refresh_session(group, member)
        if group.state is STABLE:
            return eff.reply(reply_to, group.sync_response(member))
        member.sync_waiter = Waiter(reply_to)
        group.pending_sync.discard(member.member_id)
        if member.member_id == group.leader and not group.store_pending:
            assignments = {m: b"" for m in group.members}
            assignments.update((a.member_id, a.assignment) for a in req.assignments
                               if a.member_id in group.members)
            if not group.assignments_disjoint(assignments):
                self._fail_syncs(group, ErrorCode.INVALID_REQUEST, eff)
                self._prepare_rebalance(group, eff)
                return eff
            group.store_pending = True
            record = (codec.group_key(group.group_id),
                      codec.encode_group(group.metadata(assignments)))
            self._append(group, [record], PendingSync(group.group_id, group.generation_id,
                                                      assignments), eff)
        return eff

    def on_heartbeat(self, req: HeartbeatRequest, reply_to: object) -> GroupEffects:
        """Keep a member's session alive; tell it to rejoin while a rebalance is on."""
        group, error = self._member_check(req.group_id, req.member_id, req.generation_id)
        if group is not None and error is ErrorCode.NONE:
            self._refresh_session(group, group.members[req.member_id])
            if group.state is PREPARING:
                error = ErrorCode.REBALANCE_IN_PROGRESS
        return GroupEffects().reply(reply_to, HeartbeatResponse(error_code=error))

    def on_leave_group(self, req: LeaveGroupRequest, reply_to: object) -> GroupEffects:
        """Remove a member at once; the others rebalance."""
        eff = GroupEffects()
        group, error = self._member_check(req.group_id, req.member_id, None)
        if group is not None and error is ErrorCode.NONE:
            self._remove_member(group, req.member_id, eff)
        return eff.reply(reply_to, LeaveGroupResponse(error_code=error))

    def _member_check(self, group_id: str, member_id: str,
                      generation_id: int | None) -> tuple[Group | None, ErrorCode]:
        if self._not_coordinator(group_id):
            return None, ErrorCode.NOT_COORDINATOR
        group = self.groups.get(group_id)
        if group is None or member_id not in group.members:
            return group, ErrorCode.UNKNOWN_MEMBER_ID
        if generation_id is not None and generation_id != group.generation_id:
            return group, ErrorCode.ILLEGAL_GENERATION
        return group, ErrorCode.NONE

    def _remove_member(self, group: Group, member_id: str, eff: GroupEffects) -> None:
        member = group.members.pop(member_id)
        self._fail_waiters(member, ErrorCode.UNKNOWN_MEMBER_ID, eff)
        group.pending_sync.discard(member_id)
        if group.state in (STABLE, COMPLETING):
            self._prepare_rebalance(group, eff)
        self._maybe_complete_join(group, eff)

    def _fail_waiters(self, member: Member, error: ErrorCode, eff: GroupEffects) -> None:
        if member.join_waiter is not None:
            eff.reply(member.join_waiter.reply_to,
                      JoinGroupResponse(error_code=error, member_id=member.member_id))
            member.join_waiter = None
        if member.sync_waiter is not None:
            eff.reply(member.sync_waiter.reply_to, SyncGroupResponse(error_code=error))
            member.sync_waiter = None

    def _fail_syncs(self, group: Group, error: ErrorCode, eff: GroupEffects) -> None:
        for member in group.members.values():
            member.assignment = b""
            if member.sync_waiter is not None:
                eff.reply(member.sync_waiter.reply_to, SyncGroupResponse(error_code=error))
                member.sync_waiter = None

    # --- offsets ------------------------------------------------------------------------

    def on_offset_commit(self, req: OffsetCommitRequest, reply_to: object) -> GroupEffects:
        """Persist offsets; replies (per partition) once the log accepted them."""
        eff = GroupEffects()
        error = self._commit_error(req)
        if error is not ErrorCode.NONE:
            return eff.reply(reply_to, OffsetCommitResponse(partitions=tuple(
                OffsetCommitPartitionResponse(topic=o.topic, partition=o.partition,
                                              error_code=error) for o in req.offsets)))
        group = self.groups.get(req.group_id)
        if group is None:
            group = self.groups[req.group_id] = Group(req.group_id,
                                                      self.partition_for(req.group_id))
        if req.member_id in group.members:
            self._refresh_session(group, group.members[req.member_id])
        pending = PendingCommit(group.group_id, reply_to)
        for o in req.offsets:
            tp = TopicPartition(o.topic, o.partition)
            valid = (o.offset >= 0 and len(o.metadata.encode())
                     <= self.limits.offset_metadata_max_bytes)
            pending.results.append((tp, ErrorCode.NONE if valid else ErrorCode.INVALID_REQUEST))
            if valid:
                pending.offsets[tp] = OffsetAndMetadata(o.offset, o.metadata, o.leader_epoch)
        if not pending.offsets:
            return eff.reply(reply_to, pending.response(ErrorCode.NONE))
        records = [(codec.offset_key(group.group_id, tp), codec.encode_offset(v))
                   for tp, v in pending.offsets.items()]
        self._append(group, records, pending, eff)
        return eff

    def _commit_error(self, req: OffsetCommitRequest) -> ErrorCode:
        if not req.group_id:
            return ErrorCode.INVALID_REQUEST
        if self._not_coordinator(req.group_id):
            return ErrorCode.NOT_COORDINATOR
        group = self.groups.get(req.group_id)
        standalone = req.generation_id < 0 and not req.member_id
        if group is None:
            if not standalone:
                return ErrorCode.ILLEGAL_GENERATION
            full = len(self.groups) >= self.limits.groups_max
            return ErrorCode.COORDINATOR_NOT_AVAILABLE if full else ErrorCode.NONE
        if standalone and group.state is EMPTY:
            return ErrorCode.NONE
        if group.state is COMPLETING and req.member_id in group.members:
            return ErrorCode.REBALANCE_IN_PROGRESS
        return self._member_check(req.group_id, req.member_id, req.generation_id)[1]

    def on_offset_fetch(self, req: OffsetFetchRequest, reply_to: object) -> GroupEffects:
        """Committed offsets of a group (-1 where none was committed)."""
        eff = GroupEffects()
        if self._not_coordinator(req.group_id):
            return eff.reply(reply_to, OffsetFetchResponse(error_code=ErrorCode.NOT_COORDINATOR))
        group = self.groups.get(req.group_id)
        offsets = group.offsets if group is not None else {}
        wanted = sorted(offsets) if req.partitions is None else req.partitions
        missing = OffsetAndMetadata(-1)
        parts = tuple(OffsetFetchPartition(
            topic=tp.topic, partition=tp.partition, offset=v.offset, metadata=v.metadata,
            leader_epoch=v.leader_epoch) for tp in wanted
            for v in [offsets.get(TopicPartition(tp.topic, tp.partition), missing)])
        return eff.reply(reply_to, OffsetFetchResponse(error_code=ErrorCode.NONE,
                                                       partitions=parts))

    def on_append_done(self, append_id: int, error: ErrorCode) -> GroupEffects:
        """The log accepted (``NONE``) or refused an append: release what waited on it."""
        eff = GroupEffects()
        pending = self._pending.pop(append_id, None)
        if isinstance(pending, PendingCommit):
            if error is ErrorCode.NONE:
                group = self.groups.get(pending.group_id)
                if group is None:  # emptied and removed while the commit was in flight
                    group = self.groups[pending.group_id] = Group(
                        pending.group_id, self.partition_for(pending.group_id))
                group.offsets.update(pending.offsets)
            eff.reply(pending.reply_to, pending.response(append_error(error)))
        elif isinstance(pending, PendingDelete):
            eff.reply(pending.reply_to, pending.response(append_error(error)))
        elif isinstance(pending, PendingSync):
            group = self.groups.get(pending.group_id)
            if (group is not None and group.state is COMPLETING
                    and group.generation_id == pending.generation_id):
                self._complete_sync(group, pending, error, eff)
        return eff

    def _complete_sync(self, group: Group, pending: PendingSync, error: ErrorCode,
                       eff: GroupEffects) -> None:
        group.store_pending = False
        if error is not ErrorCode.NONE:
            self._fail_syncs(group, append_error(error), eff)
            self._prepare_rebalance(group, eff)
            return
        group.state = STABLE
        for member in group.members.values():
            member.assignment = pending.assignments[member.member_id]
            if member.sync_waiter is not None:
                eff.reply(member.sync_waiter.reply_to, group.sync_response(member))
                member.sync_waiter = None

    def _append(self, group: Group, records: Sequence[tuple[bytes, bytes | None]],
                pending: PendingCommit | PendingSync | PendingDelete | None,
                eff: GroupEffects) -> None:
        append_id = self._next_append_id
        self._next_append_id += 1
        self._pending[append_id] = pending
        eff.append(append_id, group.partition, tuple(records))

    # --- admin --------------------------------------------------------------------------

    def on_list_groups(self, req: ListGroupsRequest, reply_to: object) -> GroupEffects:
        """The groups this coordinator owns (optionally filtered by state)."""
        groups = tuple(ListedGroup(group_id=g.group_id, protocol_type=g.protocol_type,
                                   state=g.state)
                       for g in sorted(self.groups.values(), key=lambda g: g.group_id)
                       if not req.states_filter or g.state in req.states_filter)
        return GroupEffects().reply(reply_to, ListGroupsResponse(error_code=ErrorCode.NONE,
                                                                 groups=groups))

    def on_describe_groups(self, req: DescribeGroupsRequest,
                           reply_to: object) -> GroupEffects:
        """State, protocol, members and assignments of each requested group."""
        return GroupEffects().reply(reply_to, DescribeGroupsResponse(
            groups=tuple(self._describe(gid) for gid in req.group_ids)))

    def on_delete_groups(self, req: DeleteGroupsRequest, reply_to: object) -> GroupEffects:
        """Delete empty groups: tombstones for their metadata and every committed offset;
        the reply waits for the log to accept them."""
        eff = GroupEffects()
        results: list[tuple[str, ErrorCode]] = []
        for group_id in req.group_ids:
            group = self.groups.get(group_id)
            if self._not_coordinator(group_id):
                results.append((group_id, ErrorCode.NOT_COORDINATOR))
            elif group is None or group.state is GroupState.DEAD:
                results.append((group_id, ErrorCode.GROUP_ID_NOT_FOUND))
            elif group.state is not EMPTY:
                results.append((group_id, ErrorCode.NON_EMPTY_GROUP))
            else:
                results.append((group_id, ErrorCode.NONE))
                tombstones = [(codec.offset_key(group_id, tp), None) for tp in group.offsets]
                tombstones.append((codec.group_key(group_id), None))
                del self.groups[group_id]
                self._append(group, tombstones, None, eff)
        pending = PendingDelete(reply_to, tuple(results))
        if not eff.appends:
            return eff.reply(reply_to, pending.response(ErrorCode.NONE))
        last = eff.appends[-1].append_id
        self._pending[last] = pending
        return eff

    def _describe(self, group_id: str) -> DescribedGroup:
        if self._not_coordinator(group_id):
            return DescribedGroup(error_code=ErrorCode.NOT_COORDINATOR, group_id=group_id,
                                  state=GroupState.DEAD)
        group = self.groups.get(group_id)
        if group is None:
            return DescribedGroup(error_code=ErrorCode.NONE, group_id=group_id,
                                  state=GroupState.DEAD)
        return group.describe()

    # --- time ---------------------------------------------------------------------------

    def tick(self, ticks: int = 1) -> GroupEffects:
        """Advance time: expire sessions, rebalance and sync timeouts, initial delays."""
        assert ticks >= 0
        self.now += ticks
        eff = GroupEffects()
        due: list[str] = []
        while self._deadlines and self._deadlines[0][0] <= self.now:
            group_id = heapq.heappop(self._deadlines)[1]
            if group_id not in due:
                due.append(group_id)
        for group_id in due:
            group = self.groups.get(group_id)
            if group is not None:
                self._check_timeouts(group, eff)
        return eff

    def _check_timeouts(self, group: Group, eff: GroupEffects) -> None:
        for member in list(group.members.values()):
            if member.member_id in group.members and member.session_expired(self.now):
                self._remove_member(group, member.member_id, eff)
        if group.state is COMPLETING and self.now >= group.sync_deadline and group.pending_sync:
            for member_id in sorted(group.pending_sync):
                self._remove_member(group, member_id, eff)
        self._maybe_complete_join(group, eff)

    def _refresh_session(self, group: Group, member: Member) -> None:
        member.session_deadline = self.now + member.session_timeout_ticks
        self._schedule(group.group_id, member.session_deadline)

    def _schedule(self, group_id: str, deadline: int) -> None:
        heapq.heappush(self._deadlines, (deadline, group_id))

    # --- invariants ---------------------------------------------------------------------

    def invariants(self) -> None:
        """Assert what must hold between any two calls (fail fast)."""
        for group_id, group in self.groups.items():
            assert group.group_id == group_id
            assert group.partition == self.partition_for(group_id)
            assert group.partition in self.owned_partitions, group_id
            group.check()


__all__ = [
    "AppendRecords", "GroupCoordinator", "GroupEffects", "GroupLimits", "SendReply",
]
