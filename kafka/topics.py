"""CreateTopics (key 19), v2-v7; DeleteTopics (key 20), v1-v6; CreatePartitions (key 37),
v0-v3: forwarded to the controller, as KRaft brokers forward them.

Topic names, partition counts (-1: the cluster default), replication factors, manual
assignments, configs and ``validate_only`` are the controller's to check; its per-topic
results become Kafka's.  DeleteTopics v6 may name topics by id: the ids are looked up in
the broker's metadata first (an unknown id is ``UNKNOWN_TOPIC_ID``).
Differs from Kafka: the request timeout is not used (the controller answers once the change
is committed, or with ``REQUEST_TIMED_OUT`` when no quorum answers); CreateTopics v5+ does
not echo the resulting partition count, replication factor and configs (-1 and none: ask
DescribeConfigs / Metadata).
"""

from __future__ import annotations

import uuid
from typing import Any

from zafka.core.messages import (
    CreatePartitionsReply,
    CreatePartitionsRequest,
    CreateTopicsReply,
    CreateTopicsRequest,
    DeleteTopicsReply,
    DeleteTopicsRequest,
    DescribeTopicsReply,
    DescribeTopicsRequest,
    ErrorReply,
    NewPartitions,
    NewTopic,
    TopicResult,
)
from zafka.kafka import codec
from zafka.kafka.errors import error_message, kafka_error
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import NO_THROTTLE, Ask, Context, Outcome, Respond, Target, error, make

CREATE_TOPICS, DELETE_TOPICS, CREATE_PARTITIONS = 19, 20, 37
APIS = {CREATE_TOPICS: (2, 7), DELETE_TOPICS: (1, 6), CREATE_PARTITIONS: (0, 3)}
UNKNOWN_TOPIC_ID = 100
ZERO_UUID = uuid.UUID(int=0)


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    cls = codec.response_class(header.api_key, header.api_version)
    if header.api_key == CREATE_TOPICS:
        return create_topics(request, cls)
    if header.api_key == DELETE_TOPICS:
        return delete_topics(request, cls)
    return create_partitions(request, cls)


def results_of(reply: Any, names: tuple[str, ...]) -> tuple[TopicResult, ...]:
    if isinstance(reply, ErrorReply):
        return tuple(TopicResult(name=n, error=reply.code, message=reply.message)
                     for n in names)
    return tuple(reply.results)


def topic_id(result: TopicResult) -> uuid.UUID:
    return uuid.UUID(result.topic_id) if result.topic_id else ZERO_UUID


def create_topics(request: Any, cls: Any) -> Outcome:
    topics = tuple(NewTopic(
        name=t.name, num_partitions=int(t.num_partitions),
        replication_factor=int(t.replication_factor),
        configs=tuple((c.name, c.value) for c in t.configs if c.value is not None),
        assignment=tuple(tuple(int(b) for b in a.broker_ids)
                         for a in sorted(t.assignments, key=lambda a: a.partition_index)))
        for t in request.topics)
    names = tuple(t.name for t in topics)

    def answer(reply: CreateTopicsReply | ErrorReply) -> Outcome:
        return Respond(make(cls, throttle_time=NO_THROTTLE, topics=lambda item: tuple(
            make(item, name=r.name, topic_id=topic_id(r), error_code=kafka_error(r.error),
                 error_message=error_message(r.error, r.message), num_partitions=-1,
                 replication_factor=-1, configs=())
            for r in results_of(reply, names))))

    return Ask(Target.CONTROLLER, CreateTopicsRequest(
        topics=topics, validate_only=bool(getattr(request, "validate_only", False))), answer)


def delete_topics(request: Any, cls: Any) -> Outcome:
    named = getattr(request, "topic_names", None)
    if named is not None:  # v0-v5: a list of names
        wanted: tuple[tuple[str | None, uuid.UUID | None], ...] = tuple((n, None) for n in named)
    else:
        wanted = tuple((t.name, t.topic_id if t.topic_id != ZERO_UUID else None)
                       for t in request.topics)

    def respond(results: list[tuple[str | None, uuid.UUID | None, Any, str]]) -> Outcome:
        return Respond(make(cls, throttle_time=NO_THROTTLE, responses=lambda item: tuple(
            make(item, name=name, topic_id=tid or ZERO_UUID, error_code=error(code),
                 error_message=message or None)
            for name, tid, code, message in results)))

    def delete(ids: dict[uuid.UUID, str]) -> Outcome:
        names = tuple(name or ids.get(tid or ZERO_UUID, "") for name, tid in wanted)

        def answer(reply: DeleteTopicsReply | ErrorReply) -> Outcome:
            found = iter(results_of(reply, tuple(n for n in names if n)))
            out = []
            for (name, tid), resolved in zip(wanted, names, strict=True):
                if not resolved:
                    out.append((name, tid, UNKNOWN_TOPIC_ID, "no topic has this id"))
                    continue
                r = next(found)
                out.append((resolved, tid, kafka_error(r.error),
                            error_message(r.error, r.message) or ""))
            return respond(out)

        return Ask(Target.CONTROLLER, DeleteTopicsRequest(names=tuple(n for n in names if n)),
                   answer)

    if all(name is not None for name, _ in wanted):
        return delete({})

    def with_ids(reply: DescribeTopicsReply | ErrorReply) -> Outcome:
        topics = () if isinstance(reply, ErrorReply) else reply.topics
        return delete({uuid.UUID(t.topic_id): t.name for t in topics if t.topic_id})

    return Ask(Target.BROKER, DescribeTopicsRequest(names=()), with_ids)


def create_partitions(request: Any, cls: Any) -> Outcome:
    topics = tuple(NewPartitions(
        name=t.name, total_count=int(t.count),
        assignment=tuple(tuple(int(b) for b in a.broker_ids) for a in t.assignments or ()))
        for t in request.topics)
    names = tuple(t.name for t in topics)

    def answer(reply: CreatePartitionsReply | ErrorReply) -> Outcome:
        return Respond(make(cls, throttle_time=NO_THROTTLE, results=lambda item: tuple(
            make(item, name=r.name, error_code=kafka_error(r.error),
                 error_message=error_message(r.error, r.message))
            for r in results_of(reply, names))))

    return Ask(Target.CONTROLLER, CreatePartitionsRequest(
        topics=topics, validate_only=bool(request.validate_only)), answer)


__all__ = ["APIS", "handle"]
