"""The whole command line: ``zafka`` (installed) and ``python cluster.py`` (a checkout).

Owns: the root parser, its run options (``zafka --brokers 3`` runs a cluster in the
foreground) and the sub-commands each ``cli`` module registers; ``main`` maps errors to one
line on stderr and an exit status.

Must never: be imported by anything but the entry points and tests.
"""

from __future__ import annotations

import argparse
import sys

from zafka.cli import chaos, console, perf, reassign, run, security, topics, web_console
from zafka.transport.cluster_file import ClusterFileError

from zafka.launcher import ClusterError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cluster.py",
        description="Run a zafka cluster, or drive one with a sub-command.",
        epilog="examples:\n  python cluster.py --brokers 3\n  python cluster.py status --json\n"
               "  python cluster.py topics --create --topic orders --partitions 3 "
               "--replication-factor 3\n  python cluster.py COMMAND --help",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", type=int, default=3, help="broker processes (default 3)")
    parser.add_argument("--coordinators", type=int, default=3,
                        help="coordinator processes, an odd number (default 3)")
    parser.add_argument("--data-dir", default="data", help="data directory (default ./data)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=None,
                        help="first port; nodes take consecutive ports (default: free ports)")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--console", action="store_true",
                        help="also serve the web console (its URL, with the token, is printed)")
    parser.add_argument("--insecure", action="store_true",
                        help="turn authentication off (benchmarks only; never in production)")
    parser.add_argument("--kafka-auth", choices=["scram", "none"], default="scram",
                        help="Kafka clients authenticate with SASL SCRAM-SHA-256 (default) or "
                             "not at all (none: an explicit opt-in for a local listener)")
    parser.add_argument("--kafka-tls", action="store_true",
                        help="Kafka listeners use TLS (SASL_SSL) with a generated cluster CA")
    parser.set_defaults(handler=run.command_run)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run.register(commands)
    chaos.register(commands)
    topics.register(commands)
    console.register(commands)
    web_console.register(commands)
    perf.register(commands)
    reassign.register(commands)
    security.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ClusterError, ClusterFileError, FileNotFoundError) as exc:
        print(f"zafka: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
