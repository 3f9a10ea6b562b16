"""The client's metadata snapshot built from brokers' DescribeTopicsReply."""

from __future__ import annotations

from zafka.client.metadata import ClusterMetadata
from zafka.core.errors import ErrorCode
from zafka.core.messages import BrokerRecord, DescribeTopicsReply, PartitionRecord, TopicDescription


def partition(number: int, leader: int) -> PartitionRecord:
    return PartitionRecord(topic="t", topic_id="id", partition=number, replicas=(1, 2),
                           isr=(1, 2), leader=leader, leader_epoch=0, partition_epoch=0)


def broker(broker_id: int) -> BrokerRecord:
    return BrokerRecord(broker_id=broker_id, address=f"tcp://127.0.0.1:{9000 + broker_id}",
                        broker_epoch=1, incarnation="x", fenced=False)


REPLY = DescribeTopicsReply(
    topics=(TopicDescription(name="t", partitions=(partition(1, -1), partition(0, 2))),
            TopicDescription(name="gone", error=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)),
    brokers=(broker(1), broker(2)))


def test_a_reply_gives_partitions_in_order_with_their_leaders() -> None:
    metadata, missing = ClusterMetadata().updated(REPLY)
    assert missing == {"gone"}
    assert metadata.partition_count("t") == 2
    assert metadata.leader_of("t", 0) == 2
    assert metadata.leader_of("t", 1) is None, "leader -1 means no leader"
    assert metadata.available_partitions("t") == (0,)
    assert metadata.brokers[2] == "tcp://127.0.0.1:9002"


def test_a_leader_without_a_known_broker_address_is_not_usable() -> None:
    metadata, _ = ClusterMetadata().updated(DescribeTopicsReply(
        topics=(TopicDescription(name="t", partitions=(partition(0, 3),)),), brokers=()))
    assert metadata.leader_of("t", 0) is None


def test_a_topic_reported_missing_is_dropped_and_others_are_kept() -> None:
    metadata, _ = ClusterMetadata().updated(REPLY)
    later, missing = metadata.updated(DescribeTopicsReply(
        topics=(TopicDescription(name="t", error=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),),
        brokers=()))
    assert missing == {"t"} and later.partition_count("t") is None
    assert later.brokers == metadata.brokers, "a reply without brokers keeps the known ones"
    assert metadata.partition_count("t") == 2, "snapshots are immutable"


def test_unknown_topics_and_partitions_have_no_leader() -> None:
    metadata, _ = ClusterMetadata().updated(REPLY)
    assert metadata.leader_of("nope", 0) is None
    assert metadata.leader_of("t", 7) is None
