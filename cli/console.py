"""``produce``, ``consume`` and ``groups``: the console tools of Kafka, on zafka.

``produce`` reads records from stdin, one per line (``--key-separator`` splits key from value);
``consume`` prints records to stdout; ``groups`` lists consumer groups and describes one with
its lag, laid out like ``kafka-consumer-groups.sh``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zafka.cli.common import (
    CLI_TIMEOUT_MS,
    CommandError,
    add_json_option,
    format_table,
    print_json,
    sub_command,
)
from zafka.client import Admin, Consumer, Producer, TopicPartition
from zafka.transport.cluster_file import DEFAULT_PATH


def acks_value(text: str) -> int | str:
    if text in ("all", "-1"):
        return "all"
    if text in ("0", "1"):
        return int(text)
    raise argparse.ArgumentTypeError(f"--acks must be 0, 1 or all, not {text!r}")


def run_produce(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {"acks": args.acks, "linger_ms": args.linger_ms}
    if args.acks != "all":
        options["enable_idempotence"] = False
    sent = 0
    with Producer(args.cluster, **options) as producer:
        futures = []
        for line in sys.stdin:
            line = line.rstrip("\n")
            key: bytes | None = None
            if args.key_separator:
                if args.key_separator not in line:
                    raise CommandError(f"line {sent + 1} has no key separator "
                                       f"{args.key_separator!r}: {line!r}")
                raw_key, line = line.split(args.key_separator, 1)
                key = raw_key.encode()
            futures.append(producer.send(args.topic, line.encode(), key=key))
            sent += 1
        producer.flush()
        if args.acks != 0:
            for future in futures:
                future.get(timeout=CLI_TIMEOUT_MS / 1000)
    print(f"{sent} records sent to {args.topic}.", file=sys.stderr)
    return 0


def join_or_assign(consumer: Consumer, topic: str, group: str | None) -> None:
    """Subscribe as a member of ``group``, or read every partition of ``topic`` alone."""
    if group:
        consumer.subscribe([topic])
        return
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise CommandError(f"topic {topic!r} does not exist")
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])


def run_consume(args: argparse.Namespace) -> int:
    if (args.partition is None) != (args.offset is None) and args.offset is not None:
        raise CommandError("--offset needs --partition")
    options: dict[str, Any] = {
        "auto_offset_reset": "earliest" if args.from_beginning else "latest",
        "consumer_timeout_ms": args.timeout_ms if args.timeout_ms is not None else float("inf"),
    }
    if args.group:
        options["group_id"] = args.group
    count = 0
    with Consumer(cluster=args.cluster, **options) as consumer:
        if args.partition is not None:
            tp = TopicPartition(args.topic, args.partition)
            consumer.assign([tp])
            if args.offset is not None:
                consumer.seek(tp, args.offset)
            elif args.from_beginning:
                consumer.seek_to_beginning(tp)
        else:
            join_or_assign(consumer, args.topic, args.group)
        try:
            for record in consumer:
                value = record.value.decode(errors="replace") if record.value else ""
                if args.print_key:
                    key = record.key.decode(errors="replace") if record.key else "null"
                    print(f"{key}\t{value}", flush=True)
                else:
                    print(value, flush=True)
                count += 1
                if args.max_messages and count >= args.max_messages:
                    break
        except KeyboardInterrupt:
            pass
    print(f"Processed a total of {count} messages", file=sys.stderr)
    return 0


def run_groups(args: argparse.Namespace) -> int:
    with Admin(args.cluster, request_timeout_ms=CLI_TIMEOUT_MS) as admin:
        if args.list:
            groups = admin.list_groups()
            print_json(groups) if args.json else print("\n".join(g["group"] for g in groups))
            return 0
        if not args.group:
            raise CommandError("--describe needs --group G")
        group = admin.describe_group(args.group)
    members = {m.member_id: m for m in group.members}
    rows = [{"group": group.group_id, "topic": p.topic, "partition": p.partition,
             "current-offset": p.committed if p.committed >= 0 else None,
             "log-end-offset": p.end_offset if p.end_offset >= 0 else None, "lag": p.lag,
             "consumer-id": p.member_id,
             "host": members[p.member_id].client_host if p.member_id in members else None,
             "client-id": members[p.member_id].client_id if p.member_id in members else None}
            for p in group.partitions]
    if args.json:
        print_json({"group": group.group_id, "state": group.state, "protocol": group.protocol,
                    "generation": group.generation, "coordinator": group.coordinator,
                    "partitions": rows})
        return 0
    print(f"Consumer group '{group.group_id}' is {group.state} (generation "
          f"{group.generation}, coordinator broker {group.coordinator}, "
          f"{len(group.members)} members)\n")
    print(format_table(rows, ["group", "topic", "partition", "current-offset",
                              "log-end-offset", "lag", "consumer-id", "host", "client-id"]))
    return 0


def register(commands: Any) -> None:
    produce = sub_command(
        commands, "produce", "Send stdin lines as records (one record per line).",
        ["produce --topic orders < lines.txt",
         "produce --topic orders --key-separator : --acks all"],
        run_produce, default_file=DEFAULT_PATH)
    produce.add_argument("--topic", required=True)
    produce.add_argument("--key-separator", default=None,
                         help="split each line into key and value at the first separator")
    produce.add_argument("--acks", type=acks_value, default="all", help="0, 1 or all")
    produce.add_argument("--linger-ms", type=int, default=5, help="batching delay")

    consume = sub_command(
        commands, "consume", "Print records of a topic to stdout.",
        ["consume --topic orders --from-beginning --max-messages 10",
         "consume --topic orders --group billing --print-key",
         "consume --topic orders --partition 0 --offset 42 --timeout-ms 5000"],
        run_consume, default_file=DEFAULT_PATH)
    consume.add_argument("--topic", required=True)
    consume.add_argument("--from-beginning", action="store_true",
                         help="start at the earliest offset when there is no commit")
    consume.add_argument("--group", default=None, help="consume as a member of this group")
    consume.add_argument("--max-messages", type=int, default=None)
    consume.add_argument("--partition", type=int, default=None)
    consume.add_argument("--offset", type=int, default=None,
                         help="start at this offset (with --partition)")
    consume.add_argument("--print-key", action="store_true", help="print key<TAB>value")
    consume.add_argument("--timeout-ms", type=int, default=None,
                         help="exit after this long without a record")

    groups = sub_command(
        commands, "groups", "List consumer groups, or describe one with its lag.",
        ["groups --list", "groups --describe --group billing"], run_groups)
    action = groups.add_mutually_exclusive_group(required=True)
    action.add_argument("--list", action="store_true")
    action.add_argument("--describe", action="store_true")
    groups.add_argument("--group", default=None)
    add_json_option(groups)


__all__ = ["register"]
