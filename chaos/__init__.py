"""zafka's fault-injection harness: nemeses that kill, pause, partition and damage nodes of a
real cluster, the workload that produces and consumes through it, and the checkers that read
the history afterwards (lost, duplicated or reordered records, divergent replicas, ...).

Owns: the chaos run behind ``zafka chaos`` and the test suite's chaos tests (``tests/chaos``
uses this package; this package never imports the tests).
"""

__all__ = ["checker", "harness", "nemesis", "reading", "workload"]
