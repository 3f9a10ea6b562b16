"""The Kafka codec's cost: kio (what ``zafka.kafka`` uses) beside kafka-python 3's own
schema-generated protocol classes, on the same bytes, in one run.

Three bodies a broker handles on its hot paths, built by zafka's own handlers:

- a Produce v9 request: 6 partitions, one 64 KiB RecordBatch each (decoded by the broker);
- a Fetch v12 response: 6 partitions, 1 MiB of batches each (encoded by the broker);
- a Metadata v12 response: 1,000 partitions on 3 brokers (encoded by the broker).

For each library: the median time of ``--repeat`` rounds of encode and decode, in µs.
Both libraries generate their classes from Kafka's JSON message schemas; neither is
hand-written per version.  kafka-python is a test dependency, not one of zafka's.

Run: ``python -m benchmarks.kafka_codec_bench [--repeat N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import io
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kio.serial import entity_reader, entity_writer
from zafka.cli.common import format_table
from zafka.core.messages import (
    BrokerRecord,
    DescribeTopicsReply,
    FetchPartitionResponse,
    FetchResponse,
    PartitionRecord,
    TopicDescription,
)
from zafka.kafka import codec, fetch, metadata
from zafka.kafka.handler import Context, make


def kafka_python_protocol() -> Any:
    """kafka-python's ``kafka.protocol`` (the checkout's own ``kafka/`` folder shadows the
    top-level name when run from the repository root, so look past it)."""
    here = str(Path(__file__).resolve().parents[1])
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if p not in ("", ".", here)]
    try:
        for name in [n for n in sys.modules if n == "kafka" or n.startswith("kafka.")]:
            del sys.modules[name]
        return importlib.import_module("kafka.protocol.producer"), \
            importlib.import_module("kafka.protocol.consumer"), \
            importlib.import_module("kafka.protocol.metadata")
    finally:
        sys.path[:] = saved


def produce_request() -> bytes:
    cls = codec.request_class(0, 9)
    batch = os.urandom(64 * 1024)
    request = make(cls, transactional_id=None, acks=-1,
                   timeout=datetime.timedelta(seconds=30),
                   topic_data=lambda topic_cls: (make(
                       topic_cls, name="bench",
                       partition_data=lambda part_cls: tuple(
                           make(part_cls, index=p, records=batch) for p in range(6))),))
    return codec.encode(request)


def fetch_response() -> bytes:
    records = os.urandom(1 << 20)
    reply = FetchResponse(partitions=tuple(
        FetchPartitionResponse(topic="bench", partition=p, high_watermark=10_000,
                               log_start_offset=0, records=records) for p in range(6)))
    return codec.encode(fetch.response(codec.response_class(1, 12), reply))


def metadata_response() -> bytes:
    brokers = tuple(BrokerRecord(broker_id=b, address=f"tcp://127.0.0.1:{9000 + b}",
                                 broker_epoch=1, incarnation="x", fenced=False,
                                 kafka_address=f"127.0.0.1:{9092 + b}") for b in (1, 2, 3))
    topics = tuple(TopicDescription(name=f"topic-{t}", topic_id=str(uuid.uuid4()),
                                    partitions=tuple(PartitionRecord(
                                        topic=f"topic-{t}", topic_id="", partition=p,
                                        replicas=(1, 2, 3), isr=(1, 2, 3), leader=1 + p % 3,
                                        leader_epoch=3, partition_epoch=5)
                                        for p in range(10)))
                   for t in range(100))
    context = Context(node_id=1, cluster_id="bench", host="127.0.0.1", port=9093)
    reply = DescribeTopicsReply(topics=topics, brokers=brokers)
    return codec.encode(metadata.response(codec.response_class(3, 12), context, reply))


def timed(action: Callable[[], Any], repeat: int) -> float:
    """Median µs of ``repeat`` rounds (each round long enough to time)."""
    action()
    rounds = []
    for _ in range(repeat):
        began = time.perf_counter()
        count = 0
        while time.perf_counter() - began < 0.05:
            action()
            count += 1
        rounds.append((time.perf_counter() - began) / count * 1e6)
    return statistics.median(rounds)


def kio_pair(cls: type, data: bytes) -> tuple[Callable[[], Any], Callable[[], Any]]:
    reader, writer = entity_reader(cls), entity_writer(cls)
    entity, _ = reader(data, 0)

    def encode() -> bytes:
        buffer = io.BytesIO()
        writer(buffer, entity)
        return buffer.getvalue()

    assert encode() == data
    return (lambda: reader(data, 0)), encode


def kafka_python_pair(cls: Any, version: int, data: bytes,
                      ) -> tuple[Callable[[], Any], Callable[[], Any]]:
    message = cls.decode(data, version=version)
    if not hasattr(message, "_header"):  # decode skips __init__, which encode relies on
        message._header = None
    assert bytes(message.encode(version=version)) == data
    return (lambda: cls.decode(data, version=version)), \
        (lambda: message.encode(version=version))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", default="kafka_codec_bench.json")
    args = parser.parse_args(argv)
    producer, consumer, meta = kafka_python_protocol()
    cases = [
        ("Produce v9 request, 6 x 64 KiB", codec.request_class(0, 9), produce_request(),
         producer.ProduceRequest, 9),
        ("Fetch v12 response, 6 x 1 MiB", codec.response_class(1, 12), fetch_response(),
         consumer.FetchResponse, 12),
        ("Metadata v12 response, 1,000 partitions", codec.response_class(3, 12),
         metadata_response(), meta.MetadataResponse, 12),
    ]
    rows = []
    for label, kio_cls, data, kp_cls, version in cases:
        kio_decode, kio_encode = kio_pair(kio_cls, data)
        kp_decode, kp_encode = kafka_python_pair(kp_cls, version, data)
        row = {"body": label, "bytes": len(data),
               "kio_decode_us": round(timed(kio_decode, args.repeat), 1),
               "kio_encode_us": round(timed(kio_encode, args.repeat), 1),
               "kafka_python_decode_us": round(timed(kp_decode, args.repeat), 1),
               "kafka_python_encode_us": round(timed(kp_encode, args.repeat), 1)}
        rows.append(row)
    print(format_table(rows, list(rows[0])))
    Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
