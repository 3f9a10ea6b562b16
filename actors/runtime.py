"""One node process's runtime: postbox, actor registry (router) and ticker.

Owns: the name -> actor-ref table of this process and the single ticker thread.  Before
anything is delivered, ``actors.security`` checks the sender's role against the message's
audience and the request against the ACLs; a refused one is answered with Kafka's
authorization error (if it wanted a reply) and counted.  Envelopes for a local actor are told
to its ref; an envelope for a name nobody holds gets an
``ErrorReply`` (if it wanted a reply) and is counted.  Ticks go only to actors that asked for
them, so idle actors cost nothing.

Must never: run protocol logic, or send periodic messages to actors that did not subscribe.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from typing import Any

import pykka
from zafka.actors.security import NodeSecurity
from zafka.core.config import Tunables
from zafka.core.errors import ErrorCode
from zafka.core.messages import Envelope, ErrorReply, Tick
from zafka.metrics import NodeMetrics
from zafka.transport.auth import Credentials, Principals
from zafka.transport.remote import Postbox, RemoteRef

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0  # how long stop() waits for the actors of a runtime, all together


class Ticker:
    """One thread per process that tells ``Tick`` to actors: every ``tick_ms`` to those
    subscribed, and once at the due tick to those that asked for a wake-up (``wake_at``).

    A subscriber still busy with its last tick is not told another (it reports ``handled``
    when it takes one): an actor whose tick work outgrows ``tick_ms`` then ticks less
    often, rather than filling its mailbox with ticks that bury every request behind them.

    Client actors honour options users set in milliseconds (``linger_ms``, back-offs,
    timeouts) with ``wake_after``: a one-shot ``Tick`` at a monotonic deadline, to within
    about a millisecond, from the same thread (it sleeps until the earlier of the next tick
    and the next such deadline).  Node-internal timers stay in ticks."""

    def __init__(self, tick_ms: int) -> None:
        self.tick_ms = tick_ms
        self.count = 0
        self._subscribers: dict[str, pykka.ActorRef[Any]] = {}
        self._timers: list[tuple[int, int, str, pykka.ActorRef[Any]]] = []
        self._due: dict[str, int] = {}
        self._unhandled: set[str] = set()  # urns of subscribers told a tick not taken yet
        self._sequence = 0
        self._precise: list[tuple[float, int, str, pykka.ActorRef[Any]]] = []
        self._due_s: dict[str, float] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="zafka-ticker", daemon=True)

    def subscribe(self, name: str, ref: pykka.ActorRef[Any]) -> None:
        with self._lock:
            self._subscribers[name] = ref

    def unsubscribe(self, name: str) -> None:
        with self._lock:
            ref = self._subscribers.pop(name, None)
            self._due.pop(name, None)
            self._due_s.pop(name, None)
            if ref is not None:
                self._unhandled.discard(ref.actor_urn)

    def handled(self, actor_urn: str) -> None:
        """The actor ``actor_urn`` took its tick off its mailbox: it may be told the next."""
        with self._lock:
            self._unhandled.discard(actor_urn)

    def wake_at(self, name: str, ref: pykka.ActorRef[Any], due_tick: int) -> None:
        """Tell ``Tick`` to ``ref`` once the tick count reaches ``due_tick`` (the earliest of
        several requests wins)."""
        with self._lock:
            current = self._due.get(name)
            if current is not None and current <= due_tick:
                return
            self._due[name] = due_tick
            self._sequence += 1
            heapq.heappush(self._timers, (due_tick, self._sequence, name, ref))

    def wake_after(self, name: str, ref: pykka.ActorRef[Any], delay_s: float) -> None:
        """Tell ``Tick`` to ``ref`` once, ``delay_s`` seconds from now (to about a
        millisecond; the earliest of several requests wins)."""
        due = time.monotonic() + max(0.0, delay_s)
        with self._lock:
            current = self._due_s.get(name)
            if current is not None and current <= due:
                return
            self._due_s[name] = due
            self._sequence += 1
            heapq.heappush(self._precise, (due, self._sequence, name, ref))
            if self._precise[0][2] == name and self._precise[0][0] == due:
                self._changed.notify()

    def _pop_precise(self, now: float) -> list[pykka.ActorRef[Any]]:
        due = []
        while self._precise and self._precise[0][0] <= now:
            when, _, name, ref = heapq.heappop(self._precise)
            if self._due_s.get(name) == when:
                del self._due_s[name]
                due.append(ref)
        return due

    def _pop_due(self) -> list[pykka.ActorRef[Any]]:
        due = []
        while self._timers and self._timers[0][0] <= self.count:
            tick, _, name, ref = heapq.heappop(self._timers)
            if self._due.get(name) == tick:
                del self._due[name]
                due.append(ref)
        return due

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._changed.notify()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        period = self.tick_ms / 1000
        next_due = time.monotonic() + period
        while True:
            with self._lock:
                while not self._stopping:
                    now = time.monotonic()
                    first = self._precise[0][0] if self._precise else next_due
                    wait = min(next_due, first) - now
                    if wait <= 0:
                        break
                    self._changed.wait(wait)
                if self._stopping:
                    return
                now = time.monotonic()
                refs = self._pop_precise(now)
                if now >= next_due:
                    next_due += period
                    if next_due < now:  # fell behind (paused process): skip ahead
                        next_due = now + period
                    self.count += 1
                    ready = [ref for ref in self._subscribers.values()
                             if ref.actor_urn not in self._unhandled]
                    self._unhandled.update(ref.actor_urn for ref in ready)
                    refs = ready + self._pop_due() + refs
            tick = Tick(count=self.count)
            for ref in refs:
                try:
                    ref.tell(tick)
                except pykka.ActorDeadError:
                    pass


class NodeRuntime:
    """The process-wide plumbing every actor of a node shares."""

    def __init__(self, *, role: str, node_id: int, bind_url: str,
                 credentials: Credentials | None, tunables: Tunables,
                 advertise_host: str | None = None, principals: Principals | None = None,
                 testing: bool = False) -> None:
        self.role = role
        self.node_id = node_id
        self.tunables = tunables
        self.postbox = Postbox(bind_url, credentials=credentials, advertise_host=advertise_host,
                               queue_messages_max=tunables.send_queue_messages_max,
                               principals=principals)
        self.security = NodeSecurity(
            self.postbox.endpoint.principals, testing=testing,
            allow_everyone_if_no_acl_found=tunables.allow_everyone_if_no_acl_found)
        self.ticker = Ticker(tunables.tick_ms)
        self._actors: dict[str, pykka.ActorRef[Any]] = {}
        self._lock = threading.Lock()
        self.undeliverable = 0
        self.delivered = 0  # envelopes handed to actors: the messages of this process
        self.failures: dict[str, BaseException] = {}  # actor name -> what stopped it
        self.metrics = NodeMetrics(role, node_id, self.transport_stats)
        self.accepting = False  # until open(): envelopes for unknown actors are dropped

    @property
    def address(self) -> str:
        return self.postbox.address

    def transport_stats(self) -> dict[str, int]:
        """The transport's counters and this router's undeliverable count (for metrics)."""
        stats = self.postbox.endpoint.stats()
        stats["undeliverable"] = self.undeliverable
        return stats

    def start(self, *, accepting: bool = True) -> NodeRuntime:
        """Bind and start.  A node passes ``accepting=False`` and calls ``open()`` once its
        main actors are registered, so that early requests are dropped (their senders retry)
        rather than refused."""
        self.postbox.set_local_handler(self.deliver)
        self.postbox.start()
        self.ticker.start()
        self.accepting = accepting
        return self

    def open(self) -> None:
        self.accepting = True

    def stop(self) -> None:
        """Stop the ticker, this runtime's actors (not other runtimes' in the process),
        then the sockets."""
        self.ticker.stop()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while True:  # again for actors registered meanwhile (a broker starting replicas)
            with self._lock:
                refs, self._actors = list(self._actors.values()), {}
            if not refs or not self._stop_all(refs, deadline):
                break
        self.postbox.stop()

    @staticmethod
    def _stop_all(refs: list[pykka.ActorRef[Any]], deadline: float) -> bool:
        """Stop ``refs`` all at once (a broker may host thousands of replica actors); False
        if some had not stopped by ``deadline``."""
        stopping = []
        for ref in refs:
            try:
                stopping.append(ref.stop(block=False))
            except pykka.ActorDeadError:
                pass
        for future in stopping:
            try:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
            except pykka.ActorDeadError:
                pass
            except pykka.Timeout:
                log.warning("%d actors had not stopped after %.0f s; stopping anyway",
                            sum(1 for ref in refs if ref.is_alive()), STOP_TIMEOUT_S)
                return False
        return True

    # --- registry -----------------------------------------------------------------------

    def register(self, name: str, ref: pykka.ActorRef[Any], *, ticks: bool = False) -> None:
        with self._lock:
            if name in self._actors:
                raise ValueError(f"an actor named {name!r} is already registered")
            self._actors[name] = ref
        if ticks:
            self.ticker.subscribe(name, ref)

    def unregister(self, name: str) -> None:
        with self._lock:
            self._actors.pop(name, None)
        self.ticker.unsubscribe(name)

    def lookup(self, name: str) -> pykka.ActorRef[Any] | None:
        return self._actors.get(name)

    def remote(self, address: str, actor: str) -> RemoteRef:
        return RemoteRef(self.postbox, address, actor)

    # --- delivery (inbound thread, or the sender's thread for local sends) --------------

    def deliver(self, envelope: Envelope) -> None:
        refused = self.security.check(envelope)
        if refused is not None:  # out of the sender's role, or denied by an ACL
            if envelope.reply_to:
                self.postbox.send(envelope.source, envelope.reply_to,
                                  ErrorReply(code=refused[0], message=refused[1]),
                                  correlation_id=envelope.correlation_id)
            return
        ref = self._actors.get(envelope.dest)
        if ref is not None:
            self.delivered += 1  # a figure for benchmarks (increments may race: approximate)
            try:
                ref.tell(envelope)
                return
            except pykka.ActorDeadError:
                pass
        self.undeliverable += 1
        if envelope.reply_to and self.accepting:
            self.postbox.send(envelope.source, envelope.reply_to,
                              ErrorReply(code=ErrorCode.INVALID_REQUEST,
                                         message=f"no actor {envelope.dest!r} on this node"),
                              correlation_id=envelope.correlation_id)


__all__ = ["NodeRuntime", "Ticker"]
