"""``topics`` and ``configs``: create, list, describe, grow and delete topics; their configs.

Flags and output follow Kafka's ``kafka-topics.sh`` and ``kafka-configs.sh``.
"""

from __future__ import annotations

import argparse
from typing import Any

from zafka.cli.common import (
    CLI_TIMEOUT_MS,
    CommandError,
    add_json_option,
    parse_assignments,
    print_json,
    sub_command,
)
from zafka.client.admin import Admin


def admin_for(args: argparse.Namespace) -> Admin:
    return Admin(args.cluster, request_timeout_ms=CLI_TIMEOUT_MS)


def need_topic(args: argparse.Namespace) -> str:
    if not args.topic:
        raise CommandError("--topic is required with this action")
    return str(args.topic)


# --- topics -----------------------------------------------------------------------------


def run_topics(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        if args.create:
            topic = need_topic(args)
            # Unset means Kafka's defaults (1 and 1); 0 or less is the controller's to refuse.
            partitions = 1 if args.partitions is None else args.partitions
            factor = 1 if args.replication_factor is None else args.replication_factor
            admin.create_topic(topic, partitions=partitions, replication_factor=factor,
                               config=parse_assignments(args.config or [], "--config"))
            print(f"Created topic {topic}.")
        elif args.list:
            names = admin.list_topics(include_internal=args.include_internal)
            print_json(names) if args.json else print("\n".join(names))
        elif args.describe:
            describe(admin, args)
        elif args.alter:
            topic = need_topic(args)
            if args.partitions is None:
                raise CommandError("--alter needs --partitions N (the new, larger count)")
            admin.create_partitions(topic, args.partitions)
            print(f"Topic {topic} now has {args.partitions} partitions.")
        elif args.delete:
            topic = need_topic(args)
            admin.delete_topic(topic)
            print(f"Deleted topic {topic}.")
    return 0


def describe(admin: Admin, args: argparse.Namespace) -> None:
    names = [args.topic] if args.topic else admin.list_topics()
    report: list[dict[str, Any]] = []
    for name in names:
        info = admin.describe_topic(name)
        configs = admin.config_overrides(name)
        report.append({
            "topic": name, "topic_id": info.topic_id,
            "partition_count": len(info.partitions),
            "replication_factor": len(info.partitions[0].replicas) if info.partitions else 0,
            "configs": configs,
            "partitions": [{"partition": p.partition, "leader": p.leader,
                            "replicas": list(p.replicas), "isr": list(p.isr),
                            "leader_epoch": p.leader_epoch,
                            "log_start_offset": p.log_start_offset,
                            "log_end_offset": p.log_end_offset,
                            "high_watermark": p.high_watermark} for p in info.partitions]})
    if args.json:
        print_json(report)
        return
    for topic in report:
        config_text = ",".join(f"{k}={v}" for k, v in topic["configs"].items())
        print(f"Topic: {topic['topic']}\tTopicId: {topic['topic_id']}\t"
              f"PartitionCount: {topic['partition_count']}\t"
              f"ReplicationFactor: {topic['replication_factor']}\tConfigs: {config_text}")
        for p in topic["partitions"]:
            print(f"\tTopic: {topic['topic']}\tPartition: {p['partition']}\t"
                  f"Leader: {p['leader'] if p['leader'] >= 0 else 'none'}\t"
                  f"Replicas: {','.join(map(str, p['replicas']))}\t"
                  f"Isr: {','.join(map(str, p['isr']))}\t"
                  f"LeaderEpoch: {p['leader_epoch']}\t"
                  f"Offsets: {p['log_start_offset']}..{p['high_watermark']}")


# --- configs ----------------------------------------------------------------------------


def run_configs(args: argparse.Namespace) -> int:
    topic = need_topic(args)
    with admin_for(args) as admin:
        if args.describe:
            entries = admin.config_entries(topic)
            shown = entries if args.all else [e for e in entries if not e[2]]
            if args.json:
                print_json({name: value for name, value, _ in shown})
                return 0
            kind = "All" if args.all else "Dynamic"
            print(f"{kind} configs for topic {topic} are:")
            for name, value, is_default in shown:
                print(f"  {name}={value}" + (" (default)" if is_default and args.all else ""))
        else:
            add = parse_assignments(args.add_config or [], "--add-config")
            delete = [k for item in args.delete_config or [] for k in item.split(",") if k]
            if not add and not delete:
                raise CommandError("--alter needs --add-config k=v and/or --delete-config k")
            admin.alter_configs(topic, add, delete=delete)
            print(f"Completed updating config for topic {topic}.")
    return 0


def register(commands: Any) -> None:
    topics = sub_command(
        commands, "topics", "Create, list, describe, alter and delete topics.",
        ["topics --create --topic orders --partitions 3 --replication-factor 3",
         "topics --create --topic logs --partitions 1 --replication-factor 3 "
         "--config retention.ms=60000",
         "topics --list", "topics --describe --topic orders",
         "topics --alter --topic orders --partitions 6", "topics --delete --topic orders"],
        run_topics)
    action = topics.add_mutually_exclusive_group(required=True)
    for flag in ("create", "list", "describe", "alter", "delete"):
        action.add_argument(f"--{flag}", action="store_true", help=f"{flag} topics")
    topics.add_argument("--topic", help="the topic")
    topics.add_argument("--partitions", type=int, help="partition count (create, alter)")
    topics.add_argument("--replication-factor", type=int, help="replicas per partition")
    topics.add_argument("--config", action="append", metavar="KEY=VALUE",
                        help="a topic config at creation (repeatable)")
    topics.add_argument("--include-internal", action="store_true",
                        help="list internal topics too (__consumer_offsets)")
    add_json_option(topics)

    configs = sub_command(
        commands, "configs", "Describe and alter topic configs.",
        ["configs --describe --topic orders", "configs --describe --all --topic orders",
         "configs --alter --topic orders --add-config retention.ms=60000",
         "configs --alter --topic orders --delete-config retention.ms"],
        run_configs)
    action = configs.add_mutually_exclusive_group(required=True)
    action.add_argument("--describe", action="store_true", help="show the topic's configs")
    action.add_argument("--alter", action="store_true", help="change the topic's configs")
    configs.add_argument("--topic", help="the topic")
    configs.add_argument("--entity-type", choices=["topics"], default="topics",
                         help="only topics have configs here")
    configs.add_argument("--entity-name", dest="topic", help="the topic (Kafka's spelling)")
    configs.add_argument("--all", action="store_true", help="include default values")
    configs.add_argument("--add-config", action="append", metavar="K=V[,K=V...]",
                         help="configs to set")
    configs.add_argument("--delete-config", action="append", metavar="K[,K...]",
                         help="configs to reset to their defaults")
    add_json_option(configs)


__all__ = ["register"]
