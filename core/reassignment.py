"""Partition reassignment (Kafka's KIP-455): moving a partition's replicas to a target list.

Owns: the rules that turn a partition record and a target replica list into the record during
and after a reassignment.  The controller uses them to choose leaders and refuse bad requests
early; ``MetadataState.apply`` uses the same functions on the committed commands.

- **Start** (``start_reassignment``): replicas = target + the original replicas not in it
  (Kafka's order, so the target's first replica is the preferred leader from the start);
  ``adding_replicas`` = target - original, ``removing_replicas`` = original - target; the ISR
  and the leader stay.  The original replicas are ``replicas - adding``: a new target replaces
  an ongoing one from the original set (replicas that were joining but are not in the new
  target leave at once), and *cancelling* is a reassignment back to the original replicas
  (their order may change, as in Kafka).
- **Completion** (``complete_reassignment``), proposed by the controller once every adding
  replica is in the ISR (``completion_leader``): replicas = target (target order), ISR = ISR ∩
  target, leader = the current one if it stays, else the first live in-sync target replica.
  The removing replicas drop out of the metadata; their brokers stop them and delete their
  logs (``core.metadata.replica_changes``).  Kafka also waits for the target replicas that
  were already there to be in sync; zafka completes as soon as the joiners are, because a
  staying replica that is out of sync is no worse off after the move than before.
- **Epochs**: the partition epoch grows on every change.  The leader epoch grows when the
  leader changes or the replica set gains or loses a member.  Kafka bumps it when replicas
  leave; zafka also when they join, because a leader's replication state
  (``core.replication.LeaderState``) lives for one leader epoch and must learn its new
  followers.

Must never: decide liveness (callers pass the live brokers), read a clock or perform I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable

from zafka.core.errors import InvalidReplicaAssignment, InvalidReplicationFactor, InvalidRequest
from zafka.core.messages import (
    AlterPartitionReassignment,
    CompletePartitionReassignment,
    OngoingReassignment,
    PartitionRecord,
)


def name_of(record: PartitionRecord) -> str:
    return f"{record.topic}-{record.partition}"


def is_reassigning(record: PartitionRecord) -> bool:
    """Whether ``record`` has a reassignment in progress."""
    return bool(record.adding_replicas or record.removing_replicas)


def original_replicas(record: PartitionRecord) -> tuple[int, ...]:
    """The replicas before the ongoing reassignment (all replicas if there is none)."""
    return tuple(b for b in record.replicas if b not in record.adding_replicas)


def target_replicas(record: PartitionRecord) -> tuple[int, ...]:
    """The replicas once the ongoing reassignment completes (all replicas if there is none)."""
    return tuple(b for b in record.replicas if b not in record.removing_replicas)


def check_target(record: PartitionRecord, target: tuple[int, ...],
                 registered: Collection[int]) -> None:
    """Raise the Kafka error that refuses ``target`` as the new replicas of ``record``."""
    if not target:
        raise InvalidReplicationFactor(
            f"the target replicas of {name_of(record)} are empty; a partition keeps at least "
            f"one replica")
    if len(set(target)) != len(target):
        raise InvalidReplicaAssignment(
            f"the target replicas of {name_of(record)} list a broker twice: {list(target)}")
    unknown = sorted(set(target) - set(registered))
    if unknown:
        raise InvalidReplicaAssignment(
            f"the target replicas of {name_of(record)} name unregistered brokers {unknown}")


def reassigned_replicas(
    record: PartitionRecord, target: tuple[int, ...],
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(replicas, adding, removing, ISR) of ``record`` once a reassignment to ``target``
    starts; an ISR that would be empty is refused."""
    original = original_replicas(record)
    removing = tuple(b for b in original if b not in target)
    adding = tuple(b for b in target if b not in original)
    replicas = target + removing
    isr = tuple(b for b in replicas if b in record.isr)
    if not isr:
        raise InvalidRequest(
            f"reassigning {name_of(record)} to {list(target)} would leave no in-sync replica "
            f"(ISR {list(record.isr)}); let the ongoing reassignment complete first")
    return replicas, adding, removing, isr


def new_leader(record: PartitionRecord, replicas: tuple[int, ...], isr: tuple[int, ...],
               live: Collection[int]) -> int | None:
    """The leader of ``record`` once its replicas are ``replicas`` and its ISR ``isr``: the
    current one if it stays (-1 stays -1: elections handle offline partitions), else the
    first live in-sync replica; None if there is none."""
    if record.leader == -1 or record.leader in replicas:
        return record.leader
    return next((b for b in isr if b in live), None)


def start_reassignment(record: PartitionRecord, target: tuple[int, ...],
                       leader: int) -> PartitionRecord:
    """``record`` with a reassignment to ``target`` started (or the ongoing one retargeted,
    or cancelled when ``target`` is the original replicas) and led by ``leader``."""
    replicas, adding, removing, isr = reassigned_replicas(record, target)
    _check_leader(record, leader, isr)
    return _changed(record, replicas, isr, leader, adding, removing)


def completion_leader(record: PartitionRecord, live: Collection[int]) -> int | None:
    """The leader to complete ``record``'s reassignment with, or None if it cannot complete
    yet (an adding replica is out of sync, or a leaving leader has no live successor)."""
    if not is_reassigning(record) or record.leader == -1:
        return None
    if not set(record.adding_replicas) <= set(record.isr):
        return None
    target = target_replicas(record)
    isr = tuple(b for b in target if b in record.isr)
    if record.leader in target:
        return record.leader if record.leader in live else None
    return next((b for b in isr if b in live), None)


def complete_reassignment(record: PartitionRecord, leader: int) -> PartitionRecord:
    """``record`` with its reassignment completed and led by ``leader``."""
    name = name_of(record)
    if not is_reassigning(record):
        raise InvalidRequest(f"no reassignment of {name} is in progress")
    missing = sorted(set(record.adding_replicas) - set(record.isr))
    if missing:
        raise InvalidRequest(f"the reassignment of {name} waits for {missing} to join the ISR")
    target = target_replicas(record)
    isr = tuple(b for b in target if b in record.isr)
    if not isr:
        raise InvalidRequest(f"no target replica of {name} is in sync: {list(record.isr)}")
    _check_leader(record, leader, isr)
    if leader == -1:
        raise InvalidRequest(f"the reassignment of {name} completes only with a leader")
    return _changed(record, target, isr, leader, (), ())


def reassignment_command(
    record: PartitionRecord, target: tuple[int, ...] | None, registered: Collection[int],
    live: Collection[int],
) -> AlterPartitionReassignment:
    """The controller's command for a request to reassign ``record`` to ``target`` (None =
    cancel the ongoing reassignment); raises the Kafka error that refuses the request."""
    if target is None:
        if not is_reassigning(record):
            raise InvalidRequest(f"no reassignment of {name_of(record)} is in progress")
        target = original_replicas(record)
    check_target(record, target, registered)
    replicas, _, _, isr = reassigned_replicas(record, target)
    leader = new_leader(record, replicas, isr, live)
    if leader is None:
        raise InvalidRequest(
            f"leader {record.leader} of {name_of(record)} would leave and no live in-sync "
            f"replica of {list(replicas)} can take over (ISR {list(isr)})")
    return AlterPartitionReassignment(
        topic=record.topic, partition=record.partition, partition_epoch=record.partition_epoch,
        target=target, leader=leader)


def completion_command(
    record: PartitionRecord, live: Collection[int],
) -> CompletePartitionReassignment | None:
    """The command that completes ``record``'s reassignment now, or None if it cannot yet."""
    leader = completion_leader(record, live)
    if leader is None:
        return None
    return CompletePartitionReassignment(
        topic=record.topic, partition=record.partition, partition_epoch=record.partition_epoch,
        leader=leader)


def ongoing_reassignments(records: Iterable[PartitionRecord]) -> tuple[OngoingReassignment, ...]:
    """The reassignments in progress among ``records``, sorted by topic and partition."""
    return tuple(
        OngoingReassignment(topic=p.topic, partition=p.partition, replicas=p.replicas,
                            adding_replicas=p.adding_replicas,
                            removing_replicas=p.removing_replicas)
        for p in sorted(records, key=lambda p: (p.topic, p.partition)) if is_reassigning(p))


def _check_leader(record: PartitionRecord, leader: int, isr: tuple[int, ...]) -> None:
    if leader == -1 and record.leader == -1:
        return
    if leader not in isr:
        raise InvalidRequest(
            f"leader {leader} of {name_of(record)} is not in its new ISR {list(isr)}")


def _changed(record: PartitionRecord, replicas: tuple[int, ...], isr: tuple[int, ...],
             leader: int, adding: tuple[int, ...], removing: tuple[int, ...]) -> PartitionRecord:
    bump = leader != record.leader or set(replicas) != set(record.replicas)
    new = dataclasses.replace(
        record, replicas=replicas, isr=isr, leader=leader, adding_replicas=adding,
        removing_replicas=removing, partition_epoch=record.partition_epoch + 1,
        leader_epoch=record.leader_epoch + bump)
    assert set(new.isr) <= set(new.replicas) and (leader == -1 or leader in new.isr), new
    assert set(adding) <= set(replicas) and set(removing) <= set(replicas), new
    assert not set(adding) & set(removing), new
    return new


__all__ = [
    "check_target", "complete_reassignment", "completion_command", "completion_leader",
    "is_reassigning", "new_leader", "ongoing_reassignments", "original_replicas",
    "reassigned_replicas", "reassignment_command", "start_reassignment", "target_replicas",
]
