"""Consumer groups against a real cluster: assignment across members, rebalances on join,
leave and session timeout (a SIGKILLed member in a child process), rebalance callbacks,
committed offsets kept by the coordinator, and commits from a stale generation refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from zafka.client.consumer import Consumer, TopicPartition
from zafka.client.consumer_config import CommitFailed

from tests.client.test_consumer import Fixture
from tests.conftest import FAST_TUNABLES
from zafka.launcher import Cluster

SESSION_MS = 2_000
GROUP_OPTIONS = dict(auto_offset_reset="earliest", session_timeout_ms=SESSION_MS,
                     heartbeat_interval_ms=300, max_poll_records=20)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    with Cluster(brokers=3, coordinators=3, tunables=dict(FAST_TUNABLES),
                 data_dir=tmp_path_factory.mktemp("groups")) as cluster:
        fixture = Fixture(cluster)
        yield fixture
        fixture.admin.close()


class Member(threading.Thread):
    """A group member polling in its own thread, recording records and callbacks."""

    def __init__(self, env: Fixture, group: str, topic: str, *,
                 on_revoke: Callable[[Consumer, list[TopicPartition]], None] | None = None,
                 **options: object) -> None:
        super().__init__(daemon=True)
        self.events: list[tuple[str, list[TopicPartition]]] = []
        self.records: list = []
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self.user_on_revoke = on_revoke
        merged = {**GROUP_OPTIONS, **options}
        self.consumer = Consumer(topic, cluster=env.path, group_id=group,
                                 on_assign=self.assigned, on_revoke=self.revoked,
                                 **merged)  # type: ignore[arg-type]

    def assigned(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("assign", partitions))

    def revoked(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("revoke", partitions))
        if self.user_on_revoke is not None:
            self.user_on_revoke(self.consumer, partitions)

    def owned(self) -> set[TopicPartition]:
        owned: set[TopicPartition] = set()
        for kind, partitions in self.events:
            owned = owned - set(partitions) if kind == "revoke" else owned | set(partitions)
        return owned

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.records += self.consumer.poll(timeout_ms=100)
        except BaseException as error:  # surfaced by the test through .errors
            self.errors.append(error)

    def stop(self, close: bool = True) -> None:
        self.stopping.set()
        self.join(timeout=10)
        if close:
            self.consumer.close()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until ``condition`` held (the budget is tripled: shared CI machines are
    slow)."""
    timeout_s *= 3
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def balanced(members: list[Member], partitions: set[TopicPartition]) -> bool:
    owned = [m.owned() for m in members]
    return sum(len(o) for o in owned) == len(partitions) and set().union(*owned) == partitions


def test_three_members_split_six_partitions_completely_and_without_overlap(
        env: Fixture) -> None:
    topic = env.topic("split", 6)
    everything = {TopicPartition(topic, p) for p in range(6)}
    members = [Member(env, "splitters", topic) for _ in range(3)]
    for member in members:
        member.start()
    try:
        wait_for(lambda: balanced(members, everything) and
                 all(len(m.owned()) == 2 for m in members), 20, "a balanced assignment")
        for member in members:
            assert member.consumer.assignment() == member.owned()
        for p in range(6):
            env.produce(topic, p, [b"%d" % i for i in range(10)])
        wait_for(lambda: sum(len(m.records) for m in members) >= 60, 15, "every record")
        time.sleep(0.3)
        seen = {(r.partition, r.offset) for m in members for r in m.records}
        assert seen == {(p, i) for p in range(6) for i in range(10)}
        for member in members:
            assert {TopicPartition(topic, r.partition) for r in member.records} <= member.owned()
            assert not member.errors
    finally:
        for member in members:
            member.stop()


def test_a_member_that_leaves_hands_over_its_partitions_and_commits(env: Fixture) -> None:
    topic = env.topic("handover", 4)
    everything = {TopicPartition(topic, p) for p in range(4)}

    def commit_on_revoke(consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.commit()  # the generation is still valid inside on_revoke

    first = Member(env, "handover", topic, on_revoke=commit_on_revoke,
                   enable_auto_commit=False)
    first.start()
    wait_for(lambda: first.owned() == everything, 15, "the first member to own everything")
    for p in range(4):
        env.produce(topic, p, [b"early"] * 5)
    wait_for(lambda: len(first.records) >= 20, 10, "the early records")
    second = Member(env, "handover", topic)
    second.start()
    try:
        wait_for(lambda: balanced([first, second], everything) and len(second.owned()) == 2,
                 20, "a rebalance on join")
        assert first.events[:2] == [("assign", sorted(everything)),
                                    ("revoke", sorted(everything))]
        assert not first.errors
        first.stop()
        wait_for(lambda: second.owned() == everything, 10, "a rebalance on leave")
        for p in range(4):
            env.produce(topic, p, [b"late"] * 5)
        wait_for(lambda: sum(r.value == b"late" for r in second.records) >= 20, 10,
                 "the late records")
        early_again = [r for r in second.records if r.value == b"early"]
        assert early_again == [], "records committed in on_revoke were consumed again"
    finally:
        second.stop()


CHILD = """
import sys, time
from zafka.client.consumer import Consumer
consumer = Consumer(sys.argv[2], cluster=sys.argv[1], group_id=sys.argv[3],
                    auto_offset_reset="earliest", enable_auto_commit=False,
                    session_timeout_ms=int(sys.argv[4]), heartbeat_interval_ms=300,
                    max_poll_records=3)
while True:
    records = consumer.poll(timeout_ms=100)
    for r in records:
        print(r.partition, r.offset, flush=True)
    if records:
        consumer.commit()
        print("committed", flush=True)
    time.sleep(0.05)
"""


def test_a_killed_member_is_replaced_within_the_session_timeout_without_skipping(
        env: Fixture, tmp_path: Path) -> None:
    topic = env.topic("survivors", 6)
    everything = {TopicPartition(topic, p) for p in range(6)}
    for p in range(6):
        env.produce(topic, p, [b"%d" % i for i in range(40)])
    out = (tmp_path / "child.out").open("w+")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, env.path, topic, "survivors", str(SESSION_MS)],
        stdout=out, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    survivors: list[Member] = []
    try:
        wait_for(lambda: "committed" in Path(out.name).read_text(), 20, "the child to commit")
        survivors = [Member(env, "survivors", topic, max_poll_records=2) for _ in range(2)]
        for member in survivors:
            member.start()
        wait_for(lambda: sum(len(m.owned()) for m in survivors) == 4, 20,
                 "the survivors to get their share")
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        took = wait_for(lambda: balanced(survivors, everything), 20, "a takeover")
        assert took < SESSION_MS / 1000 + 10
        wait_for(lambda: len({(r.partition, r.offset) for m in survivors for r in m.records}
                             | consumed_by(out.name)) >= 240, 20, "every record")
        seen = {(r.partition, r.offset) for m in survivors for r in m.records}
        assert seen | consumed_by(out.name) == {(p, i) for p in range(6) for i in range(40)}
    finally:
        if child.poll() is None:
            child.kill()
        for member in survivors:
            member.stop()
        out.close()


def consumed_by(path: str) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in (line.split() for line in Path(path).read_text()
                                          .splitlines() if line and line[0].isdigit())}


def test_committed_offsets_outlive_the_members(env: Fixture) -> None:
    topic = env.topic("resume", 1)
    tp = TopicPartition(topic, 0)
    env.produce(topic, 0, [b"%d" % i for i in range(10)])
    with Consumer(topic, cluster=env.path, group_id="resumers",
                  **{**GROUP_OPTIONS, "max_poll_records": 4}) as consumer:  # type: ignore
        records: list = []
        while len(records) < 4:
            records += consumer.poll(timeout_ms=200)
        assert consumer.commit() == {tp: consumer.committed(tp, metadata=True)}
        assert consumer.committed(tp) == 4
    with Consumer(topic, cluster=env.path, group_id="resumers",
                  **GROUP_OPTIONS) as consumer:  # type: ignore
        records = []
        while len(records) < 6:
            records += consumer.poll(timeout_ms=200)
        assert [r.offset for r in records] == list(range(4, 10))


def test_a_commit_from_a_stale_generation_is_refused(env: Fixture) -> None:
    topic = env.topic("stale", 2)
    tp = TopicPartition(topic, 0)
    everything = {TopicPartition(topic, p) for p in range(2)}
    stale = Consumer(topic, cluster=env.path, group_id="stale", enable_auto_commit=False,
                     **{**GROUP_OPTIONS, "max_poll_interval_ms": 1_500})  # type: ignore
    fresh = Member(env, "stale", topic, enable_auto_commit=False)
    try:
        wait_for(lambda: (stale.poll(timeout_ms=100) is not None
                          and stale.assignment() == everything), 15, "the first generation")
        stale.commit({tp: 1})
        fresh.start()  # the group rebalances; ``stale`` does not poll, so it is dropped
        wait_for(lambda: fresh.owned() == everything, 20, "the second generation")
        fresh.consumer.commit({tp: 2})
        with pytest.raises(CommitFailed, match="generation"):
            stale.commit({tp: 7})
        assert fresh.consumer.committed(tp) == 2
        wait_for(lambda: (stale.poll(timeout_ms=100) is not None
                          and len(stale.assignment()) == 1), 20, "the stale member to rejoin")
    finally:
        fresh.stop()
        stale.close()


def test_cooperative_sticky_members_keep_what_they_own(env: Fixture) -> None:
    topic = env.topic("sticky", 4)
    everything = {TopicPartition(topic, p) for p in range(4)}
    options = dict(partition_assignment_strategy=["cooperative-sticky"])
    first = Member(env, "sticky", topic, **options)
    first.start()
    try:
        wait_for(lambda: first.owned() == everything, 15, "the first member to own all")
        second = Member(env, "sticky", topic, **options)
        second.start()
        wait_for(lambda: balanced([first, second], everything) and len(second.owned()) == 2,
                 20, "an incremental rebalance")
        revoked = [set(p) for kind, p in first.events if kind == "revoke"]
        assert revoked and all(r <= second.owned() for r in revoked), first.events
        second.stop()
    finally:
        first.stop()
