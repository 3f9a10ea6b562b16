"""``reassign``, ``elect-leaders`` and ``decommission``: move replicas between brokers.

``reassign`` follows Kafka's ``kafka-reassign-partitions.sh`` (``--generate``, ``--execute``,
``--verify``, ``--cancel``; plans are Kafka's JSON: ``{"version": 1, "partitions": [{"topic",
"partition", "replicas", "log_dirs"}]}``), ``elect-leaders`` its ``kafka-leader-election.sh``
(preferred elections).  ``decommission`` moves every replica off one broker, waits until the
moves complete and says when the broker process can be stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from zafka.cli.common import CLI_TIMEOUT_MS, CommandError, add_json_option, print_json, sub_command
from zafka.client.admin import Admin, Plan
from zafka.core.errors import ZafkaError
from zafka.core.messages import OngoingReassignment

DECOMMISSION_WAIT_S = 300.0


def admin_for(args: argparse.Namespace) -> Admin:
    return Admin(args.cluster, request_timeout_ms=CLI_TIMEOUT_MS)


def name(key: tuple[str, int]) -> str:
    return f"{key[0]}-{key[1]}"


# --- plans as Kafka's JSON --------------------------------------------------------------


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {"version": 1, "partitions": [
        {"topic": topic, "partition": partition, "replicas": list(replicas),
         "log_dirs": ["any"] * len(replicas)}
        for (topic, partition), replicas in sorted(plan.items())]}


def plan_from_json(text: str, source: str) -> Plan:
    """The plan in Kafka's reassignment JSON (or the ``proposed`` part of ``--generate
    --json``); ``CommandError`` naming what is wrong."""
    try:
        document = json.loads(text)
        if "partitions" not in document and "proposed" in document:
            document = document["proposed"]
        entries = document["partitions"]
        plan: Plan = {}
        for entry in entries:
            key = (str(entry["topic"]), int(entry["partition"]))
            if key in plan:
                raise CommandError(f"{source}: partition {name(key)} appears twice")
            plan[key] = tuple(int(b) for b in entry["replicas"])
    except (ValueError, KeyError, TypeError) as error:
        raise CommandError(f"{source} is not a reassignment plan "
                           f'({{"version": 1, "partitions": [{{"topic", "partition", '
                           f'"replicas"}}]}}): {error!r}') from None
    if not plan:
        raise CommandError(f"{source} lists no partitions")
    return plan


def read_plan(args: argparse.Namespace) -> Plan:
    if not args.plan:
        raise CommandError("--plan FILE (Kafka's --reassignment-json-file) is required here")
    return plan_from_json(Path(args.plan).read_text(), args.plan)


def parse_brokers(text: str | None) -> list[int]:
    try:
        brokers = [int(b) for b in (text or "").split(",") if b.strip()]
    except ValueError:
        raise CommandError(f"--brokers must be broker ids like 1,2,4, not {text!r}") from None
    if not brokers:
        raise CommandError("--brokers 1,2,4 (the brokers to place the replicas on) is required")
    return brokers


def raise_refused(results: dict[tuple[str, int], ZafkaError | None], action: str) -> None:
    refused = {k: e for k, e in results.items() if e is not None}
    if refused:
        details = "; ".join(f"{name(k)}: {type(e).__name__}: {e.message}"
                            for k, e in sorted(refused.items()))
        raise CommandError(f"{action} refused for {len(refused)} of {len(results)} "
                           f"partitions: {details}")


def describe_ongoing(ongoing: OngoingReassignment) -> str:
    return (f"replicas {list(ongoing.replicas)}, adding {list(ongoing.adding_replicas)}, "
            f"removing {list(ongoing.removing_replicas)}")


# --- reassign ---------------------------------------------------------------------------


def run_reassign(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        if args.generate:
            generate(admin, args)
        elif args.execute:
            execute(admin, read_plan(args), args)
        elif args.verify:
            verify(admin, read_plan(args), args)
        else:
            cancel(admin, read_plan(args), args)
    return 0


def generate(admin: Admin, args: argparse.Namespace) -> None:
    topics = [t for item in args.topics or [] for t in item.split(",") if t]
    if not topics:
        raise CommandError("--topics T[,T...] (the topics to move) is required with --generate")
    proposed = admin.generate_reassignment(topics, parse_brokers(args.brokers))
    current = admin.partition_assignments(topics)
    if args.json:
        print_json({"current": plan_to_json(current), "proposed": plan_to_json(proposed)})
        return
    print("Current partition replica assignment")
    print(json.dumps(plan_to_json(current)))
    print("\nProposed partition reassignment configuration")
    print(json.dumps(plan_to_json(proposed)))


def execute(admin: Admin, plan: Plan, args: argparse.Namespace) -> None:
    current = admin.partition_assignments(sorted({topic for topic, _ in plan}))
    rollback = {key: current[key] for key in plan if key in current}
    raise_refused(admin.alter_partition_reassignments(plan), "reassignment")
    if args.json:
        print_json({"started": [name(k) for k in sorted(plan)],
                    "rollback": plan_to_json(rollback)})
        return
    print("Current partition replica assignment")
    print(json.dumps(plan_to_json(rollback)))
    print("\nSave this to use as the --plan of a later --execute to roll back")
    print("Successfully started partition reassignments for "
          + ",".join(name(k) for k in sorted(plan)))


def verify(admin: Admin, plan: Plan, args: argparse.Namespace) -> None:
    ongoing = admin.list_partition_reassignments(plan)
    current = admin.partition_assignments(sorted({topic for topic, _ in plan}))
    report = []
    for key, target in sorted(plan.items()):
        if key in ongoing:
            state, detail = "in progress", describe_ongoing(ongoing[key])
        elif current.get(key) == target:
            state, detail = "complete", f"replicas {list(target)}"
        else:
            state = "not started"
            detail = (f"no reassignment is active, but the replicas are "
                      f"{list(current.get(key, ()))} rather than {list(target)}")
        report.append({"partition": name(key), "state": state, "detail": detail})
    if args.json:
        print_json(report)
        return
    print("Status of partition reassignment:")
    for row in report:
        print(f"Reassignment of partition {row['partition']} is {row['state']}: "
              f"{row['detail']}.")


def cancel(admin: Admin, plan: Plan, args: argparse.Namespace) -> None:
    ongoing = admin.list_partition_reassignments(plan)
    raise_refused(admin.alter_partition_reassignments(dict.fromkeys(ongoing)), "cancellation")
    idle = sorted(set(plan) - set(ongoing))
    if args.json:
        print_json({"cancelled": [name(k) for k in sorted(ongoing)],
                    "not_in_progress": [name(k) for k in idle]})
        return
    if ongoing:
        print("Successfully cancelled partition reassignments for: "
              + ",".join(name(k) for k in sorted(ongoing)))
    if idle:
        print("None in progress (nothing to cancel) for: " + ",".join(name(k) for k in idle))


# --- elect-leaders ----------------------------------------------------------------------


def run_elect_leaders(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        results = admin.elect_leaders([args.topic] if args.topic else None)
    done = sorted(k for k, e in results.items() if e is None)
    if args.json:
        print_json({name(k): None if e is None else f"{type(e).__name__}: {e.message}"
                    for k, e in sorted(results.items())})
    elif done:
        print("Preferred replica leads (elected now or already) for partitions "
              + ",".join(name(k) for k in done))
    raise_refused(results, "preferred leader election")
    return 0


# --- decommission -----------------------------------------------------------------------


def run_decommission(args: argparse.Namespace) -> int:
    broker = args.broker
    with admin_for(args) as admin:
        plan = admin.plan_decommission(broker)
        if plan:
            print(f"Moving {len(plan)} partition replicas off broker {broker}:")
            for key, target in sorted(plan.items()):
                print(f"  {name(key)} -> {list(target)}")
            raise_refused(admin.alter_partition_reassignments(plan), "reassignment")
            started = time.monotonic()
            left = admin.wait_for_reassignments(plan, args.wait_seconds)
            if left:
                details = "; ".join(f"{name(k)}: {describe_ongoing(o)}"
                                    for k, o in sorted(left.items()))
                raise CommandError(
                    f"timed out after {args.wait_seconds:g} s with {len(left)} reassignments "
                    f"still in progress ({details}); they go on in the background, follow "
                    f"them with 'reassign --verify'")
            print(f"All {len(plan)} reassignments completed in "
                  f"{time.monotonic() - started:.1f} s.")
        wait_until_empty(admin, broker, args.wait_seconds)
    print(f"Broker {broker} holds no replicas and can be stopped.")
    return 0


def wait_until_empty(admin: Admin, broker: int, timeout_s: float) -> None:
    """Wait until ``broker`` itself reports it runs no replica (if it answers at all)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            hosted = admin.hosted_replicas(broker)
        except ZafkaError:
            print(f"(broker {broker} does not answer; the metadata places no replica on it)",
                  file=sys.stderr)
            return
        if not hosted:
            return
        if time.monotonic() >= deadline:
            raise CommandError(f"broker {broker} still runs {len(hosted)} replicas after "
                               f"{timeout_s:g} s: {', '.join(map(name, hosted))}")
        time.sleep(0.2)


def register(commands: Any) -> None:
    reassign = sub_command(
        commands, "reassign", "Move partition replicas between brokers (KIP-455).",
        ["reassign --generate --topics orders,logs --brokers 2,3,4",
         "reassign --generate --topics orders --brokers 2,3,4 --json > plan.json",
         "reassign --execute --plan plan.json", "reassign --verify --plan plan.json",
         "reassign --cancel --plan plan.json"],
        run_reassign)
    action = reassign.add_mutually_exclusive_group(required=True)
    action.add_argument("--generate", action="store_true",
                        help="print the current and a proposed, balanced assignment")
    action.add_argument("--execute", action="store_true", help="start the plan's moves")
    action.add_argument("--verify", action="store_true",
                        help="report each partition of the plan: complete or in progress")
    action.add_argument("--cancel", action="store_true",
                        help="cancel the plan's moves still in progress")
    reassign.add_argument("--topics", action="append", metavar="T[,T...]",
                          help="topics to move (--generate)")
    reassign.add_argument("--brokers", metavar="1,2,4", help="brokers to move onto (--generate)")
    reassign.add_argument("--plan", "--reassignment-json-file", dest="plan", metavar="FILE",
                          help="the plan: Kafka's reassignment JSON")
    add_json_option(reassign)

    elect = sub_command(
        commands, "elect-leaders", "Move leadership back to each partition's preferred replica.",
        ["elect-leaders", "elect-leaders --topic orders"], run_elect_leaders)
    elect.add_argument("--topic", help="only this topic's partitions (default: all topics)")
    elect.add_argument("--election-type", choices=["preferred"], default="preferred",
                       help="only preferred elections are offered")
    add_json_option(elect)

    decommission = sub_command(
        commands, "decommission",
        "Move every replica off a broker onto the other live brokers, then say when it can "
        "be stopped.",
        ["decommission --broker 1", "decommission --broker 4 --wait-seconds 600"],
        run_decommission)
    decommission.add_argument("--broker", type=int, required=True, help="the broker to empty")
    decommission.add_argument("--wait-seconds", type=float, default=DECOMMISSION_WAIT_S,
                              help=f"how long to wait for the moves "
                                   f"(default {DECOMMISSION_WAIT_S:g})")


__all__ = ["plan_from_json", "plan_to_json", "register"]
