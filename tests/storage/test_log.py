"""The partition log's contract, run against the disk log and its in-memory twin."""

from __future__ import annotations

import pytest
from zafka.core.errors import CorruptRecord, InvalidRequest, OffsetOutOfRange, RecordTooLarge
from zafka.storage.log import LogConfig
from zafka.storage.records import Record, decode_batches, encode_batch, read_header

from tests.storage.conftest import LogFactory, batch, read_all, values_of


def offsets_in(data: memoryview) -> list[int]:
    return [r.offset for r in decode_batches(data)]


def test_leader_append_assigns_offsets_and_stamps_the_epoch(logs: LogFactory) -> None:
    log = logs.open()
    first = log.append_as_leader(batch(values_of(3)), leader_epoch=4)
    second = log.append_as_leader(batch(values_of(2)) + batch(values_of(5)), leader_epoch=4)
    assert (first.first_offset, first.last_offset, first.record_count) == (0, 2, 3)
    assert (second.first_offset, second.last_offset, second.record_count) == (3, 9, 7)
    assert log.log_end_offset == 10
    data = log.read(0, 1 << 20)
    assert offsets_in(data) == list(range(10))
    assert read_header(data).partition_leader_epoch == 4
    assert log.latest_epoch == 4


def test_leader_append_rejects_corrupt_and_oversized_batches(logs: LogFactory) -> None:
    log = logs.open(LogConfig(max_message_bytes=200))
    good = batch(values_of(2))
    corrupt = bytearray(good)
    corrupt[-1] ^= 1
    with pytest.raises(CorruptRecord):
        log.append_as_leader(bytes(corrupt), leader_epoch=0)
    with pytest.raises(RecordTooLarge):
        log.append_as_leader(batch(values_of(2, size=150)), leader_epoch=0)
    assert log.log_end_offset == 0


def test_follower_append_must_continue_at_the_log_end(logs: LogFactory) -> None:
    log = logs.open()
    log.append_as_follower(batch(values_of(3), partition_leader_epoch=1))
    with pytest.raises(InvalidRequest, match="expected 3"):
        log.append_as_follower(batch(values_of(1), base_offset=5, partition_leader_epoch=1))
    log.append_as_follower(batch(values_of(2), base_offset=3, partition_leader_epoch=2))
    assert log.log_end_offset == 5
    assert [tuple(e) for e in log.epoch_cache.entries] == [(1, 0), (2, 3)]


def test_read_returns_whole_batches_within_limits(logs: LogFactory) -> None:
    log = logs.open()
    for _ in range(10):
        log.append_as_leader(batch(values_of(10, size=100)), leader_epoch=0)
    one = len(batch(values_of(10, size=100)))
    assert offsets_in(log.read(25, 3 * one)) == list(range(20, 50))
    assert offsets_in(log.read(25, 1)) == list(range(20, 30)), "at least one batch"
    assert offsets_in(log.read(0, 1 << 20, max_offset=40)) == list(range(40))
    assert offsets_in(log.read(35, 1 << 20, max_offset=40)) == list(range(30, 40))
    assert len(log.read(40, 1 << 20, max_offset=40)) == 0
    assert len(log.read(100, 1 << 20)) == 0
    with pytest.raises(OffsetOutOfRange):
        log.read(101, 100)


def test_segments_roll_on_size_and_reads_cross_them(logs: LogFactory) -> None:
    one = len(batch(values_of(10, size=100)))
    log = logs.open(LogConfig(segment_bytes=3 * one, index_interval_bytes=one))
    for _ in range(10):
        log.append_as_leader(batch(values_of(10, size=100)), leader_epoch=0)
    assert [s.base_offset for s in log.segments] == [0, 30, 60, 90]
    assert offsets_in(log.read(29, 2 * one)) == list(range(20, 30)), "one segment per read"
    assert offsets_in(log.read(30, 2 * one)) == list(range(30, 50))
    log = logs.reopen(log)
    assert [s.base_offset for s in log.segments] == [0, 30, 60, 90]
    assert offsets_in(log.read(0, 1 << 20)) == list(range(30))
    assert log.log_end_offset == 100


def test_segments_roll_on_segment_ms(logs: LogFactory) -> None:
    log = logs.open(LogConfig(segment_ms=1000))
    log.append_as_leader(batch(values_of(1), timestamp_ms=5000), leader_epoch=0)
    log.append_as_leader(batch(values_of(1), timestamp_ms=5900), leader_epoch=0)
    log.append_as_leader(batch(values_of(1), timestamp_ms=6001), leader_epoch=0)
    assert [s.base_offset for s in log.segments] == [0, 2]


def test_retention_by_time_deletes_closed_segments_only(logs: LogFactory) -> None:
    config = LogConfig(segment_bytes=400, retention_ms=10_000)
    log = logs.open(config)
    for t in range(6):
        log.append_as_leader(batch(values_of(2, size=100), timestamp_ms=t * 1000),
                             leader_epoch=0)
    assert len(log.segments) == 6
    assert log.apply_retention(now_ms=13_000) == 3, "max timestamps 1, 1001, 2001 expired"
    assert log.log_start_offset == 6
    with pytest.raises(OffsetOutOfRange):
        log.read(5, 100)
    assert log.apply_retention(now_ms=10**9) == 2, "the active segment stays"
    assert log.log_start_offset == 10 and log.log_end_offset == 12


def test_retention_by_size_keeps_at_most_retention_bytes(logs: LogFactory) -> None:
    one = len(batch(values_of(2, size=100)))
    log = logs.open(LogConfig(segment_bytes=one, retention_bytes=3 * one, retention_ms=-1))
    for _ in range(8):
        log.append_as_leader(batch(values_of(2, size=100)), leader_epoch=0)
    assert log.apply_retention(now_ms=0) == 5
    assert log.size_bytes == 3 * one
    assert log.log_start_offset == 10
    log = logs.reopen(log)
    assert (log.log_start_offset, log.log_end_offset) == (10, 16)


def test_compaction_keeps_the_newest_record_per_key(logs: LogFactory) -> None:
    config = LogConfig(cleanup_policy="compact", segment_bytes=300, delete_retention_ms=1000)
    log = logs.open(config)
    writes = [(b"a", b"1"), (b"b", b"1"), (b"a", b"2"), (b"c", b"1"), (b"b", None),
              (b"a", b"3"), (b"d", b"1"), (b"c", None), (b"e", b"1"), (b"e", b"2")]
    for i, (key, value) in enumerate(writes):
        records = [Record(key, value, timestamp_ms=10_000 + i)]
        log.append_as_leader(encode_batch(records), leader_epoch=0)
    assert log.compact(now_ms=10_500) == 4
    assert [(r.offset, r.key, r.value) for r in read_all(log)] == [
        (4, b"b", None), (5, b"a", b"3"), (6, b"d", b"1"), (7, b"c", None), (8, b"e", b"1"),
        (9, b"e", b"2")]
    assert log.compact(now_ms=20_000) == 2, "tombstones expire after delete.retention.ms"
    log = logs.reopen(log)
    assert log.log_end_offset == 10
    assert [(r.offset, r.key) for r in read_all(log)] == [
        (5, b"a"), (6, b"d"), (8, b"e"), (9, b"e")], "the active segment is never compacted"


@pytest.mark.parametrize("codec", [1, 2, 3, 4], ids=["gzip", "snappy", "lz4", "zstd"])
def test_compaction_rewrites_compressed_batches_in_their_codec(logs: LogFactory,
                                                               codec: int) -> None:
    config = LogConfig(cleanup_policy="compact", segment_bytes=200, delete_retention_ms=1000)
    log = logs.open(config)
    for round_ in range(3):
        records = [Record(b"k%d" % i, b"v%d-%d" % (i, round_), (("h", b"x"),),
                          timestamp_ms=10_000 + round_) for i in range(4)]
        log.append_as_leader(encode_batch(records, compression=codec), leader_epoch=0)
    assert log.compact(now_ms=10_500) == 4, "round 0 is superseded by round 1"
    survivors = read_all(log)
    assert [(r.offset, r.key, r.value, r.headers) for r in survivors[:4]] == [
        (4 + i, b"k%d" % i, b"v%d-1" % i, (("h", b"x"),)) for i in range(4)]
    assert {h.compression for _, h in log.segments[0].headers_from(0)} <= {codec}


def test_a_log_append_time_log_stamps_batches_with_the_leaders_clock(logs: LogFactory) -> None:
    log = logs.open(LogConfig(log_append_time=True))
    log.append_as_leader(encode_batch([Record(None, b"v", timestamp_ms=5)] * 2,
                                      compression=3), leader_epoch=0, now_ms=123_456)
    assert [r.timestamp_ms for r in read_all(log)] == [123_456, 123_456]
    assert read_header(log.read(0, 1 << 20)).attributes & 0x08
    assert [r.timestamp_ms for r in read_all(logs.reopen(log))] == [123_456, 123_456]


def test_truncate_drops_the_tail_and_its_epochs(logs: LogFactory) -> None:
    log = logs.open(LogConfig(segment_bytes=300))
    for epoch in (1, 1, 2, 3, 3):
        log.append_as_leader(batch(values_of(3, size=50)), leader_epoch=epoch)
    assert [tuple(e) for e in log.epoch_cache.entries] == [(1, 0), (2, 6), (3, 9)]
    log.truncate_to(7)
    assert log.log_end_offset == 6, "the batch containing offset 7 goes too"
    assert [tuple(e) for e in log.epoch_cache.entries] == [(1, 0)]
    log.append_as_leader(batch(values_of(2)), leader_epoch=5)
    log = logs.reopen(log)
    assert [r.offset for r in read_all(log)] == list(range(8))
    assert [tuple(e) for e in log.epoch_cache.entries] == [(1, 0), (5, 6)]
    log.truncate_fully_and_start_at(100)
    assert (log.log_start_offset, log.log_end_offset, log.latest_epoch) == (100, 100, -1)
    log.append_as_leader(batch(values_of(1)), leader_epoch=6)
    assert offsets_in(log.read(100, 1000)) == [100]


def test_end_offset_for_epoch_follows_offset_for_leader_epoch(logs: LogFactory) -> None:
    log = logs.open()
    for epoch in (2, 2, 4, 7):
        log.append_as_leader(batch(values_of(5)), leader_epoch=epoch)
    assert log.end_offset_for_epoch(7) == (7, 20)
    assert log.end_offset_for_epoch(4) == (4, 15)
    assert log.end_offset_for_epoch(3) == (2, 10), "largest epoch <= 3, next epoch's start"
    assert log.end_offset_for_epoch(1) == (1, 0)
    assert log.end_offset_for_epoch(8) == (-1, -1)
    log = logs.reopen(log)
    assert log.end_offset_for_epoch(3) == (2, 10)


def test_offset_for_timestamp_finds_the_earliest_record_at_or_after(logs: LogFactory) -> None:
    log = logs.open(LogConfig(segment_bytes=500, index_interval_bytes=100))
    for i in range(10):
        log.append_as_leader(batch(values_of(5, size=20), timestamp_ms=1000 + 10 * i),
                             leader_epoch=0)
    assert log.offset_for_timestamp(0) == 0
    assert log.offset_for_timestamp(1052) == 27, "batch 5 holds 1050..1054"
    assert log.offset_for_timestamp(1094) == 49
    assert log.offset_for_timestamp(1095) is None


def test_flush_is_group_commit_and_checkpoints_survive_reopen(logs: LogFactory) -> None:
    log = logs.open()
    log.append_as_leader(batch(values_of(3)), leader_epoch=0)
    log.append_as_leader(batch(values_of(3)), leader_epoch=0)
    assert log.needs_flush
    assert log.flush() == 6
    assert not log.needs_flush
    log.checkpoint_high_watermark(4)
    log = logs.reopen(log)
    assert log.high_watermark_checkpoint == 4
    assert log.recovery_point == 6


def test_lazy_flush_policy_waits_for_messages_or_time(logs: LogFactory) -> None:
    log = logs.open(LogConfig(flush_messages=5, flush_ms=1000))
    log.append_as_leader(batch(values_of(3)), leader_epoch=0)
    assert log.maybe_flush(now_ms=logs.clock.now_ms) == 0
    log.append_as_leader(batch(values_of(3)), leader_epoch=0)
    assert log.maybe_flush(now_ms=logs.clock.now_ms) == 6
    log.append_as_leader(batch(values_of(1)), leader_epoch=0)
    assert log.maybe_flush(now_ms=logs.clock.now_ms + 999) == 6
    assert log.maybe_flush(now_ms=logs.clock.now_ms + 1000) == 7


def test_iter_batch_headers_rebuilds_producer_state_without_decoding(logs: LogFactory) -> None:
    log = logs.open(LogConfig(segment_bytes=200))
    for seq in range(0, 12, 3):
        log.append_as_leader(batch(values_of(3, size=30), producer_id=9, producer_epoch=0,
                                   base_sequence=seq), leader_epoch=0)
    headers = list(log.iter_batch_headers(4))
    assert [(h.base_offset, h.base_sequence, h.last_sequence) for h in headers] == [
        (3, 3, 5), (6, 6, 8), (9, 9, 11)]
