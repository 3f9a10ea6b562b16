"""``zafka console``: serve the live web console of a cluster (or take a picture of it).

Owns: the command's options and its printed URL; the console itself is ``zafka.console``.

Must never: be imported by a layer below ``cli``.
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path
from typing import Any

from zafka.cli.common import sub_command
from zafka.console.browser import screenshot
from zafka.console.sampler import ClusterSampler
from zafka.console.server import ConsoleServer
from zafka.transport.cluster_file import ClusterFile, resolve_path

SCREENSHOT_SAMPLES = 4
"""Sampling rounds before a screenshot, so the charts have points to draw."""


class Console:
    """A running console: its sampler and its HTTP server."""

    def __init__(self, cluster: str, host: str = "127.0.0.1", port: int = 0,
                 interval_s: float = 1.0) -> None:
        config = ClusterFile.load(cluster)
        if not config.console_token:
            raise FileNotFoundError(
                f"the cluster file {cluster} has no console_token; start the cluster once "
                "with this version's launcher ('zafka --brokers 3') to add one")
        self.sampler = ClusterSampler(cluster, interval_s).start()
        try:
            self.server = ConsoleServer(self.sampler, config.console_token, host, port).start()
        except BaseException:
            self.sampler.stop()
            raise
        self.token = config.console_token

    @property
    def login_url(self) -> str:
        return f"{self.server.url}?token={self.token}"

    def stop(self) -> None:
        self.server.stop()
        self.sampler.stop()


def command_console(args: argparse.Namespace) -> int:
    cluster = str(resolve_path(args.cluster))
    console = Console(cluster, args.host, args.port, args.interval)
    try:
        if args.screenshot:
            time.sleep(SCREENSHOT_SAMPLES * args.interval)
            screenshot(console.login_url, Path(args.screenshot))
            print(f"zafka console: saved {args.screenshot}")
            return 0
        print(f"zafka console for {cluster} at {console.login_url}\nPress Ctrl-C to stop.",
              flush=True)
        stopping = False

        def on_signal(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not stopping:
            time.sleep(0.2)
        return 0
    finally:
        console.stop()


def register(commands: Any) -> None:
    """Add the ``console`` sub-command."""
    parser = sub_command(
        commands, "console", "serve a live web page of the cluster (token in the cluster file)",
        ["console", "console --port 8080", "console --screenshot console.png"],
        command_console)
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to serve on (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between samples of the cluster (default 1)")
    parser.add_argument("--screenshot", default=None, metavar="FILE.png",
                        help="save a PNG of the page (headless Chromium) and exit")


__all__ = ["Console", "command_console", "register"]
