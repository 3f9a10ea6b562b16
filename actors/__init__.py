"""pykka actors: thin shells around the pure cores.

Owns: the base actor and per-process router, the ticker, the node entry point
(``python -m actors.node``), and the coordinator, broker, replica, partition and
group-coordinator actors.

Must never: make protocol decisions of its own (they live in ``core``), block inside a
handler, or swallow an exception (an actor failure ends the node process).
"""

__all__: list[str] = []
