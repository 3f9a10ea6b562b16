"""The public Python API: Producer, Consumer (groups), Admin, serializers, partitioner.

Built on ``transport``; its long-lived parts are pykka actors wrapped by a blocking facade.
"""

from client.accumulator import BufferExhausted
from client.admin import Admin, ClientClosed, PartitionInfo, TopicInfo
from client.consumer import Consumer, OffsetAndMetadata, TopicPartition
from client.consumer_config import (
    CommitFailed,
    ConsumerRecord,
    IllegalStateError,
    NoOffsetForPartition,
)
from client.futures import FutureRecordMetadata, RecordMetadata
from client.producer import Producer
from client.producer_messages import (
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
