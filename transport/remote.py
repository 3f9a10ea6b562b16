"""Remote actor references and the per-process postbox that routes replies to asks.

Owns: the process's ``Endpoint``, the table of pending asks (bounded; each entry expires at
its deadline and fails its future with ``RequestTimedOut``), and the hook to which envelopes
for local actors are handed (installed by the process's ``NodeRuntime``, which routes them
to its actors by name; plain programs have none).

An ask to a peer whose connection drops, or that refuses connections, fails at once
(``RequestTimedOut`` naming the lost connection) instead of waiting for its deadline.

``RemoteRef(postbox, address, actor)`` offers ``tell(msg)`` and ``ask(msg, timeout) ->
Future`` so that code outside actors can treat local and remote actors alike.  A reply that is
an ``ErrorReply`` fails the future with the Kafka-named exception it carries.

Must never: block a caller on the network (asks return futures), or import pykka.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from zafka.core.errors import RequestTimedOut, ZafkaError, error_for
from zafka.core.messages import Envelope, ErrorReply
from zafka.transport.auth import Credentials, Principals
from zafka.transport.endpoint import Endpoint

log = logging.getLogger(__name__)

ASK_ACTOR = "_ask"
PENDING_ASKS_MAX = 100_000


class Postbox:
    """Sends envelopes, matches replies to asks, hands the rest to local actors."""

    def __init__(self, bind_url: str = "tcp://127.0.0.1:0", *,
                 credentials: Credentials | None, advertise_host: str | None = None,
                 queue_messages_max: int = 100_000,
                 principals: Principals | None = None) -> None:
        self.endpoint = Endpoint(bind_url, self._on_envelope, credentials=credentials,
                                 advertise_host=advertise_host,
                                 queue_messages_max=queue_messages_max, principals=principals)
        self.endpoint.on_peer_lost = self._on_peer_lost
        self.peer_lost_listeners: list[Callable[[str], None]] = []
        self._local: Callable[[Envelope], None] | None = None
        self._pending: dict[int, Future[Any]] = {}
        self._pending_address: dict[int, str] = {}
        self._deadlines: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._running = False
        self._reaper = threading.Thread(target=self._run_reaper, name="zafka-asks", daemon=True)

    @property
    def address(self) -> str:
        return self.endpoint.address

    def start(self) -> Postbox:
        self.endpoint.start()
        self._running = True
        self._reaper.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._running = False
            self._wake.notify()
        if self._reaper.is_alive():
            self._reaper.join(timeout=2)
        self.endpoint.stop()
        self._fail_all(RequestTimedOut("postbox stopped"))

    def set_local_handler(self, handler: Callable[[Envelope], None] | None) -> None:
        """Install the function that receives envelopes for this process's actors."""
        self._local = handler

    def next_correlation_id(self) -> int:
        return next(self._ids)

    # --- sending ------------------------------------------------------------------------

    def send(self, address: str, dest: str, body: Any, *, correlation_id: int = 0,
             reply_to: str = "") -> bool:
        envelope = Envelope(source=self.address, reply_to=reply_to, dest=dest,
                            correlation_id=correlation_id, body=body)
        if address == self.address and self._local is not None:
            self._on_envelope(dataclasses.replace(envelope, role="local"))
            return True
        return self.endpoint.send(address, envelope)

    def ask(self, address: str, dest: str, body: Any, timeout: float) -> Future[Any]:
        """Send ``body``; the future completes with the reply body or fails."""
        future: Future[Any] = Future()
        correlation_id = self.next_correlation_id()
        with self._lock:
            if len(self._pending) >= PENDING_ASKS_MAX:
                future.set_exception(RequestTimedOut("too many asks in flight"))
                return future
            self._pending[correlation_id] = future
            self._pending_address[correlation_id] = address
            heapq.heappush(self._deadlines, (time.monotonic() + timeout, correlation_id))
            self._wake.notify()
        if not self.send(address, dest, body, correlation_id=correlation_id,
                         reply_to=ASK_ACTOR):
            self._complete(correlation_id, RequestTimedOut("send queue full"))
        return future

    # --- receiving ----------------------------------------------------------------------

    def _on_envelope(self, envelope: Envelope) -> None:
        if envelope.dest == ASK_ACTOR:
            body = envelope.body
            result = error_for(body.code, body.message) if type(body) is ErrorReply else body
            self._complete(envelope.correlation_id, result)
            return
        if self._local is None:
            self.endpoint.counters["dropped_no_actor"] += 1
            return
        self._local(envelope)

    def _complete(self, correlation_id: int, result: Any) -> None:
        with self._lock:
            future = self._pending.pop(correlation_id, None)
            self._pending_address.pop(correlation_id, None)
        if future is None:
            return  # a late reply to an ask that timed out
        if isinstance(result, ZafkaError):
            future.set_exception(result)
        else:
            future.set_result(result)

    def _on_peer_lost(self, address: str) -> None:
        """Fail at once the asks waiting on a peer whose connection dropped, then tell the
        ``peer_lost_listeners`` (outbound thread: a listener must only hand it on)."""
        with self._lock:
            lost = [c for c, a in self._pending_address.items() if a == address]
        for correlation_id in lost:
            self._complete(correlation_id, RequestTimedOut(f"connection to {address} lost"))
        for listener in list(self.peer_lost_listeners):
            listener(address)

    def _run_reaper(self) -> None:
        while True:
            expired: list[int] = []
            with self._lock:
                if not self._running:
                    return
                now = time.monotonic()
                while self._deadlines and self._deadlines[0][0] <= now:
                    expired.append(heapq.heappop(self._deadlines)[1])
                wait = self._deadlines[0][0] - now if self._deadlines else None
                if not expired:
                    self._wake.wait(timeout=wait)
            for correlation_id in expired:
                self._complete(correlation_id, RequestTimedOut("no reply before the deadline"))

    def _fail_all(self, error: ZafkaError) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._pending_address = {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)


class RemoteRef:
    """A reference to actor ``actor`` in the process at ``address``."""

    def __init__(self, postbox: Postbox, address: str, actor: str) -> None:
        self.postbox = postbox
        self.address = address
        self.actor = actor

    def tell(self, message: Any) -> bool:
        """Send ``message`` and forget it; False if it was dropped locally."""
        return self.postbox.send(self.address, self.actor, message)

    def ask(self, message: Any, timeout: float = 5.0) -> Future[Any]:
        """Send ``message``; the future gives the reply, or raises ``RequestTimedOut``."""
        return self.postbox.ask(self.address, self.actor, message, timeout)

    def __repr__(self) -> str:
        return f"RemoteRef({self.address!r}, {self.actor!r})"


__all__ = ["ASK_ACTOR", "Postbox", "RemoteRef"]
