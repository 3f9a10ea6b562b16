"""The public Python API: Producer, Consumer (groups), Admin, serializers, partitioner.

Built on ``transport``; its long-lived parts are pykka actors wrapped by a blocking facade.
"""

from client.accumulator import BufferExhausted
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
    "BufferExhausted", "FlushRecords", "FutureRecordMetadata", "Producer", "ProducerRecord",
    "RecordMetadata", "RecordsFlushed", "RecordsSent", "SendRecords",
]
