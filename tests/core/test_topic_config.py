"""Topic configs: Kafka's names, types and defaults; validation errors that explain themselves."""

from __future__ import annotations

import pytest
from zafka.core.errors import InvalidConfig, InvalidTopic
from zafka.core.topic_config import (
    LONG_MAX,
    TOPIC_CONFIGS,
    config_to_string,
    effective_config,
    flush_policy,
    parse_config_value,
    validate_overrides,
    validate_topic_name,
)


def test_effective_config_is_the_defaults_overlaid_with_overrides() -> None:
    config = effective_config({"retention.ms": 60_000})
    assert config["retention.ms"] == 60_000
    assert config["retention.bytes"] == -1
    assert config["segment.bytes"] == 1024 ** 3
    assert config["cleanup.policy"] == "delete"
    assert config["min.insync.replicas"] == 1
    assert config["max.message.bytes"] == 1048588
    assert config["unclean.leader.election.enable"] is False
    assert config["delete.retention.ms"] == 24 * 3600 * 1000
    assert config["message.timestamp.type"] == "CreateTime"
    assert set(config) == set(TOPIC_CONFIGS)


def test_unknown_key_is_named_and_valid_keys_are_listed() -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_config_value("retention.msec", "1")
    assert "'retention.msec'" in caught.value.message
    assert "retention.ms" in caught.value.message and "segment.bytes" in caught.value.message


@pytest.mark.parametrize("key, raw, expected", [
    ("retention.ms", "-2", "integer >= -1"),
    ("retention.ms", "soon", "integer >= -1"),
    ("segment.bytes", 100, "integer >= 1024"),
    ("min.insync.replicas", 0, "integer >= 1"),
    ("cleanup.policy", "shred", "delete, compact"),
    ("unclean.leader.election.enable", "maybe", "true or false"),
    ("message.timestamp.type", "Now", "CreateTime, LogAppendTime"),
    ("retention.bytes", True, "integer"),
])
def test_bad_value_names_key_value_and_expectation(key: str, raw: object, expected: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_config_value(key, raw)  # type: ignore[arg-type]
    assert key in caught.value.message and repr(raw) in caught.value.message
    assert expected in caught.value.message


@pytest.mark.parametrize("key, raw, canonical", [
    ("retention.ms", "-1", -1),
    ("retention.ms", 5, 5),
    ("cleanup.policy", "delete, compact", "compact,delete"),
    ("cleanup.policy", "compact", "compact"),
    ("unclean.leader.election.enable", "TRUE", True),
    ("unclean.leader.election.enable", False, False),
])
def test_values_are_canonical(key: str, raw: str | int | bool, canonical: object) -> None:
    assert parse_config_value(key, raw) == canonical


def test_min_insync_replicas_may_not_exceed_the_replication_factor() -> None:
    assert validate_overrides({"min.insync.replicas": "2"}, 2) == (("min.insync.replicas", 2),)
    with pytest.raises(InvalidConfig, match="exceeds the replication factor 2"):
        validate_overrides({"min.insync.replicas": "3"}, 2)


def test_max_message_bytes_must_fit_a_segment() -> None:
    with pytest.raises(InvalidConfig, match="segment.bytes"):
        validate_overrides({"segment.bytes": 2048, "max.message.bytes": 4096}, 1)


def test_overrides_are_sorted_and_a_key_may_not_repeat() -> None:
    pairs = validate_overrides((("segment.ms", "10"), ("retention.ms", "20")), 1)
    assert pairs == (("retention.ms", 20), ("segment.ms", 10))
    with pytest.raises(InvalidConfig, match="given twice"):
        validate_overrides((("segment.ms", "1"), ("segment.ms", "2")), 1)


def test_default_flush_policy_is_fsync_before_acknowledge() -> None:
    policy = flush_policy(effective_config())
    assert policy.fsync_before_ack and policy.flush_ms == LONG_MAX


def test_setting_flush_messages_or_flush_ms_opts_into_the_lazy_policy() -> None:
    assert not flush_policy(effective_config({"flush.messages": 1000})).fsync_before_ack
    lazy = flush_policy(effective_config({"flush.ms": 500}))
    assert not lazy.fsync_before_ack and lazy.flush_ms == 500


def test_booleans_print_like_kafka() -> None:
    assert config_to_string(True) == "true" and config_to_string(7) == "7"


@pytest.mark.parametrize("name, reason", [
    ("", "empty"), (".", "cannot be"), ("..", "cannot be"), ("a" * 250, "250 characters"),
    ("bad/name", "may contain only"), ("spaced name", "may contain only"),
    ("__private", "reserved"),
])
def test_illegal_topic_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(InvalidTopic, match=reason):
        validate_topic_name(name)


def test_legal_topic_names_and_internal_topics() -> None:
    for name in ("orders", "a.b_c-D9", "x" * 249):
        validate_topic_name(name)
    validate_topic_name("__consumer_offsets", internal=True)
