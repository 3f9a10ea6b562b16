"""RecordBatch v2 codec: round trips, byte compatibility with kafka-python, header view."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from zafka.core.errors import CorruptRecord, RecordTooLarge
from zafka.storage import compression
from zafka.storage.records import (
    COMPRESSION_GZIP,
    COMPRESSION_LZ4,
    COMPRESSION_SNAPPY,
    COMPRESSION_ZSTD,
    HEADER_SIZE,
    Record,
    decode_batch,
    decode_batches,
    encode_batch,
    iter_batches,
    read_header,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
    validate_batches,
)

maybe_bytes = st.none() | st.binary(max_size=300)
headers = st.lists(st.tuples(st.text(max_size=10), maybe_bytes), max_size=3).map(tuple)
records = st.lists(
    st.builds(lambda k, v, h, t: Record(k, v, h, timestamp_ms=t), maybe_bytes, maybe_bytes,
              headers, st.integers(0, 2**41)),
    min_size=1, max_size=30,
)


def as_tuples(decoded: list) -> list[tuple]:
    return [(r.key, r.value, r.headers, r.timestamp_ms) for r in decoded]


@settings(max_examples=150, deadline=None)
@given(records, st.integers(0, 2**40), st.sampled_from(
    [0, COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4, COMPRESSION_ZSTD]))
def test_decode_inverts_encode(recs: list[Record], base_offset: int, compression: int) -> None:
    data = encode_batch(recs, base_offset=base_offset, compression=compression)
    decoded = decode_batch(data)
    assert as_tuples(decoded) == [(r.key, r.value, r.headers, r.timestamp_ms) for r in recs]
    assert [r.offset for r in decoded] == list(range(base_offset, base_offset + len(recs)))


@settings(max_examples=60, deadline=None)
@given(records, st.sampled_from([0, COMPRESSION_GZIP]))
def test_kafka_python_decodes_our_batches(recs: list[Record], compression: int) -> None:
    data = encode_batch(recs, base_offset=42, producer_id=7, producer_epoch=3,
                        base_sequence=11, partition_leader_epoch=5, compression=compression)
    theirs = DefaultRecordBatch(bytearray(data))
    assert theirs.validate_crc()
    assert (theirs.base_offset, theirs.producer_id, theirs.producer_epoch,
            theirs.base_sequence, theirs.leader_epoch) == (42, 7, 3, 11, 5)
    assert [(r.offset, r.key, r.value, [tuple(h) for h in r.headers], r.timestamp)
            for r in theirs] == [(42 + i, r.key, r.value, list(r.headers), r.timestamp_ms)
                                 for i, r in enumerate(recs)]


@settings(max_examples=60, deadline=None)
@given(records, st.sampled_from([0, COMPRESSION_GZIP]))
def test_we_decode_kafka_python_batches(recs: list[Record], compression: int) -> None:
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=compression,
                                        is_transactional=False, producer_id=9,
                                        producer_epoch=1, base_sequence=100,
                                        batch_size=10**7)
    for i, r in enumerate(recs):
        builder.append(i, timestamp=r.timestamp_ms, key=r.key, value=r.value,
                       headers=list(r.headers))
    data = bytes(builder.build())
    header = read_header(data)
    assert (header.producer_id, header.producer_epoch, header.base_sequence,
            header.record_count) == (9, 1, 100, len(recs))
    assert header.max_timestamp == max(r.timestamp_ms for r in recs)
    assert as_tuples(decode_batch(data)) == [
        (r.key, r.value, r.headers, r.timestamp_ms) for r in recs]


def test_snappy_in_xerial_framing_as_the_java_client_writes_it() -> None:
    import cramjam
    body = bytes(range(256)) * 40
    blocks = [bytes(cramjam.snappy.compress_raw(body[i:i + 3000]))
              for i in range(0, len(body), 3000)]
    framed = b"\x82SNAPPY\x00" + b"\x00\x00\x00\x01" * 2 + b"".join(
        len(b).to_bytes(4, "big") + b for b in blocks)
    assert compression.decompress(COMPRESSION_SNAPPY, framed) == body
    with pytest.raises(CorruptRecord, match="overruns"):
        compression.decompress(COMPRESSION_SNAPPY, framed[:-10])


@pytest.mark.parametrize("codec", [COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4,
                                   COMPRESSION_ZSTD])
def test_garbage_in_a_compressed_batch_is_a_clear_corrupt_record(codec: int) -> None:
    with pytest.raises(CorruptRecord, match="cannot decompress"):
        compression.decompress(codec, b"certainly not compressed bytes")


def test_an_unknown_codec_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown compression type 'brotli'"):
        compression.codec_of("brotli")
    assert compression.codec_of("zstd") == COMPRESSION_ZSTD


@pytest.mark.parametrize("codec", [0, COMPRESSION_LZ4])
def test_log_append_time_restamps_a_batch_without_touching_its_records(codec: int) -> None:
    recs = [Record(b"k", b"v%d" % i, timestamp_ms=1000 + i) for i in range(5)]
    data = bytearray(encode_batch(recs, compression=codec))
    records_before = bytes(data[HEADER_SIZE:])
    set_log_append_time(data, 0, 777_000)
    assert bytes(data[HEADER_SIZE:]) == records_before
    validate_batches(data)  # the CRC was recomputed
    header = read_header(data)
    assert header.max_timestamp == 777_000 and header.attributes & 0x08
    assert [r.timestamp_ms for r in decode_batch(data)] == [777_000] * 5
    theirs = DefaultRecordBatch(bytearray(data))
    assert theirs.validate_crc() and theirs.timestamp_type == 1


def test_header_view_reads_every_field_without_decoding_records() -> None:
    recs = [Record(b"k", b"v", timestamp_ms=t) for t in (500, 900, 700)]
    data = encode_batch(recs, base_offset=10, producer_id=3, producer_epoch=2,
                        base_sequence=40, partition_leader_epoch=8)
    header = read_header(data)
    assert (header.base_offset, header.last_offset_delta, header.last_offset,
            header.next_offset, header.record_count) == (10, 2, 12, 13, 3)
    assert (header.base_timestamp, header.max_timestamp) == (500, 900)
    assert (header.producer_id, header.producer_epoch, header.base_sequence,
            header.last_sequence, header.partition_leader_epoch) == (3, 2, 40, 42, 8)
    assert header.size == len(data)


def test_patching_base_offset_and_epoch_keeps_the_crc_valid() -> None:
    data = bytearray(batch_of(3))
    set_base_offset(data, 0, 1000)
    set_partition_leader_epoch(data, 0, 77)
    header = validate_batches(data)[0]
    assert (header.base_offset, header.partition_leader_epoch) == (1000, 77)
    assert [r.offset for r in decode_batch(data)] == [1000, 1001, 1002]


def batch_of(n: int) -> bytes:
    return encode_batch([Record(None, b"x%d" % i, timestamp_ms=i) for i in range(n)])


def test_any_flipped_bit_after_the_crc_field_is_detected() -> None:
    data = batch_of(4)
    for position in range(21, len(data)):
        corrupt = bytearray(data)
        corrupt[position] ^= 0x10
        with pytest.raises(CorruptRecord):
            validate_batches(corrupt)


def test_validate_rejects_partial_batches_wrong_magic_and_oversize() -> None:
    data = batch_of(5)
    with pytest.raises(CorruptRecord, match="declared"):
        validate_batches(data + data[:-1])
    with pytest.raises(CorruptRecord, match="needs 61"):
        validate_batches(data + data[:HEADER_SIZE - 1])
    wrong_magic = bytearray(data)
    wrong_magic[16] = 1
    with pytest.raises(CorruptRecord, match="magic"):
        validate_batches(wrong_magic)
    with pytest.raises(RecordTooLarge):
        validate_batches(data, max_batch_bytes=len(data) - 1)
    assert len(validate_batches(data * 3, max_batch_bytes=len(data))) == 3


def test_iter_batches_yields_whole_batches_and_ignores_a_partial_tail() -> None:
    one, two = batch_of(2), batch_of(3)
    found = [bytes(view) for _, view in iter_batches(one + two + two[:30])]
    assert found == [one, two]
    assert [r.value for r in decode_batches(one + two)] == [b"x0", b"x1", b"x0", b"x1", b"x2"]
