"""The public Python API: Producer, Consumer (groups), Admin, serializers, partitioner.

Built on ``transport``; its long-lived parts are pykka actors wrapped by a blocking facade.
"""

from zafka.client.accumulator import BufferExhausted
from zafka.client.admin import Admin, ClientClosed, PartitionInfo, TopicInfo
from zafka.client.consumer import Consumer, OffsetAndMetadata, TopicPartition
from zafka.client.consumer_config import (
    CommitFailed,
    ConsumerRecord,
    IllegalStateError,
    NoOffsetForPartition,
)
from zafka.client.futures import FutureRecordMetadata, RecordMetadata
from zafka.client.producer import Producer
from zafka.client.producer_messages import (
    FlushRecords,
    ProducerRecord,
    RecordsFlushed,
    RecordsSent,
    SendRecords,
)

__all__: list[str] = [
    "Admin", "ClientClosed", "PartitionInfo", "TopicInfo",
    "CommitFailed", "Consumer", "ConsumerRecord", "IllegalStateError", "NoOffsetForPartition",
    "OffsetAndMetadata", "TopicPartition",
    "BufferExhausted", "FlushRecords", "FutureRecordMetadata", "Producer", "ProducerRecord",
    "RecordMetadata", "RecordsFlushed", "RecordsSent", "SendRecords",
]
