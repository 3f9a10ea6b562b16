"""Glue between a replica's log and the wire: configs, fetch requests and responses.

Owns: nothing; pure helpers for ``actors.replica`` — the ``LogConfig`` a topic's effective
configs give, the follower's ``FetchRequest``, and the ``FetchPartitionResponse`` for a fetch
decision (one log read of whole batches, no per-record work).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zafka.core.config import Tunables
from zafka.core.errors import ErrorCode, ZafkaError
from zafka.core.messages import (
    FetchPartition,
    FetchPartitionResponse,
    FetchRequest,
    PartitionRecord,
)
from zafka.core.replication_follower import FollowerRequest
from zafka.core.topic_config import LONG_MAX, ConfigValue, flush_policy
from zafka.storage.log import LogConfig, PartitionLog


def log_config_for(configs: Mapping[str, ConfigValue], tunables: Tunables) -> LogConfig:
    """The log settings of a topic's effective configs."""
    policy = flush_policy(configs)
    lazy = not policy.fsync_before_ack
    return LogConfig(
        segment_bytes=int(configs["segment.bytes"]),
        segment_ms=int(configs["segment.ms"]),
        index_interval_bytes=tunables.index_interval_bytes,
        max_message_bytes=int(configs["max.message.bytes"]),
        retention_ms=int(configs["retention.ms"]),
        retention_bytes=int(configs["retention.bytes"]),
        cleanup_policy=str(configs["cleanup.policy"]),
        delete_retention_ms=int(configs["delete.retention.ms"]),
        flush_messages=(policy.flush_messages
                        if lazy and policy.flush_messages != LONG_MAX else None),
        flush_ms=policy.flush_ms if lazy and policy.flush_ms != LONG_MAX else None,
        log_append_time=configs["message.timestamp.type"] == "LogAppendTime",
    )


def min_insync_for(configs: Mapping[str, ConfigValue]) -> int:
    return int(configs["min.insync.replicas"])


def fetch_request_for(broker_id: int, record: PartitionRecord, log: PartitionLog,
                      request: FollowerRequest, tunables: Tunables) -> FetchRequest:
    """The single-partition fetch a follower sends to its leader."""
    wait_ms = tunables.replica_fetch_max_wait_ticks * tunables.tick_ms
    return FetchRequest(
        replica_id=broker_id, max_wait_ms=wait_ms, min_bytes=1,
        max_bytes=tunables.replica_fetch_max_bytes,
        partitions=(FetchPartition(
            topic=record.topic, partition=record.partition,
            fetch_offset=request.fetch_offset,
            partition_max_bytes=tunables.replica_fetch_max_bytes,
            current_leader_epoch=request.current_leader_epoch,
            last_fetched_epoch=request.last_fetched_epoch,
            log_start_offset=log.log_start_offset),))


def error_fetch(data: FetchPartition, code: ErrorCode,
                record: PartitionRecord | None) -> FetchPartitionResponse:
    return FetchPartitionResponse(
        topic=data.topic, partition=data.partition, error=code,
        leader_id=record.leader if record else -1,
        leader_epoch=record.leader_epoch if record else -1)


def read_response(log: PartitionLog, data: FetchPartition, decision: Any,
                  record: PartitionRecord | None = None) -> FetchPartitionResponse:
    """The response for ``decision``: records in [fetch_offset, max_offset), whole batches;
    an error (a fenced or unknown leader epoch) names the current leader and its epoch from
    ``record``, so a client re-routes at once."""
    base = dict(topic=data.topic, partition=data.partition,
                high_watermark=decision.high_watermark, log_start_offset=log.log_start_offset)
    if decision.error != ErrorCode.NONE:
        return FetchPartitionResponse(
            error=decision.error, leader_id=record.leader if record else -1,
            leader_epoch=record.leader_epoch if record else -1, **base)
    if decision.diverging_epoch is not None:
        return FetchPartitionResponse(diverging_epoch=decision.diverging_epoch, **base)
    if not decision.has_data:
        return FetchPartitionResponse(**base)
    try:
        records = log.read(decision.fetch_offset, data.partition_max_bytes,
                           max_offset=decision.max_offset)
    except ZafkaError as error:
        return FetchPartitionResponse(error=error.code, **base)
    return FetchPartitionResponse(records=records, **base)


__all__ = ["error_fetch", "fetch_request_for", "log_config_for", "min_insync_for",
           "read_response"]
