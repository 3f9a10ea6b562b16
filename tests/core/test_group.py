"""The group coordinator follows Kafka's classic consumer-group protocol.

Each test drives a real ``GroupCoordinator`` through a small harness that plays the broker:
it appends the records the coordinator asks for to an in-memory ``__consumer_offsets`` log,
reports the outcome, collects the replies by their ``reply_to`` token and checks the
coordinator's invariants after every step.
"""

from __future__ import annotations

import itertools
import random

import pytest
from zafka.core.errors import ErrorCode
from zafka.core.group import AppendRecords, GroupCoordinator, GroupEffects, GroupLimits
from zafka.core.group_codec import (
    Subscription,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
    group_key,
    java_string_hash,
    offsets_partition_for,
)
from zafka.core.messages import (
    DeleteGroupsRequest,
    DescribeGroupsRequest,
    GroupProtocol,
    GroupState,
    HeartbeatRequest,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    ListGroupsRequest,
    OffsetCommitPartition,
    OffsetCommitRequest,
    OffsetFetchRequest,
    SyncGroupAssignment,
    SyncGroupRequest,
    TopicPartition,
)

LIMITS = GroupLimits(tick_ms=1, group_min_session_timeout_ms=5,
                     group_initial_rebalance_delay_ms=0)
SESSION, REBALANCE = 30, 60
TOPIC_PARTITIONS = [TopicPartition("t", p) for p in range(6)]


def consumer_protocols(*names: str) -> tuple[GroupProtocol, ...]:
    meta = encode_subscription(Subscription(("t",)))
    return tuple(GroupProtocol(name=n, metadata=meta) for n in names or ("range",))


class Broker:
    """Plays the broker around the coordinator: log, append outcomes, replies."""

    def __init__(self, limits: GroupLimits = LIMITS, partitions: int = 1, seed: int = 0,
                 log: dict[int, list[tuple[bytes, bytes | None]]] | None = None) -> None:
        self.coord = GroupCoordinator(partitions, random.Random(seed), limits)
        self.log = log if log is not None else {p: [] for p in range(partitions)}
        for p in range(partitions):
            self.coord.load(p, self.log[p])
        self.replies: dict[object, object] = {}
        self.hold_appends = False
        self.held: list[AppendRecords] = []
        self.tokens = itertools.count()

    def run(self, eff: GroupEffects) -> None:
        for append in eff.appends:
            if self.hold_appends:
                self.held.append(append)
            else:
                self.finish(append, ErrorCode.NONE)
        for reply in eff.replies:
            assert reply.reply_to not in self.replies, "two replies to one request"
            self.replies[reply.reply_to] = reply.body
        self.coord.invariants()

    def finish(self, append: AppendRecords, error: ErrorCode) -> None:
        if error is ErrorCode.NONE:
            self.log[append.partition].extend(append.records)
        self.run(self.coord.on_append_done(append.append_id, error))

    def call(self, handler_name: str, request: object) -> object:
        """Send a request; return its token (look the reply up in ``replies``)."""
        token = next(self.tokens)
        self.run(getattr(self.coord, handler_name)(request, token))
        return token

    def reply(self, token: object) -> object:
        return self.replies.get(token)

    def join(self, member_id: str = "", group: str = "g",
             protocols: tuple[GroupProtocol, ...] | None = None) -> object:
        return self.call("on_join_group", JoinGroupRequest(
            group_id=group, member_id=member_id, session_timeout_ms=SESSION,
            rebalance_timeout_ms=REBALANCE, protocols=protocols or consumer_protocols(),
            client_id="c"))

    def tick(self, ticks: int = 1) -> None:
        for _ in range(ticks):
            self.run(self.coord.tick())

    def heartbeat(self, member_id: str, generation: int, group: str = "g") -> ErrorCode:
        reply = self.reply(self.call("on_heartbeat", HeartbeatRequest(
            group_id=group, generation_id=generation, member_id=member_id)))
        return reply.error_code  # type: ignore[attr-defined, no-any-return]

    def commit(self, offsets: dict[TopicPartition, int], generation: int = -1,
               member_id: str = "", group: str = "g") -> object:
        return self.call("on_offset_commit", OffsetCommitRequest(
            group_id=group, generation_id=generation, member_id=member_id,
            offsets=tuple(OffsetCommitPartition(topic=tp.topic, partition=tp.partition,
                                                offset=o, metadata=f"m{o}")
                          for tp, o in offsets.items())))

    def fetch(self, group: str = "g") -> dict[TopicPartition, int]:
        reply = self.reply(self.call("on_offset_fetch", OffsetFetchRequest(group_id=group)))
        assert reply.error_code is ErrorCode.NONE  # type: ignore[attr-defined]
        return {TopicPartition(p.topic, p.partition): p.offset
                for p in reply.partitions}  # type: ignore[attr-defined]

    def state(self, group: str = "g") -> GroupState:
        return self.coord.groups[group].state

    def form_generation(self, joins: list[object]) -> dict[str, tuple[TopicPartition, ...]]:
        """Complete held joins: the leader assigns round robin, everyone syncs."""
        responses = [self.reply(t) for t in joins]
        assert all(isinstance(r, JoinGroupResponse) and r.error_code is ErrorCode.NONE
                   for r in responses), responses
        leader = next(r for r in responses if r.members)  # type: ignore[union-attr]
        members = sorted(m.member_id for m in leader.members)  # type: ignore[union-attr]
        plan = {m: [tp for i, tp in enumerate(TOPIC_PARTITIONS) if i % len(members) == k]
                for k, m in enumerate(members)}
        generation = leader.generation_id  # type: ignore[union-attr]
        out: dict[str, tuple[TopicPartition, ...]] = {}
        for r in sorted(responses, key=lambda r: not r.members):  # type: ignore[union-attr]
            assignments = tuple(SyncGroupAssignment(member_id=m, assignment=encode_assignment(p))
                                for m, p in plan.items()) if r.members else ()  # type: ignore
            self.call("on_sync_group", SyncGroupRequest(
                group_id="g", generation_id=generation, member_id=r.member_id,  # type: ignore
                assignments=assignments))
        for m in members:
            out[m] = decode_assignment(self.coord.groups["g"].members[m].assignment)
        return out


def member_of(broker: Broker, token: object) -> str:
    return broker.reply(token).member_id  # type: ignore[attr-defined, no-any-return]


def gen_of(broker: Broker, token: object) -> int:
    return broker.reply(token).generation_id  # type: ignore[attr-defined, no-any-return]


def stable_group_of_three() -> tuple[Broker, list[str], int]:
    broker = Broker(GroupLimits(tick_ms=1, group_min_session_timeout_ms=5,
                                group_initial_rebalance_delay_ms=10))
    joins = [broker.join() for _ in range(3)]
    assert all(broker.reply(t) is None for t in joins), "joins are held during the delay"
    broker.tick(10)
    broker.form_generation(joins)
    assert broker.state() is GroupState.STABLE
    return broker, [member_of(broker, t) for t in joins], gen_of(broker, joins[0])


def assert_complete_and_disjoint(assignment: dict[str, tuple[TopicPartition, ...]]) -> None:
    owned = [tp for parts in assignment.values() for tp in parts]
    assert sorted(owned) == TOPIC_PARTITIONS, assignment


# --- membership and generations ----------------------------------------------------------


def test_three_members_joining_together_form_one_generation_with_a_complete_assignment():
    broker, members, generation = stable_group_of_three()
    assert generation == 1 and len(set(members)) == 3
    assignment = {m: decode_assignment(broker.coord.groups["g"].members[m].assignment)
                  for m in members}
    assert_complete_and_disjoint(assignment)
    assert all(len(parts) == 2 for parts in assignment.values())


def test_only_the_leader_receives_the_member_list():
    broker = Broker()
    first = broker.join()
    second = broker.join()
    broker.run(broker.coord.on_heartbeat(HeartbeatRequest(
        group_id="g", generation_id=1, member_id=member_of(broker, first)), "hb"))
    rejoin = broker.join(member_of(broker, first))
    leader, follower = broker.reply(rejoin), broker.reply(second)
    assert leader.leader == leader.member_id and len(leader.members) == 2  # type: ignore
    assert follower.members == () and follower.leader == leader.member_id  # type: ignore


def test_a_new_member_makes_a_stable_group_rebalance_and_bumps_the_generation():
    broker, members, generation = stable_group_of_three()
    newcomer = broker.join()
    assert broker.state() is GroupState.PREPARING_REBALANCE and broker.reply(newcomer) is None
    assert broker.heartbeat(members[0], generation) is ErrorCode.REBALANCE_IN_PROGRESS
    rejoins = [broker.join(m) for m in members]
    assignment = broker.form_generation([newcomer, *rejoins])
    assert gen_of(broker, newcomer) == generation + 1 and len(assignment) == 4
    assert_complete_and_disjoint(assignment)


def test_a_leaving_member_triggers_a_rebalance_and_the_others_take_over_its_partitions():
    broker, members, generation = stable_group_of_three()
    left = broker.call("on_leave_group", LeaveGroupRequest(group_id="g", member_id=members[1]))
    assert broker.reply(left).error_code is ErrorCode.NONE  # type: ignore[attr-defined]
    assert broker.heartbeat(members[0], generation) is ErrorCode.REBALANCE_IN_PROGRESS
    rejoins = [broker.join(members[0]), broker.join(members[2])]
    assignment = broker.form_generation(rejoins)
    assert set(assignment) == {members[0], members[2]}
    assert gen_of(broker, rejoins[0]) == generation + 1
    assert_complete_and_disjoint(assignment)
    assert broker.heartbeat(members[1], generation + 1) is ErrorCode.UNKNOWN_MEMBER_ID


def test_a_member_whose_session_times_out_is_removed_and_the_group_rebalances():
    broker, members, generation = stable_group_of_three()
    for _ in range(SESSION - 1):
        broker.tick()
        assert broker.heartbeat(members[0], generation) is ErrorCode.NONE
        assert broker.heartbeat(members[1], generation) is ErrorCode.NONE
    broker.tick()
    assert members[2] not in broker.coord.groups["g"].members
    assert broker.heartbeat(members[0], generation) is ErrorCode.REBALANCE_IN_PROGRESS


def test_members_that_do_not_rejoin_within_the_rebalance_timeout_are_dropped():
    broker, members, generation = stable_group_of_three()
    rejoin = broker.join(members[0])  # the leader rejoins: a rebalance starts
    for _ in range(REBALANCE - 1):
        broker.tick()
        broker.heartbeat(members[1], generation)
        assert broker.reply(rejoin) is None
    broker.tick()
    reply = broker.reply(rejoin)
    assert reply.generation_id == generation + 1  # type: ignore[attr-defined]
    assert [m.member_id for m in reply.members] == [members[0]]  # type: ignore[attr-defined]


def test_a_member_that_never_syncs_is_removed_after_the_rebalance_timeout():
    broker = Broker()
    first = broker.join()
    gen = gen_of(broker, first)
    broker.call("on_sync_group", SyncGroupRequest(
        group_id="g", generation_id=gen, member_id=member_of(broker, first),
        assignments=()))
    second = broker.join()
    rejoin = broker.join(member_of(broker, first))
    assert gen_of(broker, second) == gen + 1 == gen_of(broker, rejoin)
    sync = broker.call("on_sync_group", SyncGroupRequest(
        group_id="g", generation_id=gen + 1, member_id=member_of(broker, second)))
    for _ in range(REBALANCE - 1):
        broker.tick()
        for token in (first, second):
            assert broker.heartbeat(member_of(broker, token), gen + 1) is ErrorCode.NONE
    assert broker.reply(sync) is None
    broker.tick()
    assert broker.reply(sync).error_code is ErrorCode.REBALANCE_IN_PROGRESS  # type: ignore
    assert list(broker.coord.groups["g"].members) == [member_of(broker, second)]


def test_members_agree_on_the_protocol_most_of_them_prefer_among_the_common_ones():
    broker = Broker(GroupLimits(tick_ms=1, group_min_session_timeout_ms=5,
                                group_initial_rebalance_delay_ms=5))
    a = broker.join(protocols=consumer_protocols("range", "roundrobin"))
    b = broker.join(protocols=consumer_protocols("roundrobin", "range"))
    c = broker.join(protocols=consumer_protocols("roundrobin"))
    broker.tick(5)
    assert {broker.reply(t).protocol_name for t in (a, b, c)} == {"roundrobin"}  # type: ignore


def test_a_member_without_a_common_protocol_is_refused():
    broker = Broker()
    broker.join(protocols=consumer_protocols("range"))
    refused = broker.join(protocols=consumer_protocols("sticky"))
    assert broker.reply(refused).error_code is ErrorCode.INCONSISTENT_GROUP_PROTOCOL  # type: ignore


def test_join_errors_unknown_member_and_session_timeout_bounds():
    broker = Broker()
    assert broker.reply(broker.join("ghost")).error_code is ErrorCode.UNKNOWN_MEMBER_ID  # type: ignore
    bad = broker.call("on_join_group", JoinGroupRequest(
        group_id="g", session_timeout_ms=1, rebalance_timeout_ms=10,
        protocols=consumer_protocols()))
    assert broker.reply(bad).error_code is ErrorCode.INVALID_SESSION_TIMEOUT  # type: ignore


def test_sync_with_a_stale_generation_is_illegal_and_during_a_rebalance_is_refused():
    broker, members, generation = stable_group_of_three()
    stale = broker.call("on_sync_group", SyncGroupRequest(
        group_id="g", generation_id=generation - 1, member_id=members[1]))
    assert broker.reply(stale).error_code is ErrorCode.ILLEGAL_GENERATION  # type: ignore
    broker.join()
    during = broker.call("on_sync_group", SyncGroupRequest(
        group_id="g", generation_id=generation, member_id=members[1]))
    assert broker.reply(during).error_code is ErrorCode.REBALANCE_IN_PROGRESS  # type: ignore


def test_followers_get_their_assignment_only_after_the_leaders_assignment_is_persisted():
    broker = Broker(GroupLimits(tick_ms=1, group_min_session_timeout_ms=5,
                                group_initial_rebalance_delay_ms=3))
    joins = [broker.join(), broker.join()]
    broker.tick(3)
    broker.hold_appends = True
    leader = next(t for t in joins if broker.reply(t).members)  # type: ignore[attr-defined]
    follower = next(t for t in joins if t is not leader)
    gen = gen_of(broker, leader)
    f_sync = broker.call("on_sync_group", SyncGroupRequest(
        group_id="g", generation_id=gen, member_id=member_of(broker, follower)))
    l_sync = broker.call("on_sync_group", SyncGroupRequest(
        group_id="g", generation_id=gen, member_id=member_of(broker, leader),
        assignments=(SyncGroupAssignment(member_id=member_of(broker, follower),
                                          assignment=encode_assignment(TOPIC_PARTITIONS)),)))
    assert broker.reply(f_sync) is None and broker.reply(l_sync) is None
    [append] = broker.held
    assert append.records[0][0] == group_key("g")
    broker.finish(append, ErrorCode.NONE)
    assert decode_assignment(broker.reply(f_sync).assignment) == tuple(TOPIC_PARTITIONS)  # type: ignore
    assert broker.reply(l_sync).assignment == b""  # type: ignore[attr-defined]


def test_a_failed_assignment_write_sends_everyone_back_to_rejoin():
    broker = Broker()
    join = broker.join()
    broker.hold_appends = True
    sync = broker.call("on_sync_group", SyncGroupRequest(
        group_id="g", generation_id=gen_of(broker, join), member_id=member_of(broker, join)))
    broker.finish(broker.held.pop(), ErrorCode.NOT_LEADER_OR_FOLLOWER)
    assert broker.reply(sync).error_code is ErrorCode.NOT_COORDINATOR  # type: ignore
    assert broker.state() is GroupState.PREPARING_REBALANCE


def test_an_overlapping_assignment_from_the_leader_is_refused():
    broker = Broker(GroupLimits(tick_ms=1, group_min_session_timeout_ms=5,
                                group_initial_rebalance_delay_ms=3))
    joins = [broker.join(), broker.join()]
    broker.tick(3)
    ids = [member_of(broker, t) for t in joins]
    leader = broker.reply(joins[0]).leader  # type: ignore[attr-defined]
    same = encode_assignment(TOPIC_PARTITIONS[:1])
    sync = broker.call("on_sync_group", SyncGroupRequest(
        group_id="g", generation_id=1, member_id=leader,
        assignments=tuple(SyncGroupAssignment(member_id=m, assignment=same) for m in ids)))
    assert broker.reply(sync).error_code is ErrorCode.INVALID_REQUEST  # type: ignore
    assert broker.state() is GroupState.PREPARING_REBALANCE


def test_an_empty_group_with_no_offsets_is_removed_when_its_last_member_leaves():
    broker = Broker()
    join = broker.join()
    broker.call("on_leave_group", LeaveGroupRequest(group_id="g",
                                                    member_id=member_of(broker, join)))
    assert "g" not in broker.coord.groups
    assert broker.log[0][-1] == (group_key("g"), None)


# --- offsets --------------------------------------------------------------------------


def test_a_standalone_consumer_commits_without_a_generation_to_an_empty_group():
    broker = Broker()
    commit = broker.commit({TOPIC_PARTITIONS[0]: 42})
    assert [p.error_code for p in broker.reply(commit).partitions] == [ErrorCode.NONE]  # type: ignore
    assert broker.fetch() == {TOPIC_PARTITIONS[0]: 42}
    assert broker.state() is GroupState.EMPTY


def test_commits_with_a_stale_generation_or_unknown_member_are_refused():
    broker, members, generation = stable_group_of_three()
    cases = {(generation - 1, members[0]): ErrorCode.ILLEGAL_GENERATION,
             (generation, "stranger"): ErrorCode.UNKNOWN_MEMBER_ID,
             (-1, ""): ErrorCode.UNKNOWN_MEMBER_ID,
             (generation, members[0]): ErrorCode.NONE}
    for (gen, member), expected in cases.items():
        reply = broker.reply(broker.commit({TOPIC_PARTITIONS[0]: 7}, gen, member))
        assert [p.error_code for p in reply.partitions] == [expected], (gen, member)  # type: ignore
    assert broker.fetch() == {TOPIC_PARTITIONS[0]: 7}


def test_a_commit_is_acknowledged_and_visible_only_once_the_log_accepted_it():
    broker = Broker()
    broker.hold_appends = True
    commit = broker.commit({TOPIC_PARTITIONS[1]: 5})
    assert broker.reply(commit) is None and broker.fetch() == {}
    broker.finish(broker.held.pop(), ErrorCode.NONE)
    assert broker.reply(commit).partitions[0].error_code is ErrorCode.NONE  # type: ignore
    assert broker.fetch() == {TOPIC_PARTITIONS[1]: 5}
    failed = broker.commit({TOPIC_PARTITIONS[1]: 9})
    broker.finish(broker.held.pop(), ErrorCode.NOT_ENOUGH_REPLICAS)
    reply = broker.reply(failed)
    assert reply.partitions[0].error_code is ErrorCode.COORDINATOR_NOT_AVAILABLE  # type: ignore
    assert broker.fetch() == {TOPIC_PARTITIONS[1]: 5}


def test_per_partition_errors_for_invalid_offsets_and_oversized_metadata():
    broker = Broker(GroupLimits(tick_ms=1, group_min_session_timeout_ms=5,
                                offset_metadata_max_bytes=3))
    reply = broker.reply(broker.call("on_offset_commit", OffsetCommitRequest(
        group_id="g", offsets=(
            OffsetCommitPartition(topic="t", partition=0, offset=1),
            OffsetCommitPartition(topic="t", partition=1, offset=-5),
            OffsetCommitPartition(topic="t", partition=2, offset=1, metadata="toolong")))))
    assert [p.error_code for p in reply.partitions] == [  # type: ignore[attr-defined]
        ErrorCode.NONE, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]


def test_a_new_coordinator_rebuilds_offsets_and_groups_by_replaying_the_log():
    broker, members, generation = stable_group_of_three()
    broker.commit({TOPIC_PARTITIONS[0]: 1, TOPIC_PARTITIONS[1]: 2}, generation, members[0])
    broker.commit({TOPIC_PARTITIONS[0]: 10}, generation, members[1])
    broker.commit({TOPIC_PARTITIONS[3]: 3}, group="other")
    before = broker.coord.groups["g"]
    successor = Broker(log=broker.log, seed=1)
    assert successor.fetch() == {TOPIC_PARTITIONS[0]: 10, TOPIC_PARTITIONS[1]: 2}
    assert successor.fetch("other") == {TOPIC_PARTITIONS[3]: 3}
    after = successor.coord.groups["g"]
    assert after.state is GroupState.STABLE and after.generation_id == generation
    assert after.leader == before.leader and list(after.members) == list(before.members)
    assert {m: x.assignment for m, x in after.members.items()} == {
        m: x.assignment for m, x in before.members.items()}
    assert successor.heartbeat(members[2], generation) is ErrorCode.NONE


def test_replay_keeps_the_latest_value_per_key_and_a_tombstone_deletes():
    broker = Broker()
    broker.commit({TOPIC_PARTITIONS[0]: 1})
    broker.commit({TOPIC_PARTITIONS[0]: 2})
    key = broker.log[0][-1][0]
    log = {0: [*broker.log[0], (key, None)]}
    assert Broker(log=log).fetch() == {}
    assert Broker(log={0: list(broker.log[0])}).fetch() == {TOPIC_PARTITIONS[0]: 2}


# --- ownership, admin, limits ---------------------------------------------------------


def test_java_string_hash_and_the_offsets_partition_of_a_group():
    assert java_string_hash("abc") == 96354 and java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -(2 ** 31)
    assert offsets_partition_for("polygenelubricants", 50) == 0  # Utils.abs(MIN_VALUE) == 0
    assert offsets_partition_for("abc", 50) == 96354 % 50


def test_groups_of_partitions_this_broker_does_not_lead_get_not_coordinator():
    broker = Broker(partitions=2)
    mine = next(g for g in map(str, range(100)) if offsets_partition_for(g, 2) == 0)
    theirs = next(g for g in map(str, range(100)) if offsets_partition_for(g, 2) == 1)
    held = broker.join(group=mine)
    broker.run(broker.coord.unload(1))
    assert broker.reply(broker.join(group=theirs)).error_code is ErrorCode.NOT_COORDINATOR  # type: ignore
    assert broker.reply(held).error_code is ErrorCode.NONE  # type: ignore[attr-defined]


def test_unloading_answers_held_requests_with_not_coordinator():
    broker = Broker(GroupLimits(tick_ms=1, group_min_session_timeout_ms=5,
                                group_initial_rebalance_delay_ms=50))
    held = broker.join()
    broker.hold_appends = True
    commit = broker.commit({TOPIC_PARTITIONS[0]: 1}, group="solo")
    broker.run(broker.coord.unload(0))
    assert broker.reply(held).error_code is ErrorCode.NOT_COORDINATOR  # type: ignore
    assert broker.reply(commit).partitions[0].error_code is ErrorCode.NOT_COORDINATOR  # type: ignore
    assert broker.coord.groups == {}


def test_describe_and_list_groups():
    broker, members, generation = stable_group_of_three()
    broker.commit({TOPIC_PARTITIONS[0]: 1}, group="standalone")
    described = broker.reply(broker.call("on_describe_groups", DescribeGroupsRequest(
        group_ids=("g", "nope")))).groups  # type: ignore[attr-defined]
    g, nope = described
    assert g.state is GroupState.STABLE and g.generation_id == generation
    assert g.protocol_name == "range" and sorted(m.member_id for m in g.members) == sorted(members)
    assert decode_subscription(g.members[0].metadata).topics == ("t",)
    assert sorted(tp for m in g.members for tp in decode_assignment(m.assignment)) == \
        TOPIC_PARTITIONS
    assert nope.state is GroupState.DEAD and nope.members == ()
    listed = broker.reply(broker.call("on_list_groups", ListGroupsRequest())).groups  # type: ignore
    assert [(x.group_id, x.state) for x in listed] == [
        ("g", GroupState.STABLE), ("standalone", GroupState.EMPTY)]
    only_empty = broker.reply(broker.call("on_list_groups", ListGroupsRequest(
        states_filter=(GroupState.EMPTY,)))).groups  # type: ignore[attr-defined]
    assert [x.group_id for x in only_empty] == ["standalone"]


def test_group_size_and_group_count_are_bounded():
    broker = Broker(GroupLimits(tick_ms=1, group_min_session_timeout_ms=5, group_max_size=2,
                                groups_max=2, group_initial_rebalance_delay_ms=5))
    broker.join()
    broker.join()
    assert broker.reply(broker.join()).error_code is ErrorCode.INVALID_REQUEST  # type: ignore
    broker.join(group="second")
    third = broker.join(group="third")
    assert broker.reply(third).error_code is ErrorCode.COORDINATOR_NOT_AVAILABLE  # type: ignore


def test_limits_validate_their_relations():
    with pytest.raises(ValueError, match="group_min_session_timeout_ms"):
        GroupLimits(group_min_session_timeout_ms=10, group_max_session_timeout_ms=5).validate()


# --- random schedules -----------------------------------------------------------------


def test_random_schedules_keep_the_invariants(sim_seeds):
    """Seeded random joins, syncs, heartbeats, leaves, commits, failed appends and ticks;
    the coordinator's invariants are checked after every step by the harness."""
    for seed in sim_seeds(20):
        rng = random.Random(seed)
        broker = Broker(GroupLimits(tick_ms=1, group_min_session_timeout_ms=5,
                                    group_initial_rebalance_delay_ms=rng.choice([0, 4])),
                        seed=seed)
        known: list[str] = []
        for _ in range(400):
            step_randomly(broker, rng, known)
        for _ in range(3 * REBALANCE):
            broker.tick()
        for held in list(broker.held):
            broker.held.remove(held)
            broker.finish(held, ErrorCode.NONE)
        group = broker.coord.groups.get("g")
        assert group is None or not any(m.join_waiter for m in group.members.values()), seed


def step_randomly(broker: Broker, rng: random.Random, known: list[str]) -> None:
    group = broker.coord.groups.get("g")
    member = rng.choice(known) if known and rng.random() < 0.8 else ""
    generation = group.generation_id if group is not None else -1
    generation -= rng.random() < 0.1
    action = rng.randrange(7)
    broker.hold_appends = rng.random() < 0.3
    if action == 0:
        token = broker.join(member)
        reply = broker.reply(token)
        if reply is not None and reply.member_id and reply.member_id not in known:  # type: ignore
            known.append(reply.member_id)  # type: ignore[attr-defined]
    elif action == 1 and group is not None:
        parts = rng.sample(TOPIC_PARTITIONS, 2)
        broker.call("on_sync_group", SyncGroupRequest(
            group_id="g", generation_id=generation, member_id=member, assignments=tuple(
                SyncGroupAssignment(member_id=m, assignment=encode_assignment([p]))
                for m, p in zip(list(group.members)[:2], parts, strict=False))))
    elif action == 2:
        broker.heartbeat(member, generation)
    elif action == 3 and rng.random() < 0.3:
        broker.call("on_leave_group", LeaveGroupRequest(group_id="g", member_id=member))
    elif action == 4:
        broker.commit({rng.choice(TOPIC_PARTITIONS): rng.randrange(100)}, generation, member)
    elif action == 5 and broker.held:
        held = broker.held.pop(rng.randrange(len(broker.held)))
        broker.finish(held, rng.choice([ErrorCode.NONE, ErrorCode.NOT_ENOUGH_REPLICAS]))
    else:
        broker.tick(rng.randrange(1, 10))


def test_a_commit_in_flight_survives_its_group_emptying_before_the_append_completes():
    broker = Broker()
    join = broker.join()
    member, gen = member_of(broker, join), gen_of(broker, join)
    broker.call("on_sync_group", SyncGroupRequest(group_id="g", generation_id=gen,
                                                  member_id=member))
    broker.hold_appends = True
    commit = broker.commit({TOPIC_PARTITIONS[2]: 8}, gen, member)
    broker.call("on_leave_group", LeaveGroupRequest(group_id="g", member_id=member))
    assert "g" not in broker.coord.groups
    for held in list(broker.held):
        broker.finish(held, ErrorCode.NONE)
    assert broker.reply(commit).partitions[0].error_code is ErrorCode.NONE  # type: ignore
    assert broker.fetch() == {TOPIC_PARTITIONS[2]: 8}
    assert Broker(log=broker.log).fetch() == {TOPIC_PARTITIONS[2]: 8}


def test_delete_groups_removes_an_empty_group_and_its_offsets_once_the_log_accepts():
    broker, members, _ = stable_group_of_three()
    broker.commit({TOPIC_PARTITIONS[0]: 5}, group="idle")
    f = broker.call("on_delete_groups", DeleteGroupsRequest(group_ids=("idle", "g", "nope")))
    results = broker.reply(f).results  # type: ignore[attr-defined]
    assert [(r.group_id, r.error_code) for r in results] == [
        ("idle", ErrorCode.NONE), ("g", ErrorCode.NON_EMPTY_GROUP),
        ("nope", ErrorCode.GROUP_ID_NOT_FOUND)]
    assert "idle" not in broker.coord.groups
    rebuilt = Broker(log=broker.log)
    assert "idle" not in rebuilt.coord.groups, "tombstones delete the group on replay"
    assert "g" in rebuilt.coord.groups
