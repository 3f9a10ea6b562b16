"""The record accumulator: batching per partition, readiness, bounded memory, batches in
flight per partition (one, or a pipeline of up to five kept in order), expiry."""

from __future__ import annotations

import threading
import time

import pytest
from zafka.client.accumulator import BufferExhausted, RecordAccumulator, record_size
from zafka.storage.records import Record

LEADERS = {("t", 0): 1, ("t", 1): 2, ("u", 0): 1}


def leader_of(topic: str, partition: int) -> int | None:
    return LEADERS.get((topic, partition))


def always(broker: int) -> bool:
    return True


def make(**options: int) -> RecordAccumulator:
    settings = dict(batch_size=1000, linger_ms=60_000, buffer_memory=100_000,
                    delivery_timeout_ms=120_000, max_request_size=1_000_000)
    settings.update(options)
    return RecordAccumulator(**settings)


def record(size: int = 100) -> Record:
    return Record(None, b"x" * size, timestamp_ms=1)


def append(acc: RecordAccumulator, topic: str = "t", partition: int = 0, size: int = 100,
           block_s: float = 0.0) -> tuple[object, bool]:
    rec = record(size)
    return acc.append(topic, partition, rec, record_size(rec), max_block_s=block_s)


def test_records_fill_one_batch_until_batch_size_then_a_new_one_opens() -> None:
    acc = make(batch_size=1000)
    wakes = [append(acc)[1] for _ in range(12)]
    assert wakes[0] is True, "opening a batch wakes the sender"
    assert wakes[1:8] == [False] * 7
    assert True in wakes[8:], "filling or opening the next batch wakes the sender"
    drained = acc.drain(leader_of, always)
    head = drained.by_broker[1][0]
    assert head.size_bytes <= 1000 < head.size_bytes + record_size(record())
    assert len(head.records) == 8


def test_a_lingering_batch_is_not_ready_until_linger_ms_or_a_flush() -> None:
    acc = make(linger_ms=60_000)
    append(acc)
    drained = acc.drain(leader_of, always)
    assert drained.by_broker == {}
    assert drained.next_check_s is not None and 59 < drained.next_check_s <= 60
    results = acc.begin_flush()
    assert len(results) == 1
    assert [b.partition for b in acc.drain(leader_of, always).by_broker[1]] == [0]


def test_linger_zero_makes_a_batch_ready_at_once() -> None:
    acc = make(linger_ms=0)
    append(acc)
    assert len(acc.drain(leader_of, always).by_broker[1]) == 1


def test_at_most_one_batch_per_partition_is_in_flight() -> None:
    acc = make(batch_size=200, linger_ms=0)
    for _ in range(4):
        append(acc)
    first = acc.drain(leader_of, always).by_broker[1]
    assert len(first) == 1
    assert acc.drain(leader_of, always).by_broker == {}, "the partition's head is in flight"
    acc.complete(first[0])
    second = acc.drain(leader_of, always).by_broker[1]
    assert second[0] is not first[0] and len(second[0].records) == 1


def drain_one(acc: RecordAccumulator) -> object | None:
    batches = acc.drain(leader_of, always).by_broker.get(1, [])
    assert len(batches) <= 1, "one batch per partition per request"
    return batches[0] if batches else None


def test_a_pipeline_sends_up_to_its_limit_of_batches_in_queue_order() -> None:
    acc = make(batch_size=150, linger_ms=0, max_in_flight_per_partition=5)
    for _ in range(7):
        append(acc)
    sent = [drain_one(acc) for _ in range(5)]
    assert all(sent) and len(set(map(id, sent))) == 5
    assert drain_one(acc) is None, "five in flight: the sixth waits"
    acc.complete(sent[0])  # type: ignore[arg-type]
    sixth = drain_one(acc)
    assert sixth is not None and sixth not in sent


def test_a_retry_waits_until_no_batch_of_its_partition_is_in_flight_then_goes_first(
        ) -> None:
    acc = make(batch_size=150, linger_ms=0, max_in_flight_per_partition=5)
    for _ in range(4):
        append(acc)
    first, second, third = (drain_one(acc) for _ in range(3))
    for batch in (first, second):
        batch.attempts = 1  # type: ignore[union-attr]
        acc.retry_later(batch, 0.0)  # type: ignore[arg-type]
    assert drain_one(acc) is None, "the third is still in flight: nothing is resent yet"
    third.attempts = 1  # type: ignore[union-attr]
    acc.retry_later(third, 0.0)  # type: ignore[arg-type]
    assert [drain_one(acc) for _ in range(4)][:3] == [first, second, third], \
        "the partition resends from its oldest batch, in order"


def test_a_batch_finishing_after_a_later_one_is_removed_where_it_stands() -> None:
    acc = make(batch_size=150, linger_ms=0, max_in_flight_per_partition=5)
    for _ in range(2):
        append(acc)
    first, second = drain_one(acc), drain_one(acc)
    assert acc.earlier_unfinished(second)  # type: ignore[arg-type]
    acc.complete(second)  # type: ignore[arg-type]
    assert not acc.earlier_unfinished(first)  # type: ignore[arg-type]
    acc.complete(first)  # type: ignore[arg-type]
    assert acc.used_bytes == 0 and not acc.has_unsent()


def test_one_drain_groups_ready_batches_by_leader_within_max_request_size() -> None:
    acc = make(linger_ms=0, max_request_size=300)
    append(acc, "t", 0)
    append(acc, "u", 0, size=250)
    append(acc, "t", 1)
    drained = acc.drain(leader_of, always)
    assert [len(drained.by_broker[1]), len(drained.by_broker[2])] == [1, 1], \
        "broker 1's second batch would exceed max_request_size: it waits"
    assert len(acc.drain(leader_of, always).by_broker[1]) == 1


def test_partitions_without_leader_are_reported_and_kept() -> None:
    acc = make(linger_ms=0)
    append(acc, "v", 0)
    drained = acc.drain(leader_of, always)
    assert drained.leaderless == {"v"} and drained.by_broker == {}
    assert acc.has_unsent()


def test_append_beyond_buffer_memory_raises_buffer_exhausted_after_max_block() -> None:
    acc = make(buffer_memory=500)
    for _ in range(4):
        append(acc)
    started = time.monotonic()
    with pytest.raises(BufferExhausted, match="buffer_memory=500"):
        append(acc, block_s=0.05)
    assert time.monotonic() - started >= 0.05


def test_a_blocked_append_proceeds_when_a_completed_batch_frees_memory() -> None:
    acc = make(buffer_memory=500, linger_ms=0)
    for _ in range(4):
        append(acc)
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(append(acc, block_s=5.0)))
    thread.start()
    time.sleep(0.05)
    assert not outcome, "the appender waits for room"
    batch = acc.drain(leader_of, always).by_broker[1][0]
    acc.complete(batch)
    thread.join(timeout=5)
    assert outcome and acc.used_bytes == record_size(record())


def test_batches_past_delivery_timeout_expire_and_free_their_memory() -> None:
    acc = make(delivery_timeout_ms=1)
    append(acc, "v", 0)
    time.sleep(0.01)
    drained = acc.drain(leader_of, always)
    assert len(drained.expired) == 1 and acc.used_bytes == 0 and not acc.has_unsent()


def test_a_retried_batch_waits_for_its_backoff_and_keeps_its_place() -> None:
    acc = make(linger_ms=0, batch_size=150)
    append(acc)
    append(acc)
    head = acc.drain(leader_of, always).by_broker[1][0]
    head.attempts = 1
    acc.retry_later(head, time.monotonic() + 60)
    drained = acc.drain(leader_of, always)
    assert drained.by_broker == {}, "nothing overtakes a batch waiting to be retried"
    assert drained.next_check_s is not None and drained.next_check_s > 59


def test_abort_on_new_batch_leaves_the_choice_of_partition_to_the_caller() -> None:
    acc = make(batch_size=150)
    assert append(acc)[0] is not None
    rec = record()
    future, wake = acc.append("t", 0, rec, record_size(rec), max_block_s=0.0,
                              abort_on_new_batch=True)
    assert (future, wake) == (None, False)
    assert acc.used_bytes == record_size(rec), "an aborted append reserves nothing"
