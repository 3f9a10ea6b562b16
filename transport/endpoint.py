"""One process's ZeroMQ endpoint: a bound ROUTER (inbound thread) and peer DEALERs (outbound).

Owns: the process's sockets and the two threads that own them.  Sockets never cross threads:
the inbound thread alone touches the ROUTER (and its monitor socket); the outbound thread
alone creates and uses the DEALER sockets, one per peer address, and their monitors.  Any
thread may call ``send``: it encodes the envelope in the caller's thread (so an unencodable
body fails there, loudly), puts the frames on a bounded queue (a full queue drops and counts,
never blocks) and wakes the outbound thread through a pipe it polls beside the monitors.  A
peer whose connection drops (its process died), or refuses a reconnection, is reported to
``on_peer_lost`` at once.

Inbound frames are decoded by ``transport.codec`` and handed to the ``deliver`` callback; a
frame that does not decode is dropped and counted.  With credentials, the ROUTER is a CURVE
server behind a ZAP allow-list and every DEALER a CURVE client, so no byte from a peer without
the cluster's keys reaches the codec; failed handshakes are counted from the socket monitor.
Each delivered envelope is stamped with its sender's principal and role, looked up from the
frame's ZAP user id (the peer's key); a frame from a key no longer admitted is dropped and
counted (``dropped_revoked``).

Must never: block a sender, let an exception from a bad frame end the inbound thread, or
import pykka.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import math
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import zmq
from zafka.core.messages import Envelope
from zafka.transport import codec
from zafka.transport.auth import (
    ADDRESS_KEY_SEPARATOR,
    Credentials,
    Principals,
    ZapGuard,
    node_identity,
    split_address,
)
from zafka.transport.faults import FaultFilter
from zmq.utils.monitor import parse_monitor_message

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 256 * 1024 * 1024
_PEER_SEND_HWM = 10_000
_HANDSHAKE_FAILURES = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
_STOP = object()


class Endpoint:
    """Bind ``bind_url`` ("tcp://127.0.0.1:0" picks a port), deliver inbound envelopes."""

    def __init__(
        self,
        bind_url: str,
        deliver: Callable[[Envelope], None],
        *,
        credentials: Credentials | None,
        queue_messages_max: int = 100_000,
        advertise_host: str | None = None,
        principals: Principals | None = None,
    ) -> None:
        self._bind_url = bind_url
        self._deliver = deliver
        self._credentials = credentials
        self._advertise_host = advertise_host
        self._context: zmq.Context[Any] = zmq.Context()
        # Whom this process admits: by default the cluster's nodes only (a client's socket).
        self.principals = principals or Principals(
            [node_identity(credentials)] if credentials else [])
        self._zap = ZapGuard(self._context, self.principals) if credentials else None
        self._own_pair: tuple[str, str] | None = None
        if credentials is not None and not credentials.is_node:
            public, secret = zmq.curve_keypair()
            self._own_pair = (public.decode(), secret.decode())
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_messages_max)
        self._running = threading.Event()
        self._bound = threading.Event()
        self._inbound = threading.Thread(target=self._run_inbound, name="zafka-inbound",
                                         daemon=True)
        self._outbound = threading.Thread(target=self._run_outbound, name="zafka-outbound",
                                          daemon=True)
        self.faults = FaultFilter()
        self.counters: Counter[str] = Counter()
        self.address = ""
        self._bind_error: BaseException | None = None
        self.on_peer_lost: Callable[[str], None] | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._signalled = False

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> Endpoint:
        if self._zap:
            self._zap.start()
        self._running.set()
        self._inbound.start()
        self._bound.wait()
        if self._bind_error is not None:
            self._running.clear()
            raise self._bind_error
        self._outbound.start()
        return self

    def stop(self) -> None:
        if not self._running.is_set():
            return
        self._running.clear()
        self._queue.put(_STOP)
        self._wake_outbound()
        self._inbound.join(timeout=5)
        self._outbound.join(timeout=5)
        if self._zap:
            self._zap.stop()
        self._context.term()

    # --- sending (any thread) -----------------------------------------------------------

    def send(self, address: str, envelope: Envelope) -> bool:
        """Queue ``envelope`` for ``address``; False (and counted) if the queue is full."""
        frames = codec.encode(envelope)
        try:
            self._queue.put_nowait((address, frames))
        except queue.Full:
            self.counters["dropped_queue_full"] += 1
            return False
        self._wake_outbound()
        return True

    def stats(self) -> dict[str, int]:
        counts = dict(self.counters)
        counts["dropped_by_faults"] = self.faults.dropped
        counts["auth_denied"] = self._zap.denied if self._zap else 0
        counts["send_queue_depth"] = self._queue.qsize()
        return counts

    # --- inbound thread -----------------------------------------------------------------

    def _bind(self) -> tuple[zmq.Socket[Any], zmq.Socket[Any]]:
        router = self._context.socket(zmq.ROUTER)
        router.linger = 0
        router.rcvhwm = 0
        router.maxmsgsize = MAX_FRAME_BYTES
        if self._credentials:
            self._credentials.apply_server(router, self._own_pair)
        monitor = router.get_monitor_socket(_HANDSHAKE_FAILURES | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        router.bind(self._bind_url)
        endpoint = router.get(zmq.LAST_ENDPOINT).decode()
        if self._advertise_host:
            endpoint = f"tcp://{self._advertise_host}:{endpoint.rsplit(':', 1)[1]}"
        if self._own_pair is not None:  # nodes reach this process with its own server key
            endpoint += ADDRESS_KEY_SEPARATOR + self._own_pair[0]
        self.address = endpoint
        return router, monitor

    def _run_inbound(self) -> None:
        try:
            router, monitor = self._bind()
        except BaseException as exc:  # reported to start()'s caller
            self._bind_error = exc
            self._bound.set()
            return
        self._bound.set()
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        while self._running.is_set():
            for sock, _ in poller.poll(100):
                if sock is router:
                    self._receive(router)
                else:
                    self._count_handshake(monitor)
        router.disable_monitor()
        monitor.close(linger=0)
        router.close(linger=0)

    def _receive(self, router: zmq.Socket[Any]) -> None:
        for _ in range(1000):
            try:
                frames = router.recv_multipart(flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self.counters["frames_received"] += 1
            try:
                envelope = codec.decode(frames[1:])
            except codec.DecodeError as exc:
                self.counters["dropped_undecodable"] += 1
                log.warning("dropped an undecodable frame: %s", exc)
                continue
            stamped = self._stamp(envelope, frames[1])
            if stamped is not None:
                self._deliver(stamped)

    def _stamp(self, envelope: Envelope, frame: Any) -> Envelope | None:
        """The envelope with its sender's principal and role (from the CURVE key the ZAP
        handler admitted), or None if that key is no longer admitted (revoked)."""
        if self._credentials is None:  # authentication explicitly off: every peer trusted
            return dataclasses.replace(envelope, principal="User:ANONYMOUS", role="node")
        identity = self.principals.resolve(frame.get("User-Id"))
        if identity is None:
            self.counters["dropped_revoked"] += 1
            return None
        return dataclasses.replace(envelope, principal=f"User:{identity.name}",
                                   role=identity.role)

    def _count_handshake(self, monitor: zmq.Socket[Any]) -> None:
        event = parse_monitor_message(monitor.recv_multipart())
        if event["event"] & _HANDSHAKE_FAILURES:
            self.counters["handshake_failed"] += 1
            log.warning("refused a peer whose handshake failed (event %s)", event["event"])

    # --- outbound thread ----------------------------------------------------------------

    def _wake_outbound(self) -> None:
        if not self._signalled:
            self._signalled = True
            try:
                os.write(self._wake_w, b"!")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already
            except OSError:
                if self._running.is_set():
                    raise  # the pipe is closed only once the endpoint stops

    def _run_outbound(self) -> None:
        peers: dict[str, _Peer] = {}
        delayed: list[tuple[float, int, str, list[Any]]] = []
        sequence = itertools.count()
        poller = zmq.Poller()
        poller.register(self._wake_r, zmq.POLLIN)
        try:
            while True:
                timeout = (max(0, math.ceil((delayed[0][0] - time.monotonic()) * 1000))
                           if delayed else None)
                ready = dict(poller.poll(timeout))
                if self._wake_r in ready:
                    os.read(self._wake_r, 4096)
                    self._signalled = False
                for peer in peers.values():
                    if peer.monitor in ready:
                        self._on_peer_event(peer)
                while delayed and delayed[0][0] <= time.monotonic():
                    _, _, address, frames = heapq.heappop(delayed)
                    self._push(peers, poller, address, frames)
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        return
                    address, frames = item
                    drop, delay_ms = self.faults.verdict(address)
                    if drop:
                        continue
                    if delay_ms:
                        due = time.monotonic() + delay_ms / 1000
                        heapq.heappush(delayed, (due, next(sequence), address, frames))
                        continue
                    self._push(peers, poller, address, frames)
        finally:
            for peer in peers.values():
                peer.socket.disable_monitor()
                peer.monitor.close(linger=0)
                peer.socket.close(linger=0)
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _on_peer_event(self, peer: _Peer) -> None:
        while True:
            try:
                event = parse_monitor_message(peer.monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_DISCONNECTED:
                self.counters["peers_lost"] += 1
                log.info("connection to %s lost", peer.address)
            if self.on_peer_lost is not None:  # lost, or refused while reconnecting
                self.on_peer_lost(peer.address)

    def _push(self, peers: dict[str, _Peer], poller: zmq.Poller, address: str,
              frames: list[Any]) -> None:
        peer = peers.get(address)
        if peer is None:
            sock = self._context.socket(zmq.DEALER)
            sock.linger = 0
            sock.sndhwm = _PEER_SEND_HWM
            url, server_key = split_address(address)
            if self._credentials:
                self._credentials.apply_client(sock, server_key)
            monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED
                                              | zmq.EVENT_CONNECT_RETRIED)
            sock.connect(url)
            peer = peers[address] = _Peer(address, sock, monitor)
            poller.register(monitor, zmq.POLLIN)
        try:
            peer.socket.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
            self.counters["frames_sent"] += 1
        except zmq.Again:
            self.counters["dropped_peer_full"] += 1


@dataclasses.dataclass(slots=True)
class _Peer:
    """A connected peer: the DEALER to it and the monitor reporting its disconnects."""

    address: str
    socket: zmq.Socket[Any]
    monitor: zmq.Socket[Any]


__all__ = ["Endpoint", "MAX_FRAME_BYTES"]
