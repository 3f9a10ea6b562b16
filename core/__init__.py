"""Pure, deterministic protocol cores and the message catalogue.

Owns: the Raft state machine (``core.raft``), the metadata state machine (``core.metadata``),
partition replication decisions (``core.replication``), placement, tunables (``core.config``),
Kafka-named errors (``core.errors``) and every message that crosses an actor or process
boundary (``core.messages``).

Must never: open a file or socket, start a thread, read a clock, or use module-level
randomness.  Imports the standard library only.
"""

__all__: list[str] = []
