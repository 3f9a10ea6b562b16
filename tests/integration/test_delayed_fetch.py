"""A fetch over many partitions that finds too little waits at the broker (Kafka's delayed
fetch): no call is parked at the replicas while it waits, it is answered as soon as a
partition it asked for has data, and at ``max_wait_ms`` with what it has otherwise."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from zafka.client.admin import Admin
from zafka.core.messages import (
    BrokerStatus,
    FetchPartition,
    FetchRequest,
    FetchResponse,
    StatusRequest,
)
from zafka.storage.records import decode_batches

from tests.integration.wire import RawProducer, wait_until
from zafka.launcher import Cluster

PARTITIONS = 40


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One broker leading every partition of "wide" (forty partitions, no followers)."""
    from tests.conftest import FAST_TUNABLES

    with Cluster(brokers=1, coordinators=1, tunables=dict(FAST_TUNABLES),
                 data_dir=tmp_path_factory.mktemp("delayed")) as cluster:
        with Admin(str(cluster.cluster_file_path)) as admin:
            admin.create_topic("wide", partitions=PARTITIONS, replication_factor=1)
            wait_until(lambda: all(p.leader == 1 for p in admin.describe_topic("wide").partitions)
                       and broker_status(cluster).replicas >= PARTITIONS,
                       what="every replica started")
        yield cluster


def broker_status(cluster: Cluster) -> BrokerStatus:
    status = cluster.ref("broker-1", "broker").ask(StatusRequest(), 5).result().broker
    assert status is not None
    return status


def wide_fetch(ends: dict[int, int], *, max_wait_ms: int, min_bytes: int = 1) -> FetchRequest:
    return FetchRequest(replica_id=-1, max_wait_ms=max_wait_ms, min_bytes=min_bytes,
                        max_bytes=1 << 20, partitions=tuple(
                            FetchPartition(topic="wide", partition=p, fetch_offset=ends[p],
                                           partition_max_bytes=1 << 20)
                            for p in range(PARTITIONS)))


def ends_now(cluster: Cluster) -> dict[int, int]:
    with Admin(str(cluster.cluster_file_path)) as admin:
        return {p.partition: p.high_watermark for p in admin.describe_topic("wide").partitions}


def values(reply: FetchResponse) -> dict[int, list[bytes]]:
    return {part.partition: [r.value for r in decode_batches(part.records)]
            for part in reply.partitions if len(part.records)}


def test_a_held_fetch_parks_nothing_at_the_replicas_and_wakes_on_data(one: Cluster) -> None:
    fetch = one.ref("broker-1", "broker").ask(wide_fetch(ends_now(one), max_wait_ms=30_000),
                                               40)
    wait_until(lambda: broker_status(one).fetches_held == 1, what="the fetch held")
    status = broker_status(one)
    assert status.calls_in_flight == 0, "waiting costs no call per partition"
    assert not fetch.done()
    with Admin(str(one.cluster_file_path)) as admin:
        RawProducer(one, admin, "wide").send(17, [b"wake"])
    reply = fetch.result(timeout=20)  # long before the 30 s wait: the append woke it
    assert values(reply) == {17: [b"wake"]}
    assert broker_status(one).fetches_held == 0


def test_a_fetch_that_finds_nothing_is_answered_empty_at_max_wait(one: Cluster) -> None:
    started = time.monotonic()
    reply = one.ref("broker-1", "broker").ask(wide_fetch(ends_now(one), max_wait_ms=500),
                                               20).result()
    assert time.monotonic() - started >= 0.4  # (ticks of 10 ms)
    assert len(reply.partitions) == PARTITIONS and values(reply) == {}
    assert all(part.error == 0 for part in reply.partitions)


def test_min_bytes_keeps_a_fetch_waiting_for_more_and_max_wait_answers_what_it_has(
        one: Cluster) -> None:
    ends = ends_now(one)
    fetch = one.ref("broker-1", "broker").ask(
        wide_fetch(ends, max_wait_ms=2_000, min_bytes=1 << 20), 20)
    wait_until(lambda: broker_status(one).fetches_held == 1, what="the fetch held")
    with Admin(str(one.cluster_file_path)) as admin:
        producer = RawProducer(one, admin, "wide")
        producer.send(3, [b"a"])
        producer.send(29, [b"b"])
    reply = fetch.result(timeout=20)
    assert values(reply) == {3: [b"a"], 29: [b"b"]}, "both records, answered at max_wait"


def test_many_waiting_fetches_are_each_answered_once(one: Cluster) -> None:
    ends = ends_now(one)
    broker = one.ref("broker-1", "broker")
    fetches = [broker.ask(wide_fetch(ends, max_wait_ms=30_000), 40) for _ in range(10)]
    wait_until(lambda: broker_status(one).fetches_held == 10, what="ten fetches held")
    with Admin(str(one.cluster_file_path)) as admin:
        RawProducer(one, admin, "wide").send(5, [b"x"])
    replies = [f.result(timeout=20) for f in fetches]
    assert all(values(r) == {5: [b"x"]} for r in replies)
    assert broker_status(one).fetches_held == 0


def test_an_unchanged_partition_is_answered_without_asking_its_replica(one: Cluster) -> None:
    broker = one.ref("broker-1", "broker")
    ends = ends_now(one)

    def unchanged() -> int:
        return int(broker_status(one).fetch_partitions_answered_unchanged)

    broker.ask(wide_fetch(ends, max_wait_ms=0), 20).result()
    before = unchanged()
    assert values(broker.ask(wide_fetch(ends, max_wait_ms=0), 20).result()) == {}
    assert unchanged() - before == PARTITIONS, "nothing changed: no replica was asked"
    with Admin(str(one.cluster_file_path)) as admin:
        RawProducer(one, admin, "wide").send(11, [b"new"])
    before = unchanged()
    reply = broker.ask(wide_fetch(ends, max_wait_ms=0), 20).result()
    assert values(reply) == {11: [b"new"]}
    assert unchanged() - before == PARTITIONS - 1, "only the partition that changed was asked"
