"""``chaos``: run the chaos harness against a fresh cluster in a temporary directory.

    python cluster.py chaos --minutes 10 --seed 7 --json chaos.json

Starts 3 coordinators and 3 brokers in a temporary data directory, runs producers and a
consumer group while killing, pausing, partitioning and damaging nodes, then heals, drains and
checks the history; prints the summary (and writes it as JSON with ``--json``).  Exit status
0 when no violation was found, 1 otherwise.  Ctrl-C (or SIGTERM) ends the fault phase early;
the heal, the drain and the checks still run.  The harness is ``zafka.chaos``, shipped with
the package, so this command runs from any install.

Must never: touch a cluster it did not start.
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from zafka.chaos.harness import CHAOS_TUNABLES, ChaosConfig, format_summary, run_chaos
from zafka.chaos.nemesis import DEFAULT_NEMESES, NEMESES
from zafka.cli.common import CommandError, guarded

from zafka.launcher import Cluster


def run_chaos_command(args: argparse.Namespace) -> int:
    nemeses = tuple(args.nemesis or DEFAULT_NEMESES)
    unknown = sorted(set(nemeses) - set(NEMESES))
    if unknown:
        raise CommandError(f"unknown --nemesis {unknown}; known: {', '.join(NEMESES)}")
    config = ChaosConfig(duration_s=args.minutes * 60, seed=args.seed, nemeses=nemeses,
                         partitions=args.partitions, producers=args.producers,
                         rate_per_producer=args.rate)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="zafka-chaos-") as scratch:
        data_dir = Path(args.data_dir) if args.data_dir else Path(scratch)
        print(f"chaos: {args.minutes} min, seed {args.seed}, data in {data_dir}", flush=True)
        with Cluster(brokers=3, coordinators=3, data_dir=data_dir,
                     tunables=dict(CHAOS_TUNABLES), testing=True) as cluster:
            result = run_chaos(cluster, config, log=lambda line: print(line, flush=True),
                               stop=stop)
    print(format_summary(result.summary))
    if args.json:
        Path(args.json).write_text(json.dumps(result.summary, indent=2, default=_plain))
        print(f"summary written to {args.json}")
    if args.history:
        result.history.dump(args.history)
        print(f"history written to {args.history}")
    return 0 if result.ok else 1


def _plain(value: Any) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "chaos", help="run the chaos harness against a fresh local cluster",
        description="Kill, pause, partition and corrupt nodes of a fresh 3+3 cluster under "
                    "load, then check that no acknowledged record was lost, duplicated or "
                    "reordered.",
        epilog="examples:\n  python cluster.py chaos --minutes 2\n"
               "  python cluster.py chaos --minutes 10 --seed 7 --json chaos.json\n"
               "  python cluster.py chaos --minutes 1 --nemesis kill-leader "
               "--nemesis pause-leader",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="how long faults are injected (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault schedule")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write the summary as JSON to FILE")
    parser.add_argument("--history", default=None, metavar="FILE",
                        help="also write the history (faults, every send) as JSON lines")
    parser.add_argument("--nemesis", action="append", default=None, metavar="KIND",
                        help="a fault kind to use (repeatable; default: all)")
    parser.add_argument("--partitions", type=int, default=4, help="workload partitions")
    parser.add_argument("--producers", type=int, default=2, help="producer threads")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="records per second per producer (default 100)")
    parser.add_argument("--data-dir", default=None,
                        help="keep the cluster's data here instead of a temporary directory")
    parser.set_defaults(handler=guarded(run_chaos_command))


__all__ = ["register"]
