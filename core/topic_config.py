"""Topic-level configs (Kafka's dotted names): types, defaults, validation; topic names.

Owns: the table of topic configs zafka understands, parsing of user-supplied values into
canonical typed values (``int``, ``bool`` or ``str``), the effective config of a topic
(defaults overlaid with its overrides), the durability policy derived from the flush configs,
and topic-name validation.

Must never: touch files, read clocks, or know where configs are stored (the metadata state
machine stores the overrides; brokers read the effective config from their image).

Durability semantics (zafka's, deliberately safer than Kafka's): ``flush.ms`` and
``flush.messages`` default to Long.MAX_VALUE exactly as in Kafka, but in zafka the default
means *fsync before acknowledge* (group commit: one fsync covers everything appended since the
last).  Setting either of them to any other value opts the topic into Kafka's lazy policy: the
log is fsynced once ``flush.messages`` records have accumulated or ``flush.ms`` has passed,
and acknowledgements do not wait for the disk (replication alone protects the data).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping

from zafka.core.errors import InvalidConfig, InvalidTopic

ConfigValue = str | int | bool
"""A canonical config value: ``int`` for longs and ints, ``bool`` for booleans, else ``str``."""

LONG_MAX = 2**63 - 1
DAY_MS = 24 * 60 * 60 * 1000
MAX_TOPIC_NAME_CHARS = 249
INTERNAL_TOPIC_PREFIX = "__"
CONSUMER_OFFSETS_TOPIC = "__consumer_offsets"
CLEANUP_POLICIES = ("delete", "compact", "compact,delete")
TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")
_TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]+")


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigDef:
    """One topic config: its kind, default, the check a value must pass, and what it means."""

    name: str
    kind: type  # int, bool or str
    default: ConfigValue
    check: Callable[[ConfigValue], bool]
    expectation: str
    doc: str


def _at_least(low: int) -> Callable[[ConfigValue], bool]:
    return lambda value: isinstance(value, int) and value >= low


def _one_of(choices: tuple[str, ...]) -> Callable[[ConfigValue], bool]:
    return lambda value: value in choices


def _any(value: ConfigValue) -> bool:
    return True


def _long(name: str, default: int, low: int, doc: str) -> ConfigDef:
    expectation = "an integer >= -1 (-1 = unlimited)" if low == -1 else f"an integer >= {low}"
    return ConfigDef(name, int, default, _at_least(low), expectation, doc)


TOPIC_CONFIGS: dict[str, ConfigDef] = {
    d.name: d
    for d in (
        _long("retention.ms", 7 * DAY_MS, -1,
              "How long closed segments are kept before deletion; -1 keeps them forever."),
        _long("retention.bytes", -1, -1,
              "Largest size a partition may reach before old segments are deleted; -1 = no cap."),
        _long("segment.bytes", 1024 * 1024 * 1024, 1024, "Roll a new segment at this size."),
        _long("segment.ms", 7 * DAY_MS, 1, "Roll a new segment after this much time."),
        ConfigDef("cleanup.policy", str, "delete", _one_of(CLEANUP_POLICIES),
                  "one of delete, compact, compact,delete",
                  "delete: drop old segments; compact: keep the latest record per key."),
        _long("min.insync.replicas", 1, 1,
              "Fewest in-sync replicas that must hold a record before an acks=all produce "
              "succeeds; must not exceed the replication factor."),
        _long("max.message.bytes", 1048588, 0, "Largest record batch the topic accepts."),
        _long("flush.ms", LONG_MAX, 0,
              "Default: fsync before acknowledge. Any other value: lazy fsync at most this "
              "many ms after an append (Kafka's policy)."),
        _long("flush.messages", LONG_MAX, 1,
              "Default: fsync before acknowledge. Any other value: lazy fsync every this many "
              "records (Kafka's policy)."),
        ConfigDef("unclean.leader.election.enable", bool, False, _any, "true or false",
                  "Allow a replica outside the ISR to become leader (may lose records)."),
        _long("delete.retention.ms", DAY_MS, 0,
              "How long tombstones are kept in a compacted topic."),
        ConfigDef("message.timestamp.type", str, "CreateTime", _one_of(TIMESTAMP_TYPES),
                  "one of CreateTime, LogAppendTime",
                  "Whose timestamp records carry: the producer's or the leader's."),
    )
}


def _parse_typed(definition: ConfigDef, raw: ConfigValue) -> ConfigValue | None:
    """``raw`` converted to the config's kind, or None if it cannot be."""
    if definition.kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        return {"true": True, "false": False}.get(text)
    if definition.kind is int:
        if isinstance(raw, bool):
            return None
        if isinstance(raw, int):
            return raw
        try:
            return int(str(raw).strip())
        except ValueError:
            return None
    text = str(raw).strip()
    if definition.name == "cleanup.policy":
        parts = sorted({p.strip() for p in text.split(",") if p.strip()})
        return ",".join(parts)
    return text


def parse_config_value(key: str, raw: ConfigValue) -> ConfigValue:
    """The canonical value of ``key=raw``; ``InvalidConfig`` names an unknown key or bad value."""
    definition = TOPIC_CONFIGS.get(key)
    if definition is None:
        raise InvalidConfig(
            f"unknown topic config {key!r}; valid keys: {', '.join(sorted(TOPIC_CONFIGS))}")
    value = _parse_typed(definition, raw)
    if value is None or not definition.check(value):
        raise InvalidConfig(
            f"invalid value {raw!r} for topic config {key!r}: expected {definition.expectation}")
    return value


def validate_overrides(
    overrides: Iterable[tuple[str, ConfigValue]] | Mapping[str, ConfigValue],
    replication_factor: int,
) -> tuple[tuple[str, ConfigValue], ...]:
    """Parse and check a topic's overrides; canonical (key, value) pairs, sorted by key.

    ``min.insync.replicas`` must not exceed ``replication_factor``; ``max.message.bytes`` must
    fit in a segment.
    """
    pairs = overrides.items() if isinstance(overrides, Mapping) else overrides
    parsed: dict[str, ConfigValue] = {}
    for key, raw in pairs:
        if key in parsed:
            raise InvalidConfig(f"topic config {key!r} given twice")
        parsed[key] = parse_config_value(key, raw)
    effective = effective_config(parsed)
    min_isr, max_message = effective["min.insync.replicas"], effective["max.message.bytes"]
    segment = effective["segment.bytes"]
    assert isinstance(min_isr, int) and isinstance(max_message, int)
    assert isinstance(segment, int)
    if min_isr > replication_factor:
        raise InvalidConfig(
            f"min.insync.replicas={min_isr} exceeds the replication factor "
            f"{replication_factor}: acks=all produce requests could never succeed")
    if max_message > segment:
        raise InvalidConfig(
            f"max.message.bytes={max_message} exceeds segment.bytes={segment}: "
            "such a batch could not be stored")
    return tuple(sorted(parsed.items()))


def effective_config(
    overrides: Iterable[tuple[str, ConfigValue]] | Mapping[str, ConfigValue] = (),
) -> dict[str, ConfigValue]:
    """Every topic config with its value: the defaults overlaid with ``overrides`` (canonical)."""
    result: dict[str, ConfigValue] = {name: d.default for name, d in TOPIC_CONFIGS.items()}
    result.update(dict(overrides.items() if isinstance(overrides, Mapping) else overrides))
    return result


def config_to_string(value: ConfigValue) -> str:
    """A canonical value as Kafka prints it (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclasses.dataclass(frozen=True, slots=True)
class FlushPolicy:
    """How a replica makes appends durable, derived from flush.ms / flush.messages."""

    fsync_before_ack: bool
    flush_messages: int  # lazy policy: fsync after this many records (LONG_MAX = never)
    flush_ms: int  # lazy policy: fsync after this many ms (LONG_MAX = never)


def flush_policy(config: Mapping[str, ConfigValue]) -> FlushPolicy:
    """The durability policy of an effective config (see the module docstring)."""
    flush_messages, flush_ms = config["flush.messages"], config["flush.ms"]
    assert isinstance(flush_messages, int) and isinstance(flush_ms, int)
    return FlushPolicy(
        fsync_before_ack=flush_messages == LONG_MAX and flush_ms == LONG_MAX,
        flush_messages=flush_messages, flush_ms=flush_ms,
    )


def is_internal_topic_name(name: str) -> bool:
    """True for names reserved to zafka itself (``__consumer_offsets`` and other ``__*``)."""
    return name.startswith(INTERNAL_TOPIC_PREFIX)


def validate_topic_name(name: str, *, internal: bool = False) -> None:
    """Raise ``InvalidTopic`` unless ``name`` is a legal topic name (Kafka's rules).

    ``internal`` allows the reserved ``__`` prefix (only zafka itself creates such topics).
    """
    if not name:
        raise InvalidTopic("topic name is empty")
    if name in (".", ".."):
        raise InvalidTopic(f"topic name cannot be {name!r}")
    if len(name) > MAX_TOPIC_NAME_CHARS:
        raise InvalidTopic(
            f"topic name is {len(name)} characters long; the limit is {MAX_TOPIC_NAME_CHARS}")
    if not _TOPIC_NAME.fullmatch(name):
        raise InvalidTopic(
            f"topic name {name!r} may contain only ASCII letters, digits, '.', '_' and '-'")
    if is_internal_topic_name(name) and not internal:
        raise InvalidTopic(
            f"topic name {name!r} starts with {INTERNAL_TOPIC_PREFIX!r}, which is reserved for "
            "internal topics")


__all__ = [
    "CLEANUP_POLICIES", "CONSUMER_OFFSETS_TOPIC", "ConfigDef", "ConfigValue", "FlushPolicy",
    "INTERNAL_TOPIC_PREFIX", "LONG_MAX", "MAX_TOPIC_NAME_CHARS", "TIMESTAMP_TYPES",
    "TOPIC_CONFIGS", "config_to_string", "effective_config", "flush_policy",
    "is_internal_topic_name", "parse_config_value", "validate_overrides", "validate_topic_name",
]
