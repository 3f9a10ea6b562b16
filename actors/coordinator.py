"""CoordinatorActor: one member of the Raft quorum that holds the cluster metadata.

Owns: this coordinator's ``RaftNode`` and its durable ``RaftStore``, the ``MetadataState``
that committed entries are applied to, and — while it is the Raft leader and has applied
everything of its term — the ``Controller`` that decides what to propose.  Also owns the
table of requests waiting for their commands to commit and the brokers' metadata long-polls.

Every handler feeds the core (``raft.step``/``tick``/``propose``) and then carries out the
``Ready`` in order: persist (fsync) -> send -> apply -> advance.  Non-leaders answer
controller requests with ``NotControllerReply`` naming the leader they know.  A request whose
commands do not commit within ``proposal_timeout_ticks`` (no majority reachable) is answered
with ``NoQuorum`` instead of hanging.

Must never: decide anything itself (``core.raft`` and ``core.controller`` do), or block.
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Any

import pykka
from zafka.actors.base import handler_name
from zafka.actors.metrics import CoordinatorMetricsMixin
from zafka.actors.node_actor import NodeActor
from zafka.actors.runtime import NodeRuntime
from zafka.core.controller import Controller, Decision
from zafka.core.durable import (
    RAFT_SNAPSHOT_DATA_OFFSET,
    DurableFormatError,
    decode_metadata_snapshot,
    encode_metadata_snapshot,
)
from zafka.core.errors import ErrorCode, NotController
from zafka.core.messages import (
    AllocateProducerIdsRequest,
    AlterConfigsRequest,
    AlterPartitionReassignmentsRequest,
    AlterPartitionRequest,
    AppendEntries,
    AppendEntriesResponse,
    BrokerHeartbeatRequest,
    BrokerRegistrationRequest,
    CommandResult,
    CoordinatorStatus,
    CreateAclsRequest,
    CreateCredentialRequest,
    CreatePartitionsRequest,
    CreateTopicsRequest,
    DeleteAclsRequest,
    DeleteTopicsRequest,
    DescribeAclsRequest,
    DescribeConfigsRequest,
    DescribeCredentialsRequest,
    DescribeTopicsRequest,
    ElectLeadersRequest,
    Envelope,
    FenceBroker,
    InstallSnapshot,
    InstallSnapshotResponse,
    ListPartitionReassignmentsRequest,
    ListTopicsRequest,
    MetadataFetchReply,
    MetadataFetchRequest,
    NotControllerReply,
    RaftEntry,
    RegisteredBroker,
    RequestVote,
    RequestVoteResponse,
    RevokeCredentialRequest,
    SnapshotMeta,
    Tick,
)
from zafka.core.metadata import MetadataCommand, MetadataState, metadata_fetch_reply
from zafka.core.raft import RaftNode
from zafka.core.raft_types import RaftMessage, Role
from zafka.storage.raft_store import RaftStore
from zafka.transport.cluster_file import ClusterFile

CONTROLLER_REQUESTS = (
    CreateCredentialRequest, RevokeCredentialRequest, DescribeCredentialsRequest,
    CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest,
    BrokerRegistrationRequest, BrokerHeartbeatRequest, AlterPartitionRequest,
    AllocateProducerIdsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    CreatePartitionsRequest, AlterConfigsRequest, ElectLeadersRequest, DescribeConfigsRequest,
    DescribeTopicsRequest, ListTopicsRequest, AlterPartitionReassignmentsRequest,
    ListPartitionReassignmentsRequest,
)
RAFT_MESSAGES = (RequestVote, RequestVoteResponse, AppendEntries, AppendEntriesResponse,
                 InstallSnapshot, InstallSnapshotResponse)
METADATA_POLLS_MAX = 1_000
METADATA_COALESCE_TICKS = 5
WAITING_REQUESTS_MAX = 10_000
"""Requests whose commands are proposed but not yet applied; beyond it, refuse at once."""


@dataclasses.dataclass(slots=True)
class _Waiting:
    """A request whose decision's commands are proposed but not all applied yet."""

    envelope: Envelope
    decision: Decision
    term: int
    indexes: tuple[int, ...]
    deadline_tick: int
    results: dict[int, CommandResult] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class _Poll:
    envelope: Envelope
    request: MetadataFetchRequest
    deadline_tick: int


@dataclasses.dataclass(frozen=True)
class PeerLost:
    """The transport lost its connection to ``address`` (told by the outbound thread)."""

    address: str


class CoordinatorActor(CoordinatorMetricsMixin, NodeActor):
    """A coordinator process's main actor."""

    role = "coordinator"
    wants_ticks = True

    def __init__(self, runtime: NodeRuntime, name: str, data_dir: Path,
                 cluster: ClusterFile) -> None:
        super().__init__(runtime, name)
        self.peers = {spec.node_id: spec.address for spec in cluster.coordinators}
        self.store = RaftStore(data_dir / "raft")
        self.rng = random.Random(os.urandom(16))
        self.tunables = runtime.tunables
        self.raft = RaftNode(runtime.node_id, sorted(self.peers), self.store.load(),
                             self.tunables, self.rng)
        self.metadata = MetadataState()
        self.controller: Controller | None = None
        self.waiting: dict[int, _Waiting] = {}
        self.polls: list[_Poll] = []
        self.last_answer_tick: dict[int, int] = {}
        self.now_tick = 0
        self.last_snapshot_index = 0
        self.last_dropped_snapshot: SnapshotMeta | None = None
        self.proposal_timeout_ticks = 4 * self.tunables.election_ticks
        self.process_ready()

    def on_start(self) -> None:
        self.runtime.postbox.peer_lost_listeners.append(self.tell_peer_lost)

    def on_stop(self) -> None:
        self.runtime.postbox.peer_lost_listeners.remove(self.tell_peer_lost)

    def tell_peer_lost(self, address: str) -> None:
        """Called by the transport's outbound thread: hand the news to this actor."""
        try:
            self.actor_ref.tell(PeerLost(address))
        except pykka.ActorDeadError:
            pass  # stopping

    def on_receive(self, message: Any) -> Any:
        if type(message) is PeerLost:
            if self.controller is not None:
                self.propose_controller_commands(
                    self.controller.on_connection_lost(message.address))
                self.process_ready()
            return None
        return super().on_receive(message)

    def propose_controller_commands(self, commands: list[MetadataCommand]) -> None:
        assert self.controller is not None
        for command in commands:
            if isinstance(command, FenceBroker):
                silent = self.now_tick - self.controller.last_heartbeat_tick.get(
                    command.broker_id, self.now_tick)
                self.logger.warning("fencing broker %d (%s)", command.broker_id,
                                    f"no heartbeat for {silent} ticks"
                                    if silent > self.tunables.broker_session_timeout_ticks
                                    else "its connection was lost")
            self.raft.propose(command)

    # --- raft traffic -------------------------------------------------------------------

    def on_raft_message(self, message: RaftMessage, envelope: Envelope) -> None:
        if isinstance(message, InstallSnapshot) and not self.snapshot_decodes(message):
            return
        self.raft.step(message)
        self.process_ready()

    def snapshot_decodes(self, message: InstallSnapshot) -> bool:
        """Whether a leader's snapshot can be read (say, by an older zafka); if not it is
        dropped, logged, and this coordinator keeps the state it has."""
        try:
            decode_metadata_snapshot(message.data,
                                     source=f"a snapshot from coordinator {message.from_id}")
        except DurableFormatError as error:
            if message.meta != self.last_dropped_snapshot:  # the leader retries: log once
                self.logger.error("dropped: %s", error)
            self.last_dropped_snapshot = message.meta
            return False
        return True

    def on_tick(self, tick: Tick) -> None:
        self.now_tick = tick.count
        self.raft.tick()
        if self.controller is not None:
            self.propose_controller_commands(self.controller.tick(self.now_tick))
        self.expire_waiting()
        self.process_ready()

    def process_ready(self) -> None:
        """Carry out every pending Ready: persist -> send -> apply -> advance."""
        while self.raft.has_ready():
            ready = self.raft.ready()
            if (ready.hard_state or ready.snapshot or ready.entries
                    or ready.truncate_from is not None):
                self.store.persist(ready)
            for message in ready.messages:
                self.send(self.peers[message.to_id], "coordinator", message)
            if ready.apply_snapshot is not None:
                self.metadata = MetadataState.restore(decode_metadata_snapshot(
                    ready.apply_snapshot.data, source=str(self.store.snapshot_path),
                    offset=RAFT_SNAPSHOT_DATA_OFFSET))
                self.last_snapshot_index = ready.apply_snapshot.meta.index
                self.controller = None
            for entry in ready.committed_entries:
                self.apply_entry(entry)
            self.raft.advance(ready)
        self.after_ready()

    def apply_entry(self, entry: RaftEntry) -> None:
        if entry.command is None:  # the no-op a new leader commits first
            if self.raft.role is Role.LEADER and entry.term == self.raft.term:
                self.controller = Controller(
                    self.metadata, self.rng, now_tick=self.now_tick, tunables=self.tunables,
                    bootstrap_identities=self.runtime.security.principals.bootstrap)
                self.logger.info("controller for term %d", entry.term)
            result = None
        else:
            result = self.metadata.apply(entry.command, offset=entry.index)
        waiting = self.waiting.pop(entry.index, None)
        if waiting is None:
            return
        if waiting.term != entry.term or result is None:
            self.answer_not_controller(waiting)
            return
        waiting.results[entry.index] = result
        if len(waiting.results) == len(waiting.indexes):
            results = tuple(waiting.results[i] for i in waiting.indexes)
            self.reply(waiting.envelope, waiting.decision.reply(results))

    def after_ready(self) -> None:
        if self.raft.role is not Role.LEADER and self.controller is not None:
            self.logger.info("no longer the controller (term %d)", self.raft.term)
            self.controller = None
        if self.controller is None:
            for waiting in {id(w): w for w in self.waiting.values()}.values():
                self.answer_not_controller(waiting)
            self.waiting.clear()
            for poll in self.polls:
                self.reply(poll.envelope, self.not_controller())
            self.polls.clear()
        else:
            self.answer_polls(expired_only=False)
        security = self.metadata.security
        self.runtime.security.update(tuple(security.identities.values()),
                                     security.revoked_keys, security.acls)
        self.maybe_snapshot()

    def maybe_snapshot(self) -> None:
        applied = self.raft.applied_index
        if applied - self.last_snapshot_index >= self.tunables.raft_snapshot_every_entries:
            self.raft.compact(applied, encode_metadata_snapshot(self.metadata.snapshot()))
            self.last_snapshot_index = applied

    # --- controller requests ------------------------------------------------------------

    def on_controller_request(self, request: Any, envelope: Envelope) -> None:
        if self.controller is None:
            self.reply(envelope, self.not_controller())
            return
        if len(self.waiting) >= WAITING_REQUESTS_MAX:
            self.reply_error(envelope, ErrorCode.REQUEST_TIMED_OUT,
                             f"the controller has {len(self.waiting)} uncommitted proposals")
            return
        decision = self.controller.handle(request, self.now_tick)
        if not decision.commands:
            self.reply(envelope, decision.reply(()))
            return
        try:
            indexes = tuple(self.raft.propose(c) for c in decision.commands)
        except NotController:
            self.reply(envelope, self.not_controller())
            return
        waiting = _Waiting(envelope, decision, self.raft.term, indexes,
                           self.now_tick + self.proposal_timeout_ticks)
        for index in indexes:
            self.waiting[index] = waiting
        self.process_ready()

    def expire_waiting(self) -> None:
        expired = {id(w): w for w in self.waiting.values() if w.deadline_tick <= self.now_tick}
        for waiting in expired.values():
            for index in waiting.indexes:
                self.waiting.pop(index, None)
            self.reply_error(waiting.envelope, ErrorCode.NO_QUORUM,
                             f"no quorum: not committed within {self.proposal_timeout_ticks} "
                             f"ticks; fewer than {len(self.peers) // 2 + 1} of "
                             f"{len(self.peers)} coordinators are reachable")
        self.answer_polls(expired_only=True)

    def answer_not_controller(self, waiting: _Waiting) -> None:
        self.reply(waiting.envelope, self.not_controller())

    def not_controller(self) -> NotControllerReply:
        leader = self.raft.leader_id
        if leader is None or (leader == self.runtime.node_id and self.controller is None):
            return NotControllerReply()
        return NotControllerReply(controller_id=leader, controller_address=self.peers[leader])

    # --- metadata long-polls ------------------------------------------------------------

    def on_metadata_fetch_request(self, request: MetadataFetchRequest,
                                  envelope: Envelope) -> None:
        if self.controller is None:
            self.reply(envelope, self.not_controller())
            return
        reply = metadata_fetch_reply(self.metadata, request)
        if reply is not None and self.may_answer(request.broker_id):
            self.answer(envelope, request.broker_id, reply)
        elif len(self.polls) >= METADATA_POLLS_MAX:
            self.reply(envelope, MetadataFetchReply(offset=self.metadata.offset))
        else:
            wait = min(request.max_wait_ticks, self.tunables.metadata_fetch_max_wait_ticks)
            self.polls.append(_Poll(envelope, request, self.now_tick + max(wait, 0)))

    def may_answer(self, broker_id: int) -> bool:
        """At most one image per broker every ``METADATA_COALESCE_TICKS``: a burst of
        commits (thousands of ISR changes) reaches a broker as a few images, not thousands."""
        last = self.last_answer_tick.get(broker_id)
        return last is None or self.now_tick - last >= METADATA_COALESCE_TICKS

    def answer(self, envelope: Envelope, broker_id: int, reply: MetadataFetchReply) -> None:
        self.last_answer_tick[broker_id] = self.now_tick
        self.reply(envelope, reply)

    def answer_polls(self, *, expired_only: bool) -> None:
        held = []
        for poll in self.polls:
            reply = metadata_fetch_reply(self.metadata, poll.request)
            if reply is not None:
                if self.may_answer(poll.request.broker_id):
                    self.answer(poll.envelope, poll.request.broker_id, reply)
                else:
                    held.append(poll)  # news, answered once the coalescing window passes
            elif expired_only and poll.deadline_tick <= self.now_tick:
                self.reply(poll.envelope, MetadataFetchReply(offset=self.metadata.offset))
            else:
                held.append(poll)
        self.polls = held

    # --- status -------------------------------------------------------------------------

    def coordinator_status(self) -> CoordinatorStatus:
        return CoordinatorStatus(
            raft_role=self.raft.role, term=self.raft.term, leader_id=self.raft.leader_id,
            commit_index=self.raft.commit_index, applied_index=self.raft.applied_index,
            is_controller=self.controller is not None, metadata_offset=self.metadata.offset,
            brokers=tuple(RegisteredBroker(broker_id=b.broker_id, fenced=b.fenced,
                                           epoch=b.broker_epoch, address=b.address)
                          for b in self.metadata.brokers.values()),
            topics=len(self.metadata.topics))


for _raft_type in RAFT_MESSAGES:
    setattr(CoordinatorActor, handler_name(_raft_type), CoordinatorActor.on_raft_message)
for _request_type in CONTROLLER_REQUESTS:
    setattr(CoordinatorActor, handler_name(_request_type), CoordinatorActor.on_controller_request)

__all__ = ["CONTROLLER_REQUESTS", "CoordinatorActor"]
