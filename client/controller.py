"""Blocking requests to the controller from plain (non-actor) code.

Owns: the guess of which coordinator is the controller for one client, and the retry loop
that follows ``NotControllerReply`` hints and skips coordinators that do not answer, until a
deadline; when no controller answers in time the caller gets ``NoQuorum`` saying how many
coordinators answered at all.
"""

from __future__ import annotations

import time
from typing import Any

from zafka.core.errors import NoQuorum, RequestTimedOut, ZafkaError
from zafka.core.messages import NotControllerReply
from zafka.transport.remote import Postbox

ATTEMPT_TIMEOUT_S = 1.0
BACKOFF_S = 0.05


class ControllerClient:
    """Sends requests to whichever coordinator is the controller."""

    def __init__(self, postbox: Postbox, coordinators: list[str]) -> None:
        self.postbox = postbox
        self.coordinators = coordinators
        self.guess = 0

    def request(self, body: Any, timeout: float) -> Any:
        """The controller's reply to ``body``; ``NoQuorum`` if none answers in ``timeout``."""
        deadline = time.monotonic() + timeout
        answered: set[str] = set()
        last_error: ZafkaError | None = None
        while time.monotonic() < deadline:
            address = self.coordinators[self.guess % len(self.coordinators)]
            attempt = min(ATTEMPT_TIMEOUT_S, max(0.05, deadline - time.monotonic()))
            try:
                reply = self.postbox.ask(address, "coordinator", body, attempt).result()
            except RequestTimedOut:
                self.guess += 1
                continue
            except NoQuorum as error:
                answered.add(address)
                last_error = error
                self.guess += 1
                continue
            answered.add(address)
            if isinstance(reply, NotControllerReply):
                if reply.controller_address in self.coordinators:
                    self.guess = self.coordinators.index(reply.controller_address)
                else:
                    self.guess += 1
                    time.sleep(BACKOFF_S)
                continue
            return reply
        raise NoQuorum(
            f"no quorum: no controller answered within {timeout:.1f} s "
            f"({len(answered)} of {len(self.coordinators)} coordinators reachable; a majority "
            f"of {len(self.coordinators) // 2 + 1} is needed)"
            + (f"; last error: {last_error.message}" if last_error else ""))


__all__ = ["ControllerClient"]
