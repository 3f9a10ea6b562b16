"""The console's HTTP side: one page, one JSON state, three confirmed writes, a token.

Owns: the listening socket (loopback unless told otherwise) and the request rules.  Every
path needs the cluster file's console token — as ``?token=`` on the page (kept in an
HttpOnly, SameSite=Strict cookie, then redirected to a clean URL), or the cookie, or an
``Authorization: Bearer`` header.  Writes are POSTs of small JSON bodies carrying the
``X-Zafka-Console`` header (which a cross-site form cannot send).  Anything else gets a
plain HTTP error: 401 without a token, 403 with a wrong one, 404 for an unknown path, 405
for another method, 411/413 for a body without a length or over ``BODY_BYTES_MAX``, 400 for
a body that is not what the write needs — and nothing changes.

The server is the standard library's ``ThreadingHTTPServer``: the console serves a page and
a JSON document to a few people, its work is blocking client calls (one thread per request
fits them), and it keeps the console free of a web framework; the limits a framework would
give (body size, methods, header sizes via ``http.server``'s own) are set here.

Must never: serve without the token, or write to the cluster except on a POST.
"""

from __future__ import annotations

import hmac
import http.server
import json
import logging
import threading
import urllib.parse
from http import HTTPStatus
from http.cookies import SimpleCookie
from importlib import resources
from typing import Any

from zafka.console.sampler import ClusterSampler
from zafka.core.errors import ZafkaError

log = logging.getLogger(__name__)

BODY_BYTES_MAX = 16 * 1024
COOKIE = "zafka_console"
WRITE_HEADER = "X-Zafka-Console"
PARTITIONS_MAX = 10_000


class BadRequest(Exception):
    """A write whose body is not what it needs (answered 400)."""


class ConsoleServer:
    """The web console of one cluster, served until ``stop()``."""

    def __init__(self, sampler: ClusterSampler, token: str, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        if not token:
            raise ValueError("the console needs a token (the cluster file's console_token)")
        self.sampler = sampler
        self.token = token
        self.page = resources.files("zafka.console").joinpath("static/index.html").read_bytes()
        handler = type("Handler", (ConsoleHandler,), {"console": self})
        self.httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="console-http",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> ConsoleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def allowed(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    # --- writes -------------------------------------------------------------------------

    def write(self, path: str, body: dict[str, Any]) -> str:
        """Carry out the write ``path`` names; what was done, in words."""
        parts = path.strip("/").split("/")
        if parts == ["api", "topics"]:
            name = _name(body.get("name"))
            partitions = _integer(body, "partitions", 1, PARTITIONS_MAX)
            factor = _integer(body, "replication_factor", 1, 1_000)
            self.sampler.create_topic(name, partitions, factor)
            return f"created topic {name} ({partitions} partitions, {factor} replicas)"
        if len(parts) == 4 and parts[:2] == ["api", "topics"]:
            name = _name(urllib.parse.unquote(parts[2]))
            if parts[3] == "retention":
                retention = _integer(body, "retention_ms", -1, 2**63 - 1)
                self.sampler.alter_retention(name, retention)
                return f"retention.ms of {name} is now {retention}"
            if parts[3] == "partitions":
                total = _integer(body, "total", 1, PARTITIONS_MAX)
                self.sampler.add_partitions(name, total)
                return f"{name} now has {total} partitions"
        raise LookupError(path)


class ConsoleHandler(http.server.BaseHTTPRequestHandler):
    """One request (see the module docstring)."""

    console: ConsoleServer
    server_version = "zafka-console"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # --- answers ------------------------------------------------------------------------

    def answer(self, status: HTTPStatus, body: bytes, content_type: str,
               headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; "
                         "script-src 'unsafe-inline'; style-src 'unsafe-inline'")
        for key, header in (headers or {}).items():
            self.send_header(key, header)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def answer_json(self, status: HTTPStatus, document: Any) -> None:
        self.answer(status, json.dumps(document).encode(), "application/json")

    def refuse(self, status: HTTPStatus, message: str) -> None:
        self.answer_json(status, {"error": status.phrase, "message": message})

    def token_given(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header.removeprefix("Bearer ").strip()
        cookies = SimpleCookie(self.headers.get("Cookie", ""))
        return cookies[COOKIE].value if COOKIE in cookies else None

    def authorized(self, given: str | None) -> bool:
        if given is None:
            self.refuse(HTTPStatus.UNAUTHORIZED, "this console needs its token: open the URL "
                        "'zafka console' printed (…/?token=…); the token is the cluster "
                        "file's console_token")
            return False
        if not self.console.allowed(given):
            self.refuse(HTTPStatus.FORBIDDEN, "wrong console token")
            return False
        return True

    # --- methods ------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/" and "token" in query:
            if self.authorized(query["token"][0]):
                cookie = f"{COOKIE}={self.console.token}; HttpOnly; SameSite=Strict; Path=/"
                self.answer(HTTPStatus.SEE_OTHER, b"", "text/plain",
                            {"Location": "/", "Set-Cookie": cookie})
            return
        if not self.authorized(self.token_given()):
            return
        if url.path == "/":
            self.answer(HTTPStatus.OK, self.console.page, "text/html; charset=utf-8")
        elif url.path == "/api/state":
            self.answer_json(HTTPStatus.OK, self.console.sampler.state)
        else:
            self.refuse(HTTPStatus.NOT_FOUND, f"no page {url.path!r}")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if not self.authorized(self.token_given()):
            self.close_connection = True
            return
        if self.headers.get(WRITE_HEADER) != "1":
            self.refuse(HTTPStatus.FORBIDDEN, f"writes carry the {WRITE_HEADER}: 1 header")
            self.close_connection = True
            return
        body = self.read_body()
        if body is None:
            return
        try:
            done = self.console.write(urllib.parse.urlsplit(self.path).path, body)
        except LookupError:
            self.refuse(HTTPStatus.NOT_FOUND, f"no write {self.path!r}")
        except BadRequest as error:
            self.refuse(HTTPStatus.BAD_REQUEST, str(error))
        except ZafkaError as error:
            self.answer_json(HTTPStatus.BAD_REQUEST, {"error": type(error).__name__,
                                                      "message": error.message})
        else:
            log.info("console: %s", done)
            self.answer_json(HTTPStatus.OK, {"done": done})

    def read_body(self) -> dict[str, Any] | None:
        """The JSON object of the request body, or None once refused."""
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self.close_connection = True
            self.refuse(HTTPStatus.LENGTH_REQUIRED, "a write needs a Content-Length")
            return None
        length = int(length_text)
        if length > BODY_BYTES_MAX:
            self.close_connection = True  # the body is not read: the connection cannot go on
            self.refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"a write's body is at most {BODY_BYTES_MAX} bytes, not {length}")
            return None
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            self.refuse(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {error}")
            return None
        if not isinstance(body, dict):
            self.refuse(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
            return None
        return body

    def do_not_allowed(self) -> None:
        self.close_connection = True
        self.refuse(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not served here")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_not_allowed


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 249:
        raise BadRequest("a topic name is a string of 1 to 249 characters")
    return value


def _integer(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body.get(key)
    if type(value) is not int or not low <= value <= high:
        raise BadRequest(f"{key} must be a whole number from {low} to {high}")
    return value


__all__ = ["BODY_BYTES_MAX", "ConsoleServer"]
