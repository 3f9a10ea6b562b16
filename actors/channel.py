"""A request channel to the controller (the coordinators' Raft leader), for actors.

Owns: the guess of which coordinator is the controller, and the requests in flight to it
(bounded).  A ``NotControllerReply`` moves the guess (to the named leader, else the next
coordinator) and the request is sent again; a request that gets no answer within its ticks is
sent again to the next coordinator; after ``attempts`` tries its callback receives an
``ErrorReply`` (``NO_QUORUM``).  Used by broker actors and the client's admin actor alike.

Must never: block, or deliver a reply to a callback twice.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.messages import Envelope, ErrorReply, NotControllerReply
from zafka.transport.remote import Postbox

REQUESTS_IN_FLIGHT_MAX = 10_000
RETRY_BACKOFF_TICKS = 10


@dataclasses.dataclass(slots=True)
class _InFlight:
    body: Any
    on_reply: Callable[[Any], None]
    timeout_ticks: int
    deadline_tick: int
    attempts_left: int


class ControllerChannel:
    """Requests to whichever coordinator is the controller; replies come back as calls."""

    def __init__(self, postbox: Postbox, coordinators: Sequence[str], reply_to: str) -> None:
        self.postbox = postbox
        self.coordinators = list(coordinators)
        self.reply_to = reply_to
        self.guess = 0
        self.now_tick = 0
        self.in_flight: dict[int, _InFlight] = {}
        self.deferred: list[tuple[int, _InFlight]] = []  # retries waiting for an election
        self._ids = itertools.count(1_000_000_000)

    @property
    def controller_address(self) -> str:
        return self.coordinators[self.guess % len(self.coordinators)]

    def request(self, body: Any, on_reply: Callable[[Any], None], *, timeout_ticks: int = 100,
                attempts: int = 10) -> None:
        if len(self.in_flight) + len(self.deferred) >= REQUESTS_IN_FLIGHT_MAX:
            on_reply(ErrorReply(code=ErrorCode.REQUEST_TIMED_OUT,
                                message="too many controller requests in flight"))
            return
        self._send(_InFlight(body, on_reply, timeout_ticks, 0, attempts))

    def _send(self, entry: _InFlight) -> None:
        entry.attempts_left -= 1
        entry.deadline_tick = self.now_tick + entry.timeout_ticks
        correlation_id = next(self._ids)
        self.in_flight[correlation_id] = entry
        self.postbox.send(self.controller_address, "coordinator", entry.body,
                          correlation_id=correlation_id, reply_to=self.reply_to)

    def owns(self, envelope: Envelope) -> bool:
        return envelope.correlation_id in self.in_flight

    def on_reply(self, envelope: Envelope) -> None:
        """Route a reply; retry elsewhere on ``NotControllerReply``."""
        entry = self.in_flight.pop(envelope.correlation_id, None)
        if entry is None:
            return  # answered already (a late reply to a retried request)
        body = envelope.body
        if isinstance(body, NotControllerReply):
            if body.controller_address in self.coordinators:
                self.guess = self.coordinators.index(body.controller_address)
                self._retry(entry, "the controller moved")
                return
            if envelope.source == self.controller_address:
                self.guess += 1
            self.deferred.append((self.now_tick + RETRY_BACKOFF_TICKS, entry))
            return
        entry.on_reply(body)

    def tick(self, now_tick: int) -> None:
        self.now_tick = now_tick
        due = [entry for tick, entry in self.deferred if tick <= now_tick]
        self.deferred = [(tick, entry) for tick, entry in self.deferred if tick > now_tick]
        for entry in due:
            self._retry(entry, "no controller is elected")
        expired = [c for c, e in self.in_flight.items() if e.deadline_tick <= now_tick]
        for correlation_id in expired:
            entry = self.in_flight.pop(correlation_id)
            self.guess += 1
            self._retry(entry, "no coordinator answered")

    def _retry(self, entry: _InFlight, why: str) -> None:
        if entry.attempts_left > 0:
            self._send(entry)
            return
        entry.on_reply(ErrorReply(code=ErrorCode.NO_QUORUM,
                                  message=f"no quorum: {why} after several attempts"))


__all__ = ["ControllerChannel"]
