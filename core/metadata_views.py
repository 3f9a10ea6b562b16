"""Read-only answers from the metadata: configs, topic listings, topic descriptions.

Owns: nothing; pure functions of a ``MetadataState`` that any coordinator can answer from
its applied state (the controller answers them without proposing anything).
"""

from __future__ import annotations

from zafka.core.errors import UnknownTopicOrPartition
from zafka.core.messages import (
    ConfigEntry,
    DescribeConfigsReply,
    DescribeConfigsRequest,
    DescribeTopicsReply,
    DescribeTopicsRequest,
    ListTopicsReply,
    ListTopicsRequest,
    TopicConfigs,
    TopicDescription,
    TopicListing,
)
from zafka.core.metadata import MetadataState
from zafka.core.topic_config import config_to_string


def describe_configs(state: MetadataState, request: DescribeConfigsRequest) -> DescribeConfigsReply:
    """The effective configs of each named topic, defaults marked."""
    results = []
    for name in request.names:
        topic = state.topics.get(name)
        if topic is None:
            results.append(TopicConfigs(name=name, error=UnknownTopicOrPartition.code,
                                        message=f"topic {name!r} does not exist"))
            continue
        overrides = dict(topic.configs)
        entries = tuple(
            ConfigEntry(name=key, value=config_to_string(value), is_default=key not in overrides)
            for key, value in sorted(state.topic_config(name).items()))
        results.append(TopicConfigs(name=name, entries=entries))
    return DescribeConfigsReply(results=tuple(results))


def list_topics(state: MetadataState, request: ListTopicsRequest) -> ListTopicsReply:
    """Every topic, sorted by name (internal ones only if asked)."""
    return ListTopicsReply(topics=tuple(
        TopicListing(name=t.name, topic_id=t.topic_id, num_partitions=t.num_partitions,
                     internal=t.internal)
        for t in sorted(state.topics.values(), key=lambda t: t.name)
        if request.include_internal or not t.internal))


def describe_topics(state: MetadataState, request: DescribeTopicsRequest) -> DescribeTopicsReply:
    """Partitions, leaders and ISRs of each named topic (() = all) and the brokers."""
    topics = []
    for name in request.names or tuple(sorted(state.topics)):
        topic = state.topics.get(name)
        if topic is None:
            topics.append(TopicDescription(name=name, error=UnknownTopicOrPartition.code,
                                           message=f"topic {name!r} does not exist"))
            continue
        topics.append(TopicDescription(name=name, topic_id=topic.topic_id,
                                       internal=topic.internal,
                                       partitions=state.topic_partitions(name)))
    return DescribeTopicsReply(topics=tuple(topics), brokers=state.snapshot().brokers)


__all__ = ["describe_configs", "describe_topics", "list_topics"]
