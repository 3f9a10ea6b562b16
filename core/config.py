"""Internal tunables and limits, in one place, units last in every name.

``Tunables`` is a frozen dataclass; ``validate()`` checks the relations between fields and
raises ``ValueError`` naming the rule that broke.  Topic-level configs (Kafka's dotted names)
live in ``core.topic_config``.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Tunables:
    """Every knob of a node; the defaults are the safe ones."""

    # --- time --------------------------------------------------------------------------
    tick_ms: int = 10
    """One logical tick of every core, delivered by the process ticker."""

    # --- raft (coordinators) -----------------------------------------------------------
    election_ticks: int = 50
    """Minimum election timeout; the actual one is drawn from [election, 2*election)."""
    heartbeat_ticks: int = 5
    raft_max_entries_per_append: int = 256
    raft_snapshot_every_entries: int = 10_000
    raft_max_inflight_appends: int = 64

    # --- brokers and the controller ----------------------------------------------------
    broker_heartbeat_ticks: int = 10
    broker_session_timeout_ticks: int = 300
    metadata_fetch_max_wait_ticks: int = 50
    controller_retry_ticks: int = 100
    """How long the controller waits before proposing the same change again: long enough
    for thousands of proposals to commit, so a burst is never proposed twice."""

    # --- replication -------------------------------------------------------------------
    replica_lag_time_max_ticks: int = 1_000
    replica_fetch_max_wait_ticks: int = 50
    replica_fetch_max_bytes: int = 8 * 1024 * 1024
    pending_acks_per_partition_max: int = 10_000
    producer_dedup_window_batches: int = 5

    # --- consumer groups -----------------------------------------------------------------
    offsets_topic_partitions: int = 10
    """Partitions of ``__consumer_offsets`` (Kafka's default is 50)."""
    offsets_topic_replication_factor: int = 3
    """Capped at the number of live brokers when the topic is created."""
    producer_id_block_size: int = 1000
    group_min_session_timeout_ms: int = 6_000
    group_max_session_timeout_ms: int = 1_800_000
    group_initial_rebalance_delay_ms: int = 3_000
    """How long a group forming from empty waits for more members (Kafka's default)."""

    # --- storage -----------------------------------------------------------------------
    segment_bytes_max: int = 1024 * 1024 * 1024
    index_interval_bytes: int = 4096
    message_max_bytes: int = 1024 * 1024 + 12 * 1024

    # --- the Kafka listener ------------------------------------------------------------
    kafka_request_bytes_max: int = 100 * 1024 * 1024
    """Kafka's socket.request.max.bytes: a larger frame closes the connection."""
    kafka_connection_idle_ms: int = 600_000
    """Kafka's connections.max.idle.ms: a connection silent this long is closed."""
    kafka_auto_create_topics: bool = False
    """Kafka's auto.create.topics.enable (off: a typo must not create a topic)."""

    # --- transport ---------------------------------------------------------------------
    send_queue_messages_max: int = 100_000
    ask_timeout_ms: int = 5_000

    # --- security ----------------------------------------------------------------------
    allow_everyone_if_no_acl_found: bool = True
    """Kafka's ``allow.everyone.if.no.acl.found``: with no ACL for a resource, clients may
    read, write, create and describe it (deleting and altering stay admin-only); false makes
    everything not allowed by an ACL denied (``core.acl``)."""

    def validate(self) -> Tunables:
        """Raise ``ValueError`` if two settings contradict each other; return self."""
        rules = [
            (self.tick_ms > 0, "tick_ms > 0"),
            (self.election_ticks > 2 * self.heartbeat_ticks,
             "election_ticks > 2 * heartbeat_ticks (a leader must beat its followers' timers)"),
            (self.heartbeat_ticks > 0, "heartbeat_ticks > 0"),
            (self.broker_session_timeout_ticks > 2 * self.broker_heartbeat_ticks,
             "broker_session_timeout_ticks > 2 * broker_heartbeat_ticks"),
            (self.replica_lag_time_max_ticks > self.replica_fetch_max_wait_ticks,
             "replica_lag_time_max_ticks > replica_fetch_max_wait_ticks (an idle follower "
             "long-polls and must not look lagging)"),
            (self.producer_dedup_window_batches >= 1, "producer_dedup_window_batches >= 1"),
            (self.send_queue_messages_max > 0, "send_queue_messages_max > 0"),
            (self.segment_bytes_max >= self.message_max_bytes,
             "segment_bytes_max >= message_max_bytes"),
        ]
        for ok, rule in rules:
            if not ok:
                raise ValueError(f"invalid tunables: {rule}")
        return self


DEFAULT = Tunables().validate()

__all__ = ["DEFAULT", "Tunables"]
