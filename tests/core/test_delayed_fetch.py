"""The broker's delayed fetch (core.delayed_fetch): held multi-partition fetches completed
from what the replicas announce, without asking them again; unchanged-partition answers
(KIP-227's leader side); deadlines in milliseconds; and the wake-up that came while the
first round was out (once lost, leaving a follower waiting for its fetch's deadline)."""

from __future__ import annotations

from zafka.core.delayed_fetch import DelayedFetches
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    FetchPartition,
    FetchPartitionResponse,
    FetchRequest,
    ReplicaDataReady,
)

FOLLOWER = 2
CONSUMER = -1


def request(replica_id: int = FOLLOWER, offsets: tuple[int, ...] = (10, 0), wait_ms: int = 500,
            epoch: int = -1) -> FetchRequest:
    return FetchRequest(replica_id=replica_id, max_wait_ms=wait_ms, min_bytes=1,
                        max_bytes=1 << 20, partitions=tuple(
                            FetchPartition(topic="t", partition=p, fetch_offset=offset,
                                           partition_max_bytes=1 << 16,
                                           current_leader_epoch=epoch)
                            for p, offset in enumerate(offsets)))


def empty(req: FetchRequest, hw: int = 10) -> list[FetchPartitionResponse]:
    return [FetchPartitionResponse(topic=p.topic, partition=p.partition, high_watermark=hw)
            for p in req.partitions]


def ready(partition: int = 0, *, epoch: int = 3, end: int = 10, hw: int = 10,
          appended: tuple[int, int, bytes] | None = None) -> ReplicaDataReady:
    start, stop, data = appended or (-1, -1, b"")
    return ReplicaDataReady(topic="t", partition=partition, leader_epoch=epoch,
                            log_start_offset=0, log_end_offset=end, high_watermark=hw,
                            appended_from=start, appended_to=stop, appended=data)


def hold(table: DelayedFetches, req: FetchRequest, now_ms: int = 0) -> int:
    versions = [table.version(("t", p.partition)) for p in req.partitions]
    fetch_id, effects = table.first_round(req, versions, empty(req), now_ms)
    assert not effects.answer and not effects.ask_again, "held: nothing to do yet"
    return fetch_id


def announced(partitions: int = 2) -> DelayedFetches:
    table = DelayedFetches()
    for partition in range(partitions):
        table.on_data_ready(ready(partition))
    return table


def test_a_held_follower_fetch_is_answered_from_the_append_announced_without_asking_again(
        ) -> None:
    table = announced()
    fetch_id = hold(table, request())
    effects = table.on_data_ready(ready(end=12, appended=(10, 12, b"two records")))
    assert effects.ask_again == [], "the announcement covers the fetch"
    [(answered, results)] = effects.answer
    assert answered == fetch_id and bytes(results[0].records) == b"two records"
    assert table.held == {} and table.answered_from_snapshot == 1
    table.invariants()


def test_a_high_watermark_that_moves_alone_refreshes_the_held_answer_and_keeps_waiting(
        ) -> None:
    table = announced()
    fetch_id = hold(table, request(offsets=(12, 0)))
    effects = table.on_data_ready(ready(end=12, hw=12))
    assert effects.answer == [] and effects.ask_again == []
    assert table.held[fetch_id].results[0].high_watermark == 12


def test_an_announcement_that_does_not_start_at_the_fetch_offset_asks_the_replica_again(
        ) -> None:
    table = announced()
    fetch_id = hold(table, request(offsets=(8, 0)))
    effects = table.on_data_ready(ready(end=12, appended=(10, 12, b"xx")))
    assert effects.answer == [] and effects.ask_again == [(fetch_id, 0)]


def test_a_new_leader_epoch_asks_the_replica_again() -> None:
    table = announced()
    fetch_id = hold(table, request())
    effects = table.on_data_ready(ready(epoch=4, end=12, appended=(10, 12, b"xx")))
    assert effects.ask_again == [(fetch_id, 0)], "fencing and divergence are the replica's"


def test_a_consumer_is_answered_once_the_high_watermark_passes_the_appended_batches() -> None:
    table = announced()
    fetch_id = hold(table, request(CONSUMER))
    appended = table.on_data_ready(ready(end=12, hw=10, appended=(10, 12, b"xx")))
    assert appended.answer == [] and appended.ask_again == [], "not committed yet"
    committed = table.on_data_ready(ready(end=12, hw=12))
    assert [(i, bytes(r[0].records)) for i, r in committed.answer] == [(fetch_id, b"xx")]


def test_data_announced_while_the_first_round_was_out_is_not_missed() -> None:
    """The once-lost wake-up: the replica answered empty, then announced an append before
    the other partitions answered; the fetch must not wait for its deadline."""
    table = announced()
    req = request()
    versions = [table.version(("t", p.partition)) for p in req.partitions]
    table.on_data_ready(ready(end=12, appended=(10, 12, b"xx")))  # nobody held yet
    fetch_id, effects = table.first_round(req, versions, empty(req), now_ms=0)
    assert effects.answer == [] and effects.ask_again == [(fetch_id, 0)]
    assert table.on_asked_again(fetch_id, 0, FetchPartitionResponse(
        topic="t", partition=0, records=b"xx")).answer


def test_a_held_fetch_is_answered_at_its_deadline_in_milliseconds() -> None:
    table = announced()
    fetch_id = hold(table, request(wait_ms=7), now_ms=1_000)
    assert table.next_deadline_ms() == 1_007
    assert table.expire(1_006).answer == []
    [(answered, results)] = table.expire(1_007).answer
    assert answered == fetch_id and all(not len(r.records) for r in results)
    assert table.next_deadline_ms() is None


def test_enough_data_or_an_error_in_the_first_round_answers_at_once() -> None:
    table = DelayedFetches()
    req = request()
    results = empty(req)
    results[1] = FetchPartitionResponse(topic="t", partition=1,
                                        error=ErrorCode.NOT_LEADER_OR_FOLLOWER)
    _, effects = table.first_round(req, [0, 0], results, now_ms=0)
    assert len(effects.answer) == 1 and table.held == {}


def test_an_unchanged_empty_partition_is_answered_from_memory_until_it_changes() -> None:
    table = announced()
    req = request()
    hold(table, req)
    part = req.partitions[1]
    assert table.unchanged(FOLLOWER, part) is not None
    assert table.unchanged(3, part) is None, "remembered per fetcher"
    table.on_data_ready(ready(1, end=1, appended=(0, 1, b"x")))
    assert table.unchanged(FOLLOWER, part) is None, "the version moved"
