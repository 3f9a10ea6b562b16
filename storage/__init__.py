"""Everything that touches data files.

Owns: the Kafka RecordBatch v2 codec (``storage.records``), log segments and their indexes,
the partition log, the Raft store, atomic small files, and in-memory twins with ``crash()``.

Must never: know about replication, actors or sockets.  Imports ``core`` and the standard
library (plus ``crc32c``).
"""

__all__: list[str] = []
