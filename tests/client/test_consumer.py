"""Consumer without groups, against a real cluster: assignment, positions, seeks, pipelined
fetches, offset resets, pause/resume, deserializers, iteration, errors and close."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pykka
import pytest
from zafka.client.admin import Admin, ClientClosed
from zafka.client.consumer import Consumer, TopicPartition
from zafka.client.consumer_commands import Poll, PollResult
from zafka.client.consumer_config import NoOffsetForPartition
from zafka.client.serializers import SerializationError
from zafka.core.errors import ErrorCode, OffsetOutOfRange, UnknownTopicOrPartition
from zafka.core.messages import ProducePartitionData, ProduceRequest
from zafka.storage.records import Record, encode_batch

from zafka.launcher import Cluster


class Fixture:
    """One cluster for the module, with helpers to create topics and produce raw batches."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.path = str(cluster.cluster_file_path)
        self.admin = Admin(self.path)

    def topic(self, name: str, partitions: int = 3) -> str:
        """Create ``name`` and wait until every replica of every partition is in sync."""
        self.admin.create_topic(name, partitions, 3)
        deadline = time.monotonic() + 10
        while any(len(p.isr) < 3 or p.leader < 0
                  for p in self.admin.describe_topic(name).partitions):
            assert time.monotonic() < deadline, f"{name} never got a full ISR"
            time.sleep(0.05)
        return name

    def produce(self, topic: str, partition: int, values: list[bytes],
                key: bytes | None = b"k") -> int:
        """Append ``values`` as one batch; returns the base offset.  Like a client, retries
        while the leader it was told of does not know it leads (yet, or any more)."""
        batch = encode_batch([Record(key=key, value=v, timestamp_ms=1_000 + i)
                              for i, v in enumerate(values)])
        request = ProduceRequest(acks=-1, timeout_ms=5000, partitions=(ProducePartitionData(
            topic=topic, partition=partition, records=memoryview(bytearray(batch))),))
        deadline = time.monotonic() + 15
        while True:
            leader = self.admin.describe_topic(topic).partitions[partition].leader
            reply = self.cluster.ref(f"broker-{leader}", "broker").ask(request, 10).result()
            retriable = (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NOT_LEADER_OR_FOLLOWER)
            if reply.partitions[0].error not in retriable or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert reply.partitions[0].error == 0, reply
        return int(reply.partitions[0].base_offset)

    def consumer(self, **options: object) -> Consumer:
        options.setdefault("auto_offset_reset", "earliest")
        return Consumer(cluster=self.path, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    with Cluster(brokers=3, coordinators=3, data_dir=tmp_path_factory.mktemp("consumer")) as c:
        fixture = Fixture(c)
        yield fixture
        fixture.admin.close()


def poll_until(consumer: Consumer, count: int, timeout_s: float = 10.0) -> list:
    records: list = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        records += consumer.poll(timeout_ms=200)
    return records


def test_assigned_partitions_are_read_in_offset_order_with_every_field(env: Fixture) -> None:
    topic = env.topic("ordered")
    for p in range(3):
        env.produce(topic, p, [b"%d-%d" % (p, i) for i in range(20)])
    with env.consumer() as consumer:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        assert consumer.assignment() == {TopicPartition(topic, p) for p in range(3)}
        records = poll_until(consumer, 60)
    assert len(records) == 60
    for p in range(3):
        mine = [r for r in records if r.partition == p]
        assert [r.offset for r in mine] == list(range(20))
        assert [r.value for r in mine] == [b"%d-%d" % (p, i) for i in range(20)]
    first = records[0]
    assert first.topic == topic and first.key == b"k" and first.headers == ()
    assert first.timestamp == 1_000 + first.offset


def test_max_records_bounds_each_poll(env: Fixture) -> None:
    topic = env.topic("bounded", 1)
    env.produce(topic, 0, [b"x"] * 50)
    with env.consumer(max_poll_records=7) as consumer:
        consumer.assign([TopicPartition(topic, 0)])
        sizes = []
        while sum(sizes) < 50:
            batch = consumer.poll(timeout_ms=2000)
            assert batch, "records stopped arriving"
            sizes.append(len(batch))
        assert max(sizes) <= 7
        assert len(consumer.poll(timeout_ms=500, max_records=3)) == 0
        consumer.seek(TopicPartition(topic, 0), 0)
        assert len(consumer.poll(timeout_ms=2000, max_records=3)) == 3


def test_seek_inside_a_batch_drops_records_below_the_position(env: Fixture) -> None:
    topic = env.topic("seeking", 1)
    tp = TopicPartition(topic, 0)
    env.produce(topic, 0, [b"v%d" % i for i in range(30)])
    with env.consumer() as consumer:
        consumer.assign([tp])
        consumer.seek(tp, 17)
        assert consumer.position(tp) == 17
        records = poll_until(consumer, 13)
        assert [r.offset for r in records] == list(range(17, 30))
        assert consumer.position(tp) == 30
        consumer.seek_to_beginning(tp)
        assert consumer.position(tp) == 0
        consumer.seek_to_end()
        assert consumer.position(tp) == 30
        assert consumer.beginning_offsets([tp]) == {tp: 0}
        assert consumer.end_offsets([tp]) == {tp: 30}


def test_latest_reset_reads_only_records_appended_after_it(env: Fixture) -> None:
    topic = env.topic("latest", 1)
    tp = TopicPartition(topic, 0)
    env.produce(topic, 0, [b"old"] * 5)
    with env.consumer(auto_offset_reset="latest") as consumer:
        consumer.assign([tp])
        assert consumer.position(tp) == 5
        env.produce(topic, 0, [b"new"] * 3)
        records = poll_until(consumer, 3)
    assert [(r.offset, r.value) for r in records] == [(5, b"new"), (6, b"new"), (7, b"new")]


def test_a_fetch_returns_as_soon_as_any_partition_has_data(env: Fixture) -> None:
    """Pipelined long-poll fetches: idle partitions do not hold back one that has data, even
    with a fetch_max_wait_ms far above the poll timeout."""
    topic = env.topic("pipelined", 6)
    with env.consumer(fetch_max_wait_ms=20_000, request_timeout_ms=40_000) as consumer:
        consumer.assign([TopicPartition(topic, p) for p in range(6)])
        assert consumer.poll(timeout_ms=300) == []
        for p in (4, 1):
            env.produce(topic, p, [b"late-%d" % p])
            records = poll_until(consumer, 1, timeout_s=3.0)
            assert [(r.partition, r.value) for r in records] == [(p, b"late-%d" % p)]


def test_paused_partitions_are_not_returned_until_resumed(env: Fixture) -> None:
    topic = env.topic("pausing", 2)
    a, b = TopicPartition(topic, 0), TopicPartition(topic, 1)
    env.produce(topic, 0, [b"a"] * 5)
    env.produce(topic, 1, [b"b"] * 5)
    with env.consumer() as consumer:
        consumer.assign([a, b])
        consumer.pause(a)
        assert consumer.paused() == {a}
        records = poll_until(consumer, 5)
        time.sleep(0.3)
        records += consumer.poll(timeout_ms=300)
        assert {r.partition for r in records} == {1} and len(records) == 5
        consumer.resume(a)
        assert consumer.paused() == set()
        records = poll_until(consumer, 5)
        assert [(r.partition, r.offset) for r in records] == [(0, i) for i in range(5)]


def test_offset_reset_none_raises_until_the_user_seeks(env: Fixture) -> None:
    topic = env.topic("strict", 1)
    tp = TopicPartition(topic, 0)
    env.produce(topic, 0, [b"x"] * 4)
    with env.consumer(auto_offset_reset="none") as consumer:
        consumer.assign([tp])
        with pytest.raises(NoOffsetForPartition):
            consumer.poll(timeout_ms=1000)
        consumer.seek(tp, 100)
        with pytest.raises(OffsetOutOfRange, match="out of range"):
            poll_until(consumer, 1, timeout_s=3.0)
        consumer.seek(tp, 1)
        assert [r.offset for r in poll_until(consumer, 3)] == [1, 2, 3]


def test_an_out_of_range_position_resets_to_earliest(env: Fixture) -> None:
    topic = env.topic("resetting", 1)
    tp = TopicPartition(topic, 0)
    env.produce(topic, 0, [b"x"] * 4)
    with env.consumer(auto_offset_reset="earliest") as consumer:
        consumer.assign([tp])
        consumer.seek(tp, 1_000)
        assert [r.offset for r in poll_until(consumer, 4)] == [0, 1, 2, 3]


def test_deserializers_and_a_bad_record_that_must_be_skipped(env: Fixture) -> None:
    topic = env.topic("typed", 1)
    tp = TopicPartition(topic, 0)
    env.produce(topic, 0, [b'{"n": 1}', b"not json", b'{"n": 3}'], key=b"alice")
    with env.consumer(value_deserializer="json", key_deserializer="str") as consumer:
        consumer.assign([tp])
        records = poll_until(consumer, 1)
        assert [(r.key, r.value) for r in records] == [("alice", {"n": 1})]
        with pytest.raises(SerializationError, match="@1"):
            consumer.poll(timeout_ms=1000)
        assert consumer.position(tp) == 1
        consumer.seek(tp, 2)
        assert [r.value for r in poll_until(consumer, 1)] == [{"n": 3}]
    with env.consumer(value_deserializer=lambda b: bytes(b).upper()) as consumer:
        consumer.assign([tp])
        assert poll_until(consumer, 1)[0].value == b'{"N": 1}'


def test_iteration_ends_after_consumer_timeout(env: Fixture) -> None:
    topic = env.topic("iterated", 2)
    env.produce(topic, 0, [b"a"] * 3)
    env.produce(topic, 1, [b"b"] * 4)
    with env.consumer(consumer_timeout_ms=1500) as consumer:
        consumer.subscribe([topic])
        assert consumer.subscription() == {topic}
        started = time.monotonic()
        values = sorted(r.value for r in consumer)
        assert time.monotonic() - started >= 1.5
        assert values == [b"a"] * 3 + [b"b"] * 4
        assert consumer.assignment() == {TopicPartition(topic, 0), TopicPartition(topic, 1)}


def test_pattern_subscription_without_a_group_reads_every_matching_topic(env: Fixture) -> None:
    for name in ("metrics.cpu", "metrics.disk", "logs.app"):
        env.topic(name, 1)
        env.produce(name, 0, [name.encode()])
    with env.consumer() as consumer:
        consumer.subscribe(pattern=r"metrics\..*")
        records = poll_until(consumer, 2)
        assert sorted(r.value for r in records) == [b"metrics.cpu", b"metrics.disk"]
        assert consumer.subscription() == {"metrics.cpu", "metrics.disk"}
        assert {"metrics.cpu", "logs.app"} <= consumer.topics()
        assert consumer.partitions_for_topic("metrics.cpu") == {0}
        assert consumer.partitions_for_topic("absent") is None


def test_unknown_topics_and_partitions_are_clear_errors(env: Fixture) -> None:
    with env.consumer() as consumer:
        consumer.assign([TopicPartition("no-such-topic", 0)])
        with pytest.raises(UnknownTopicOrPartition, match="no-such-topic"):
            poll_until(consumer, 1, timeout_s=6.0)
    topic = env.topic("small", 1)
    with env.consumer() as consumer:
        consumer.assign([TopicPartition(topic, 5)])
        with pytest.raises(UnknownTopicOrPartition, match="no partition 5"):
            poll_until(consumer, 1, timeout_s=6.0)
    with env.consumer() as consumer:
        consumer.subscribe(["never-created"])
        with pytest.raises(UnknownTopicOrPartition, match="never-created"):
            poll_until(consumer, 1, timeout_s=6.0)


def test_use_after_close_is_a_clear_error(env: Fixture) -> None:
    consumer = env.consumer()
    consumer.close()
    consumer.close()
    with pytest.raises(ClientClosed):
        consumer.poll()
    with pytest.raises(ClientClosed):
        consumer.assign([TopicPartition("x", 0)])


def test_misuse_is_refused_with_a_reason(env: Fixture) -> None:
    topic = env.topic("misuse", 1)
    with pytest.raises(TypeError, match="unknown Consumer option"):
        env.consumer(bootstrap_servers="localhost:9092")
    with pytest.raises(ValueError, match="auto_offset_reset"):
        env.consumer(auto_offset_reset="sometimes")
    with env.consumer() as consumer:
        with pytest.raises(Exception, match="subscribe\\(\\) or assign\\(\\)"):
            consumer.poll()
        consumer.subscribe([topic])
        with pytest.raises(Exception, match="unsubscribe"):
            consumer.assign([TopicPartition(topic, 0)])
        with pytest.raises(Exception, match="not assigned"):
            consumer.seek(TopicPartition(topic, 3), 0)
        with pytest.raises(Exception, match="group_id"):
            consumer.commit({TopicPartition(topic, 0): 1})


def test_a_crashed_consumer_reports_its_own_failure_and_no_other(env: Fixture) -> None:
    """Regression: the failure was kept on the actor class, so every consumer of the process
    reported the first crash as its own."""
    with env.consumer() as crashed, env.consumer() as stopped:
        crashed.actor_ref.tell(object())  # no handler for it: the actor fails
        stopped.actor_ref.stop()  # stopped cleanly, without a failure
        deadline = time.monotonic() + 10
        while crashed.actor_ref.is_alive():
            assert time.monotonic() < deadline, "the consumer actor did not stop"
            time.sleep(0.01)
        while True:  # pykka stops the actor a moment before its failure is recorded
            with pytest.raises(ClientClosed) as crash:
                crashed.assign([TopicPartition("x", 0)])
            if "cannot handle object" in str(crash.value) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert "cannot handle object" in str(crash.value)
        with pytest.raises(ClientClosed) as refused:
            stopped.assign([TopicPartition("x", 0)])
        assert str(refused.value) == "the consumer actor stopped"


class Relay(pykka.ThreadingActor):
    """A user's actor that polls the consumer through its ref without ever blocking."""

    def __init__(self, consumer_ref: pykka.ActorRef[object], inbox: list) -> None:
        super().__init__()
        self.consumer_ref = consumer_ref
        self.inbox = inbox

    def on_receive(self, message: object) -> None:
        if message == "poll":
            reply: Future[PollResult] = Future()
            reply.add_done_callback(lambda f: self.actor_ref.tell(f.result()))
            self.consumer_ref.tell(Poll(reply=reply, timeout_ms=200, max_records=100))
        elif isinstance(message, PollResult):
            self.inbox.extend(message.records)
            if len(self.inbox) < 5:
                self.actor_ref.tell("poll")


def test_the_consumer_ref_serves_the_users_own_actors(env: Fixture, tmp_path: Path) -> None:
    topic = env.topic("relayed", 1)
    env.produce(topic, 0, [b"r%d" % i for i in range(5)])
    inbox: list = []
    with env.consumer() as consumer:
        consumer.assign([TopicPartition(topic, 0)])
        relay = Relay.start(consumer.actor_ref, inbox)
        relay.tell("poll")
        deadline = time.monotonic() + 10
        while len(inbox) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        relay.stop()
    assert [r.value for r in inbox] == [b"r%d" % i for i in range(5)]


def test_consumption_continues_across_a_leader_failover(env: Fixture) -> None:
    topic = env.topic("failover", 1)
    tp = TopicPartition(topic, 0)
    env.produce(topic, 0, [b"before"] * 10)
    with env.consumer() as consumer:
        consumer.assign([tp])
        assert len(poll_until(consumer, 10)) == 10
        leader = env.admin.describe_topic(topic).partitions[0].leader
        env.cluster.kill(f"broker-{leader}")
        try:
            deadline = time.monotonic() + 15
            while env.admin.describe_topic(topic).partitions[0].leader in (leader, -1):
                assert time.monotonic() < deadline, "no new leader"
                time.sleep(0.1)
            env.produce(topic, 0, [b"after"] * 5)
            records = poll_until(consumer, 5, timeout_s=15)
        finally:
            env.cluster.restart(f"broker-{leader}")
    assert [(r.offset, r.value) for r in records] == [(10 + i, b"after") for i in range(5)]
