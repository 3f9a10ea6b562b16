"""The Kafka listener of a broker: an asyncio thread owning the sockets, and a small actor.

Owns: the listening socket and every Kafka client connection (the ``zafka-kafka`` thread's
event loop; sockets never leave it), the table of translated requests in flight, and the
listener's counters.  Each connection's bytes go to a sans-IO ``KafkaConnection``
(``zafka.kafka``); an outcome that asks the broker is sent to the broker actor as a local
message with ``reply_to="kafka"``, one that asks the controller goes to the ``kafka`` actor,
which owns a controller channel.  Replies reach the ``kafka`` actor, which hands them back
to the loop; the handler's ``answer`` turns them into the response, written in request
order.  Pipelining: a connection may have up to ``IN_FLIGHT_PER_CONNECTION_MAX`` requests
in flight; beyond that the loop stops reading it until responses drain.

Authentication: with SASL users configured (the default) each connection's gate
(``kafka.connection``) admits only ApiVersions and the SASL exchange until it succeeds; with
a TLS context every connection is TLS (SASL_SSL).  Authorization: a user who is not a super
user (``KafkaAuth.admins``) has each catalogue request checked against the cluster's ACLs
before it leaves the listener; a refusal is answered as the broker answers one
(``TOPIC_AUTHORIZATION_FAILED``, ``GROUP_AUTHORIZATION_FAILED``,
``CLUSTER_AUTHORIZATION_FAILED``) and counted as ``requests_denied``.

Bad input (counted per reason in ``stats``, the connection closed, every other connection
served on): frames above ``kafka_request_bytes_max``, truncated or undecodable frames,
unknown API keys or versions, requests before authentication, failed authentication, and
connections silent for ``kafka_connection_idle_ms``.

Must never: block an actor, decide anything the broker's cores decide, or let an exception
in one connection end the others.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import logging
import os
import secrets
import socket
import ssl
import threading
from typing import Any

from zafka.actors.base import EXIT_ACTOR_FAILURE, BaseActor
from zafka.actors.channel import ControllerChannel
from zafka.actors.runtime import NodeRuntime
from zafka.core.errors import ErrorCode
from zafka.core.messages import Envelope, ErrorReply, KafkaCall, Tick
from zafka.kafka import Ask, Context, KafkaConnection, Outcome, Respond, Target, Tell
from zafka.kafka.connection import ProtocolViolation
from zafka.kafka.registry import supported_versions
from zafka.kafka.sasl import KafkaUsers

log = logging.getLogger(__name__)

ACTOR_NAME = "kafka"
IN_FLIGHT_PER_CONNECTION_MAX = 100
READ_BYTES = 256 * 1024


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSettings:
    """Where a broker's Kafka listener binds, what address it advertises, and how clients
    authenticate (SASL users; a TLS context for SASL_SSL)."""

    bind_host: str
    port: int  # 0 = any free port
    advertise: str = ""  # "host:port"; "" = ``advertise_host`` and the bound port
    advertise_host: str = "127.0.0.1"
    users: KafkaUsers | None = None  # None: no SASL (--kafka-auth none)
    tls: ssl.SSLContext | None = None
    super_users: frozenset[str] | None = None  # principals past the ACLs; None: everyone


def start_listener(runtime: NodeRuntime, settings: KafkaSettings, cluster_id: str,
                   coordinators: list[str]) -> tuple[KafkaListener, str]:
    """Bind, register the ``kafka`` actor and start serving; (listener, advertised)."""
    listener = KafkaListener(runtime, settings.bind_host, settings.port, settings.users,
                             settings.tls, settings.super_users)
    advertise = settings.advertise or f"{settings.advertise_host}:{listener.port}"
    host, port = advertise.rsplit(":", 1)
    listener.context = Context(
        node_id=runtime.node_id, cluster_id=cluster_id, host=host, port=int(port),
        supported=supported_versions(),
        auto_create_topics=runtime.tunables.kafka_auto_create_topics)
    runtime.register(ACTOR_NAME, KafkaActor.start(runtime, listener, coordinators))
    listener.start()
    return listener, advertise


class KafkaListener:
    """The asyncio side: accepts, reads, writes; runs handlers' outcomes."""

    def __init__(self, runtime: NodeRuntime, bind_host: str, port: int,
                 users: KafkaUsers | None = None, tls: ssl.SSLContext | None = None,
                 super_users: frozenset[str] | None = None) -> None:
        self.runtime = runtime
        self.users = users
        self.tls = tls
        self.super_users = super_users
        self.context = Context(node_id=runtime.node_id, cluster_id="", host=bind_host,
                               port=port)
        self.frame_bytes_max = runtime.tunables.kafka_request_bytes_max
        self.idle_s = runtime.tunables.kafka_connection_idle_ms / 1000
        self.stats: collections.Counter[str] = collections.Counter()
        self.calls: dict[int, tuple[_Client, int, Ask]] = {}
        self._ids = itertools.count(1)
        self.loop = asyncio.new_event_loop()
        self.sock = socket.create_server((bind_host, port), reuse_port=False, backlog=512)
        self.port = self.sock.getsockname()[1]
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[_Client] = set()
        self._thread = threading.Thread(target=self._run, name="zafka-kafka", daemon=True)
        self._started = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(5)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, sock=self.sock, limit=READ_BYTES, ssl=self.tls))
        self._started.set()
        try:
            self.loop.run_forever()
        finally:
            for client in list(self._clients):
                client.writer.close()
            self._server.close()
            self.loop.close()

    # --- connections --------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        context = dataclasses.replace(self.context, peer_host=str(peer[0]) if peer else "")
        client = _Client(self, writer, KafkaConnection(
            context, self.frame_bytes_max, self.users, lambda: secrets.token_hex(16)))
        self._clients.add(client)
        self.stats["connections_accepted"] += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._read_loop(client, reader)
        except (ConnectionError, OSError):
            self.stats["connections_reset"] += 1
        except Exception:  # a bug in a handler: fail fast, like an actor (actors.base)
            log.critical("the Kafka listener failed; the node stops", exc_info=True)
            for handler in logging.getLogger().handlers:
                handler.flush()
            os._exit(EXIT_ACTOR_FAILURE)
        finally:
            self._clients.discard(client)
            client.closed = True
            writer.close()

    async def _read_loop(self, client: _Client, reader: asyncio.StreamReader) -> None:
        while True:
            if client.connection.in_flight >= IN_FLIGHT_PER_CONNECTION_MAX:
                client.drained.clear()
                await client.drained.wait()
            try:
                data = await asyncio.wait_for(reader.read(READ_BYTES), self.idle_s)
            except TimeoutError:
                self.stats["closed_idle"] += 1
                return
            if client.closed:  # closed after a response (failed SASL)
                return
            if not data:
                if client.connection.reader.pending_bytes:
                    self.stats["closed_truncated_frame"] += 1
                return
            try:
                outcomes = client.connection.receive(data)
            except ProtocolViolation as violation:
                self.stats[f"closed_{violation.reason}"] += 1
                log.info("closing a Kafka connection from %s: %s",
                         client.writer.get_extra_info("peername"), violation)
                return
            self.stats["requests"] += len(outcomes)
            for sequence, outcome in outcomes:
                self.carry_out(client, sequence, outcome)

    # --- outcomes -----------------------------------------------------------------------

    def carry_out(self, client: _Client, sequence: int, outcome: Outcome) -> None:
        """Respond, or send the catalogue request and wait for its reply (loop thread)."""
        if isinstance(outcome, Respond):
            client.write(client.connection.respond(sequence, outcome))
            if outcome.close:  # a failed SASL exchange: answered, then the connection ends
                self.stats["closed_sasl_failed"] += 1
                client.closed = True
                client.writer.close()
            return
        denied = self.denied(client, outcome.request)
        if denied is not None:  # answered as the broker would answer a refusal
            self.stats["requests_denied"] += 1
            if isinstance(outcome, Tell):
                client.write(client.connection.respond(sequence, Respond(None)))
            else:
                code, reason = denied
                self.carry_out(client, sequence,
                               outcome.answer(ErrorReply(code=code, message=reason)))
            return
        if isinstance(outcome, Tell):  # no reply wanted, no response owed (acks=0)
            self.runtime.postbox.send(self.runtime.address, outcome.target.value,
                                      outcome.request)
            client.write(client.connection.respond(sequence, Respond(None)))
            return
        call_id = next(self._ids)
        self.calls[call_id] = (client, sequence, outcome)
        if outcome.target is not Target.CONTROLLER:  # this broker's own actors
            self.runtime.postbox.send(self.runtime.address, outcome.target.value,
                                      outcome.request, correlation_id=call_id,
                                      reply_to=ACTOR_NAME)
        else:
            self.runtime.postbox.send(self.runtime.address, ACTOR_NAME,
                                      KafkaCall(call_id=call_id, target=outcome.target.value,
                                                request=outcome.request))

    def denied(self, client: _Client, request: Any) -> tuple[ErrorCode, str] | None:
        """The ACL refusal of ``request`` for the connection's user, or None.  Requests go
        on as this broker's own (local) messages, which the runtime does not check, so the
        listener checks them here (``NodeSecurity.check_request``)."""
        if self.super_users is None:  # no authentication: nobody to tell apart
            return None
        return self.runtime.security.check_request(
            client.connection.principal, request, client.connection.context.peer_host or "*",
            super_users=self.super_users)

    def deliver(self, call_id: int, reply: Any) -> None:
        """A reply for ``call_id`` (any thread): continue its outcome on the loop."""
        self.loop.call_soon_threadsafe(self._on_reply, call_id, reply)

    def _on_reply(self, call_id: int, reply: Any) -> None:
        entry = self.calls.pop(call_id, None)
        if entry is None:
            return
        client, sequence, ask = entry
        if client.closed:
            return
        self.carry_out(client, sequence, ask.answer(reply))


class _Client:
    """A connection as the loop sees it."""

    def __init__(self, listener: KafkaListener, writer: asyncio.StreamWriter,
                 connection: KafkaConnection) -> None:
        self.listener = listener
        self.writer = writer
        self.connection = connection
        self.closed = False
        self.drained = asyncio.Event()

    def write(self, data: bytes) -> None:
        if data and not self.closed:
            self.writer.write(data)
        if self.connection.in_flight < IN_FLIGHT_PER_CONNECTION_MAX:
            self.drained.set()


class KafkaActor(BaseActor):
    """Receives replies for the listener, and sends its controller requests."""

    def __init__(self, runtime: NodeRuntime, listener: KafkaListener,
                 coordinators: list[str]) -> None:
        super().__init__(runtime, ACTOR_NAME)
        self.listener = listener
        self.channel = ControllerChannel(runtime.postbox, coordinators, ACTOR_NAME)
        self.now_tick = 0

    def on_receive(self, message: Any) -> Any:
        if type(message) is Envelope and type(message.body) is not KafkaCall:
            if self.channel.owns(message):
                self.channel.on_reply(message)
            else:
                self.listener.deliver(message.correlation_id, message.body)
            return None
        return super().on_receive(message)

    def on_kafka_call(self, call: KafkaCall, envelope: Envelope) -> None:
        self.channel.now_tick = max(self.channel.now_tick, self.runtime.ticker.count)
        self.channel.request(call.request,
                             lambda reply: self.listener.deliver(call.call_id, reply))
        self.wake_in(1)

    def on_tick(self, tick: Tick) -> None:
        self.now_tick = tick.count
        self.channel.tick(tick.count)
        if self.channel.in_flight or self.channel.deferred:
            self.wake_in(10)

    def on_stop(self) -> None:
        self.listener.stop()


__all__ = ["ACTOR_NAME", "KafkaActor", "KafkaListener"]
