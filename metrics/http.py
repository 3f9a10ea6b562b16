"""The ``/metrics`` listener: a threaded WSGI server (``prometheus_client``'s) on one port.

Owns: the listening socket and its threads.  ``GET /metrics`` (or ``/``) answers the text
``render()`` gives — ``prometheus_client``'s exposition of the node's registries; any other
path is 404 and any other method 405.

Must never: block an actor (it runs on its own threads and reads published snapshots only).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import ThreadingWSGIServer

Render = Callable[[], bytes]


class QuietHandler(WSGIRequestHandler):
    """No access log on stderr (a scrape every few seconds would fill a node's terminal)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def metrics_app(render: Render) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: metrics are at /metrics\n"]
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain"),
                                                      ("Allow", "GET, HEAD")])
            return [b"method not allowed\n"]
        body = render()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST),
                                  ("Content-Length", str(len(body)))])
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    return app


class MetricsListener:
    """``/metrics`` on ``host:port`` in daemon threads until ``stop()``."""

    def __init__(self, render: Render, host: str, port: int) -> None:
        self.server = make_server(host, port, metrics_app(render), ThreadingWSGIServer,
                                  handler_class=QuietHandler)
        self.port = int(self.server.server_port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="zafka-metrics")
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


__all__ = ["MetricsListener", "metrics_app"]
