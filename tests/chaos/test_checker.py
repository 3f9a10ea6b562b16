"""The chaos checkers judge histories correctly: each anomaly Jepsen names is caught, and a
clean history passes."""

from __future__ import annotations

from zafka.chaos.checker import (
    History,
    check_coordinators,
    check_group,
    check_log,
    check_replicas,
    violations,
)


def history_of(*sends: tuple[bytes, int, int, int, int | None]) -> History:
    """(value, producer, sequence, partition, acked offset or None for a failed send)."""
    history = History()
    for value, producer, sequence, partition, offset in sends:
        send = history.invoke(value, producer, sequence, partition)
        history.complete(send, offset, None if offset is not None else TimeoutError())
    return history


CLEAN = history_of((b"p0-0", 0, 0, 0, 0), (b"p0-1", 0, 1, 0, 1), (b"p1-0", 1, 0, 0, 2))


def test_a_clean_history_has_no_violation() -> None:
    result = check_log(CLEAN.sends, {0: [(0, b"p0-0"), (1, b"p0-1"), (2, b"p1-0")]})
    assert result["acknowledged"] == 3 and violations(result) == {}


def test_an_acknowledged_record_missing_from_the_log_is_lost() -> None:
    result = check_log(CLEAN.sends, {0: [(0, b"p0-0"), (1, b"p1-0")]})
    assert result["lost"] == 1 and result["examples"]["lost"] == ["p0-1"]
    assert result["wrong_offset"] == 1, "p1-0 was acknowledged at offset 2, read at 1"


def test_one_offset_acknowledged_for_two_values_is_flagged() -> None:
    history = history_of((b"p0-0", 0, 0, 0, 0), (b"p1-0", 1, 0, 0, 0))
    result = check_log(history.sends, {0: [(0, b"p1-0")]})
    assert result["offset_acknowledged_twice"] == 1 and result["lost"] == 1


def test_a_value_at_two_offsets_is_duplicated() -> None:
    reads = {0: [(0, b"p0-0"), (1, b"p0-1"), (2, b"p1-0"), (3, b"p0-1")]}
    assert check_log(CLEAN.sends, reads)["duplicated"] == 1


def test_acknowledged_records_read_out_of_acknowledgement_order_are_reordered() -> None:
    reads = {0: [(0, b"p0-1"), (1, b"p0-0"), (2, b"p1-0")]}
    result = check_log(CLEAN.sends, reads)
    assert result["reordered"] >= 1 and result["wrong_offset"] == 2


def test_a_failed_send_may_be_present_once_but_a_never_sent_value_is_unexpected() -> None:
    history = history_of((b"p0-0", 0, 0, 0, 0), (b"p0-1", 0, 1, 0, None))
    result = check_log(history.sends, {0: [(0, b"p0-0"), (1, b"p0-1"), (2, b"ghost")]})
    assert result["failed_but_present"] == 1 and result["unexpected"] == 1
    assert set(violations(result)) == {"unexpected"}


def test_replicas_disagreeing_below_the_high_watermark_are_inconsistent() -> None:
    replicas = {"broker-1": {0: [(0, b"a"), (1, b"b"), (2, b"c")]},
                "broker-2": {0: [(0, b"a"), (1, b"x"), (2, b"c")]},
                "broker-3": {0: [(0, b"a"), (1, b"b")]}}
    result = check_replicas(replicas, {0: 3}, {0: 0})
    assert result["inconsistent_offsets"] == 1 and result["replica_gaps"] == 1
    assert check_replicas(replicas, {0: 1}, {0: 0})["inconsistent_offsets"] == 0, \
        "only offsets below the high watermark must agree"


def test_the_group_must_deliver_every_acknowledged_record_and_never_uncommit() -> None:
    deliveries = [(0, 0, b"p0-0"), (0, 1, b"p0-1"), (0, 1, b"p0-1")]
    result = check_group(CLEAN.sends, deliveries, [(1.0, 0, 1), (2.0, 0, 2), (3.0, 0, 1)])
    assert result["group_undelivered"] == 1 and result["group_redelivered"] == 1
    assert result["commit_regressions"] == 1


def test_two_coordinators_leading_one_term_is_split_brain() -> None:
    samples = [(0.1, "coordinator-1", 1, "leader"), (0.2, "coordinator-2", 1, "follower"),
               (0.5, "coordinator-2", 2, "leader"), (0.6, "coordinator-1", 2, "leader")]
    result = check_coordinators(samples)
    assert result["terms_with_two_leaders"] == 1 and result["coordinator_terms_led"] == 2
