"""Everything that touches data files.

Owns: the Kafka RecordBatch v2 codec (``storage.records``), log segments and their indexes,
the partition log, the Raft store, atomic small files, and in-memory twins with ``crash()``.

Must never: know about replication, actors or sockets.  Imports ``core`` and the standard
library (plus ``crc32c``).
"""

from zafka.storage.files import LogCorruption
from zafka.storage.log import AppendInfo, LogConfig, PartitionLog
from zafka.storage.memory import MemoryDirectory, MemoryPartitionLog
from zafka.storage.records import BatchHeader, ConsumerRecord, Record, decode_batch, encode_batch

__all__ = [
    "AppendInfo", "BatchHeader", "ConsumerRecord", "LogConfig", "LogCorruption",
    "MemoryDirectory", "MemoryPartitionLog", "PartitionLog", "Record", "decode_batch",
    "encode_batch",
]
