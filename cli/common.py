"""What every sub-command shares: the ``--cluster`` option, errors as one line, tables."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from zafka.core.errors import ZafkaError
from zafka.transport.cluster_file import ADMIN_PATH, ClusterFileError, resolve_path

EXIT_ERROR = 1
EXIT_USAGE = 2
CLI_TIMEOUT_MS = 15_000


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def add_cluster_option(parser: argparse.ArgumentParser, default_file: str = ADMIN_PATH) -> None:
    parser.add_argument("--cluster", default=None, metavar="FILE",
                        help=f"cluster file (default: $ZAFKA_CLUSTER, else ./{default_file})")
    parser.set_defaults(default_cluster_file=default_file)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def sub_command(commands: Any, name: str, help_text: str, examples: Sequence[str],
                handler: Callable[[argparse.Namespace], int], *,
                default_file: str = ADMIN_PATH) -> argparse.ArgumentParser:
    """A sub-command parser with ``--cluster`` and an examples epilog.  ``--cluster``
    defaults to $ZAFKA_CLUSTER, else ``default_file``: the admin identity's file for admin
    tools, ``DEFAULT_PATH`` (the application identity's) for producers and consumers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help_text, description=help_text,
        epilog="examples:\n" + "\n".join(f"  python cluster.py {e}" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_cluster_option(parser, default_file)
    parser.set_defaults(handler=guarded(handler))
    return parser


def guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``handler``; any zafka error or bad input becomes one line on stderr."""

    def run(args: argparse.Namespace) -> int:
        if getattr(args, "cluster", "") is None:
            args.cluster = str(resolve_path(None, args.default_cluster_file))
        try:
            return handler(args)
        except ZafkaError as error:
            print(f"zafka: {type(error).__name__}: {error.message}", file=sys.stderr)
        except CommandError as error:
            print(f"zafka: {error}", file=sys.stderr)
        except (FileNotFoundError, ClusterFileError) as error:
            print(f"zafka: {error}", file=sys.stderr)
        return EXIT_ERROR

    return run


def parse_assignments(items: Sequence[str], what: str) -> dict[str, str]:
    """``["a=1", "b=2,c=3"]`` -> ``{"a": "1", "b": "2", "c": "3"}``."""
    result: dict[str, str] = {}
    for item in items:
        for pair in filter(None, item.split(",")):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"{what} {pair!r} is not of the form key=value")
            result[key.strip()] = value.strip()
    return result


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain text table; ``None`` shows as ``-``."""
    def cell(row: dict[str, Any], column: str) -> str:
        value = row.get(column)
        return "-" if value is None else str(value)

    widths = [max([len(c), *(len(cell(r, c)) for r in rows)]) for c in columns]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(cell(r, c).ljust(w) for c, w in zip(columns, widths, strict=True))
              .rstrip() for r in rows]
    return "\n".join(lines)


__all__ = ["CLI_TIMEOUT_MS", "CommandError", "add_cluster_option", "add_json_option",
           "format_table", "guarded", "parse_assignments", "print_json", "sub_command"]
