"""Kafka-named errors shared by brokers, coordinators and clients.

Every error that crosses a process boundary is one of these classes, identified on the wire
by its ``code`` (an ``ErrorCode`` member) so that it can be raised again on the other side.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.IntEnum):
    """Wire codes; the numbers follow Kafka's protocol where Kafka has one."""

    NONE = 0
    OFFSET_OUT_OF_RANGE = 1
    CORRUPT_RECORD = 2
    UNKNOWN_TOPIC_OR_PARTITION = 3
    LEADER_NOT_AVAILABLE = 5
    NOT_LEADER_OR_FOLLOWER = 6
    REQUEST_TIMED_OUT = 7
    RECORD_TOO_LARGE = 10
    COORDINATOR_NOT_AVAILABLE = 15
    NOT_COORDINATOR = 16
    INVALID_TOPIC = 17
    NOT_ENOUGH_REPLICAS = 19
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20
    ILLEGAL_GENERATION = 22
    INCONSISTENT_GROUP_PROTOCOL = 23
    UNKNOWN_MEMBER_ID = 25
    INVALID_SESSION_TIMEOUT = 26
    REBALANCE_IN_PROGRESS = 27
    TOPIC_AUTHORIZATION_FAILED = 29
    GROUP_AUTHORIZATION_FAILED = 30
    CLUSTER_AUTHORIZATION_FAILED = 31
    TOPIC_ALREADY_EXISTS = 36
    INVALID_PARTITIONS = 37
    INVALID_REPLICATION_FACTOR = 38
    INVALID_REPLICA_ASSIGNMENT = 39
    INVALID_CONFIG = 40
    NOT_CONTROLLER = 41
    INVALID_REQUEST = 42
    OUT_OF_ORDER_SEQUENCE = 45
    DUPLICATE_SEQUENCE = 46
    INVALID_PRODUCER_EPOCH = 47
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53  # zafka has no transactions (Kafka listener)
    NON_EMPTY_GROUP = 68
    GROUP_ID_NOT_FOUND = 69
    FENCED_LEADER_EPOCH = 74
    UNKNOWN_LEADER_EPOCH = 75
    STALE_BROKER_EPOCH = 77
    NO_QUORUM = 1001
    CLUSTER_UNREACHABLE = 1002
    INTERNAL = 1003


class ZafkaError(Exception):
    """Base of every zafka error.  ``retriable`` errors may succeed when tried again."""

    code: ErrorCode = ErrorCode.INTERNAL
    retriable: bool = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.__class__.__name__


class OffsetOutOfRange(ZafkaError):
    code = ErrorCode.OFFSET_OUT_OF_RANGE


class CorruptRecord(ZafkaError):
    code = ErrorCode.CORRUPT_RECORD
    retriable = True


class UnknownTopicOrPartition(ZafkaError):
    code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    retriable = True


class LeaderNotAvailable(ZafkaError):
    code = ErrorCode.LEADER_NOT_AVAILABLE
    retriable = True


class NotLeaderOrFollower(ZafkaError):
    code = ErrorCode.NOT_LEADER_OR_FOLLOWER
    retriable = True


class RequestTimedOut(ZafkaError):
    code = ErrorCode.REQUEST_TIMED_OUT
    retriable = True


class RecordTooLarge(ZafkaError):
    code = ErrorCode.RECORD_TOO_LARGE


class CoordinatorNotAvailable(ZafkaError):
    code = ErrorCode.COORDINATOR_NOT_AVAILABLE
    retriable = True


class NotCoordinator(ZafkaError):
    code = ErrorCode.NOT_COORDINATOR
    retriable = True


class InvalidTopic(ZafkaError):
    code = ErrorCode.INVALID_TOPIC


class NotEnoughReplicas(ZafkaError):
    code = ErrorCode.NOT_ENOUGH_REPLICAS
    retriable = True


class NotEnoughReplicasAfterAppend(ZafkaError):
    code = ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
    retriable = True


class IllegalGeneration(ZafkaError):
    code = ErrorCode.ILLEGAL_GENERATION


class InconsistentGroupProtocol(ZafkaError):
    code = ErrorCode.INCONSISTENT_GROUP_PROTOCOL


class UnknownMemberId(ZafkaError):
    code = ErrorCode.UNKNOWN_MEMBER_ID


class NonEmptyGroup(ZafkaError):
    """DeleteGroups of a group that still has members."""

    code = ErrorCode.NON_EMPTY_GROUP


class GroupIdNotFound(ZafkaError):
    code = ErrorCode.GROUP_ID_NOT_FOUND


class InvalidSessionTimeout(ZafkaError):
    code = ErrorCode.INVALID_SESSION_TIMEOUT


class RebalanceInProgress(ZafkaError):
    code = ErrorCode.REBALANCE_IN_PROGRESS


class TopicAuthorizationFailed(ZafkaError):
    """The principal may not do this to the topic (an ACL, or the no-ACL default)."""

    code = ErrorCode.TOPIC_AUTHORIZATION_FAILED


class GroupAuthorizationFailed(ZafkaError):
    code = ErrorCode.GROUP_AUTHORIZATION_FAILED


class ClusterAuthorizationFailed(ZafkaError):
    """The principal's role may not send this message, or may not act on the cluster."""

    code = ErrorCode.CLUSTER_AUTHORIZATION_FAILED


class TopicAlreadyExists(ZafkaError):
    code = ErrorCode.TOPIC_ALREADY_EXISTS


class InvalidPartitions(ZafkaError):
    code = ErrorCode.INVALID_PARTITIONS


class InvalidReplicationFactor(ZafkaError):
    code = ErrorCode.INVALID_REPLICATION_FACTOR


class InvalidReplicaAssignment(ZafkaError):
    code = ErrorCode.INVALID_REPLICA_ASSIGNMENT


class InvalidConfig(ZafkaError):
    code = ErrorCode.INVALID_CONFIG


class NotController(ZafkaError):
    code = ErrorCode.NOT_CONTROLLER
    retriable = True


class InvalidRequest(ZafkaError):
    code = ErrorCode.INVALID_REQUEST


class OutOfOrderSequence(ZafkaError):
    code = ErrorCode.OUT_OF_ORDER_SEQUENCE


class DuplicateSequence(ZafkaError):
    code = ErrorCode.DUPLICATE_SEQUENCE


class InvalidProducerEpoch(ZafkaError):
    code = ErrorCode.INVALID_PRODUCER_EPOCH


class FencedLeaderEpoch(ZafkaError):
    code = ErrorCode.FENCED_LEADER_EPOCH
    retriable = True


class UnknownLeaderEpoch(ZafkaError):
    code = ErrorCode.UNKNOWN_LEADER_EPOCH
    retriable = True


class StaleBrokerEpoch(ZafkaError):
    code = ErrorCode.STALE_BROKER_EPOCH
    retriable = True


class NoQuorum(ZafkaError):
    """The coordinators cannot reach a majority: nothing was committed."""

    code = ErrorCode.NO_QUORUM
    retriable = True


class ClusterUnreachable(ZafkaError):
    code = ErrorCode.CLUSTER_UNREACHABLE
    retriable = True


class InternalError(ZafkaError):
    code = ErrorCode.INTERNAL


_BY_CODE: dict[ErrorCode, type[ZafkaError]] = {}
for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, ZafkaError) and _cls is not ZafkaError:
        _BY_CODE.setdefault(_cls.code, _cls)


def error_for(code: ErrorCode | int, message: str = "") -> ZafkaError:
    """The exception instance for a wire ``code`` (``InternalError`` for an unknown one)."""
    cls = _BY_CODE.get(ErrorCode(code) if code in ErrorCode._value2member_map_ else
                       ErrorCode.INTERNAL, InternalError)
    return cls(message)


__all__ = ["ErrorCode", "ZafkaError", "error_for"] + sorted(
    c.__name__ for c in _BY_CODE.values()
)
