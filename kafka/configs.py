"""DescribeConfigs (key 32), v1-v4; AlterConfigs (key 33), v0-v2; IncrementalAlterConfigs
(key 44), v0-v1: topic configs, answered by the controller.

Topic configs are Kafka's dotted names (``retention.ms``, ``cleanup.policy``, ...); values
and names are the controller's to check (``INVALID_CONFIG``).  DescribeConfigs reports each
effective value with its source: ``DYNAMIC_TOPIC_CONFIG`` for an override, ``DEFAULT_CONFIG``
otherwise.  AlterConfigs replaces a topic's overrides (keys it does not name go back to
their defaults, as in Kafka): the current overrides are read first.  IncrementalAlterConfigs
serves SET and DELETE.
Differs from Kafka: only topic resources (type 2) have configs; any other resource (a
broker's, a logger's) is answered ``INVALID_REQUEST``; APPEND and SUBTRACT are answered
``INVALID_CONFIG`` (zafka's list-valued ``cleanup.policy`` is set whole); synonyms and
documentation are not returned; DescribeConfigs v0 is not served.
"""

from __future__ import annotations

from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    AlterConfigsReply,
    AlterConfigsRequest,
    AlterTopicConfigs,
    DescribeConfigsReply,
    DescribeConfigsRequest,
    ErrorReply,
    TopicConfigs,
    TopicResult,
)
from zafka.kafka import codec
from zafka.kafka.errors import error_message, kafka_error
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import NO_THROTTLE, Ask, Context, Outcome, Respond, Target, make

DESCRIBE_CONFIGS, ALTER_CONFIGS, INCREMENTAL_ALTER_CONFIGS = 32, 33, 44
APIS = {DESCRIBE_CONFIGS: (1, 4), ALTER_CONFIGS: (0, 2), INCREMENTAL_ALTER_CONFIGS: (0, 1)}
TOPIC = 2
DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG = 1, 5
SET, DELETE = 0, 1
NOT_A_TOPIC = "zafka has configs only for topics (resource type 2)"


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    cls = codec.response_class(header.api_key, header.api_version)
    if header.api_key == DESCRIBE_CONFIGS:
        return describe(request, cls)
    if header.api_key == ALTER_CONFIGS:
        return alter(request, cls)
    return alter_incrementally(request, cls)


def described(reply: DescribeConfigsReply | ErrorReply,
              names: tuple[str, ...]) -> dict[str, TopicConfigs]:
    if isinstance(reply, ErrorReply):
        return {n: TopicConfigs(name=n, error=reply.code, message=reply.message) for n in names}
    return {r.name: r for r in reply.results}


def describe(request: Any, cls: Any) -> Outcome:
    resources = tuple(request.resources)
    names = tuple(r.resource_name for r in resources if r.resource_type == TOPIC)

    def entries(item: Any, found: TopicConfigs, keys: Any) -> tuple[Any, ...]:
        return tuple(
            make(item, name=e.name, value=e.value, read_only=False, is_sensitive=False,
                 config_source=DEFAULT_CONFIG if e.is_default else DYNAMIC_TOPIC_CONFIG,
                 synonyms=(), config_type=0, documentation=None)
            for e in found.entries if not keys or e.name in keys)

    def result(item: Any, resource: Any, by_name: dict[str, TopicConfigs]) -> Any:
        found = by_name.get(resource.resource_name) if resource.resource_type == TOPIC \
            else TopicConfigs(name=resource.resource_name, error=ErrorCode.INVALID_REQUEST,
                              message=NOT_A_TOPIC)
        assert found is not None
        return make(item, error_code=kafka_error(found.error),
                    error_message=error_message(found.error, found.message),
                    resource_type=resource.resource_type, resource_name=resource.resource_name,
                    configs=lambda entry: entries(entry, found, resource.configuration_keys))

    def answer(reply: DescribeConfigsReply | ErrorReply) -> Outcome:
        by_name = described(reply, names)
        return Respond(make(cls, throttle_time=NO_THROTTLE, results=lambda item: tuple(
            result(item, r, by_name) for r in resources)))

    return Ask(Target.CONTROLLER, DescribeConfigsRequest(names=names), answer)


def alter_response(cls: Any, resources: tuple[Any, ...],
                   results: dict[str, TopicResult]) -> Outcome:
    def one(item: Any, resource: Any) -> Any:
        result = results[resource.resource_name] if resource.resource_type == TOPIC \
            else TopicResult(name=resource.resource_name, error=ErrorCode.INVALID_REQUEST,
                             message=NOT_A_TOPIC)
        return make(item, error_code=kafka_error(result.error),
                    error_message=error_message(result.error, result.message),
                    resource_type=resource.resource_type, resource_name=resource.resource_name)

    return Respond(make(cls, throttle_time=NO_THROTTLE, responses=lambda item: tuple(
        one(item, r) for r in resources)))


def send_alter(cls: Any, resources: tuple[Any, ...], changes: tuple[AlterTopicConfigs, ...],
               refused: dict[str, TopicResult], validate_only: bool) -> Outcome:
    """Send the changes; answer every resource (``refused`` ones without sending)."""
    def answer(reply: AlterConfigsReply | ErrorReply) -> Outcome:
        results = dict(refused)
        if isinstance(reply, ErrorReply):
            results.update({c.name: TopicResult(name=c.name, error=reply.code,
                                                message=reply.message) for c in changes})
        else:
            results.update({r.name: r for r in reply.results})
        return alter_response(cls, resources, results)

    if not changes:
        return answer(AlterConfigsReply(results=()))
    return Ask(Target.CONTROLLER, AlterConfigsRequest(topics=changes,
                                                      validate_only=validate_only), answer)


def alter(request: Any, cls: Any) -> Outcome:
    resources = tuple(request.resources)
    topics = tuple(r for r in resources if r.resource_type == TOPIC)

    def with_current(reply: DescribeConfigsReply | ErrorReply) -> Outcome:
        current = described(reply, tuple(r.resource_name for r in topics))
        refused = {n: TopicResult(name=n, error=c.error, message=c.message)
                   for n, c in current.items() if c.error != ErrorCode.NONE}
        changes = tuple(AlterTopicConfigs(
            name=r.resource_name,
            set_configs=tuple((c.name, c.value) for c in r.configs if c.value is not None),
            delete_configs=tuple(e.name for e in current[r.resource_name].entries
                                 if not e.is_default and e.name not in
                                 {c.name for c in r.configs if c.value is not None}))
            for r in topics if r.resource_name not in refused)
        return send_alter(cls, resources, changes, refused, bool(request.validate_only))

    return Ask(Target.CONTROLLER,
               DescribeConfigsRequest(names=tuple(r.resource_name for r in topics)),
               with_current)


def alter_incrementally(request: Any, cls: Any) -> Outcome:
    resources = tuple(request.resources)
    refused: dict[str, TopicResult] = {}
    changes = []
    for r in resources:
        if r.resource_type != TOPIC:
            continue
        unsupported = [c.name for c in r.configs if c.config_operation not in (SET, DELETE)]
        if unsupported:
            refused[r.resource_name] = TopicResult(
                name=r.resource_name, error=ErrorCode.INVALID_CONFIG,
                message=f"APPEND and SUBTRACT are not supported ({', '.join(unsupported)}); "
                        "SET the whole value")
            continue
        changes.append(AlterTopicConfigs(
            name=r.resource_name,
            set_configs=tuple((c.name, c.value or "") for c in r.configs
                              if c.config_operation == SET),
            delete_configs=tuple(c.name for c in r.configs if c.config_operation == DELETE)))
    return send_alter(cls, resources, tuple(changes), refused, bool(request.validate_only))


__all__ = ["APIS", "handle"]
