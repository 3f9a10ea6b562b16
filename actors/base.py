"""The base actor: message type -> ``on_<message>`` handler, fail fast.

Owns: dispatch.  An ``Envelope`` is dispatched on its body's type to
``on_<snake_case_type>(body, envelope)``; a ``Tick`` to ``on_tick(tick)``.  A request whose
body this actor does not serve is answered with ``INVALID_REQUEST`` and counted (peers may send
anything in the catalogue); any other message without a handler is a bug, and any error in a
handler ends the whole node process (after the traceback is logged): recovery comes from disk
and replication, never from limping on.

Must never: block in a handler (no ``ask().get()``, no sleep), or swallow an exception.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pykka
from zafka.core.errors import ErrorCode
from zafka.core.messages import Envelope, ErrorReply, Tick

if TYPE_CHECKING:
    from zafka.actors.runtime import NodeRuntime

log = logging.getLogger(__name__)

EXIT_ACTOR_FAILURE = 70
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def handler_name(message_type: type) -> str:
    """``ProduceRequest`` -> ``on_produce_request``."""
    return "on_" + _CAMEL.sub("_", message_type.__name__).lower()


class UnknownMessage(Exception):
    """An actor received a message it has no handler for."""


class BaseActor(pykka.ThreadingActor):
    """A zafka actor hosted by a ``NodeRuntime`` under ``name``."""

    def __init__(self, runtime: NodeRuntime, name: str) -> None:
        super().__init__()
        self.runtime = runtime
        self.name = name
        self.logger = logging.LoggerAdapter(logging.getLogger(f"zafka.{name}"), {})
        self._handlers: dict[type, Callable[..., Any] | None] = {}
        self.refused = 0  # requests for messages this actor does not serve

    # --- dispatch -----------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if type(message) is Envelope:
            handler = self._handler(type(message.body))
            if handler is None:  # a peer sent a catalogue message this actor does not serve
                self.refused += 1
                self.reply_error(message, ErrorCode.INVALID_REQUEST,
                                 f"{self.name} does not serve {type(message.body).__name__}")
                return None
            return handler(message.body, message)
        if type(message) is Tick:
            self.runtime.ticker.handled(self.actor_urn)
            return self.on_tick(message)
        raise UnknownMessage(f"{self.name} cannot handle {type(message).__qualname__}")

    def _handler(self, message_type: type) -> Callable[..., Any] | None:
        if message_type not in self._handlers:
            self._handlers[message_type] = getattr(self, handler_name(message_type), None)
        return self._handlers[message_type]

    def on_tick(self, tick: Tick) -> None:
        raise UnknownMessage(f"{self.name} subscribed to ticks without on_tick")

    def wake_in(self, ticks: int) -> None:
        """Ask the process ticker for one ``Tick`` after ``ticks`` ticks."""
        ticker = self.runtime.ticker
        ticker.wake_at(self.name, self.actor_ref, ticker.count + max(1, ticks))

    def wake_after(self, delay_s: float) -> None:
        """Ask the process ticker for one ``Tick`` ``delay_s`` seconds from now, to about a
        millisecond (for options users set in milliseconds; node timers use ``wake_in``)."""
        self.runtime.ticker.wake_after(self.name, self.actor_ref, delay_s)

    # --- sending ------------------------------------------------------------------------

    def send(self, address: str, dest: str, body: Any, *, correlation_id: int = 0,
             reply_to: str = "") -> None:
        """Send ``body`` to actor ``dest`` at ``address`` (replies, if any, to ``reply_to``)."""
        self.runtime.postbox.send(address, dest, body, correlation_id=correlation_id,
                                  reply_to=reply_to)

    def reply(self, envelope: Envelope, body: Any) -> None:
        """Answer the request in ``envelope`` (nothing, if it asked for no reply)."""
        if envelope.reply_to:
            self.runtime.postbox.send(envelope.source, envelope.reply_to, body,
                                      correlation_id=envelope.correlation_id)

    def reply_error(self, envelope: Envelope, code: ErrorCode, message: str = "") -> None:
        self.reply(envelope, ErrorReply(code=code, message=message))

    # --- failure ------------------------------------------------------------------------

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        log.critical("actor %s failed; the node stops", self.name,
                     exc_info=(exception_type, exception_value, traceback))
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_ACTOR_FAILURE)


__all__ = ["BaseActor", "EXIT_ACTOR_FAILURE", "UnknownMessage", "handler_name"]
