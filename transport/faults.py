"""A fault filter for tests: drop or delay traffic from this process to chosen peers.

Owns: the rules, consulted by the outbound thread for every envelope it is about to send.
Rules are installed locally (``FaultFilter.set_rules``) or, on a node, by the catalogue
message ``SetFaults`` that the node actor passes here.  Partitions between node sets are built
from per-process drop rules on both sides (see ``cluster.Cluster.partition``).

Must never: be active unless a test asked for it (no rules = no cost beyond one check).
"""

from __future__ import annotations

import random
import threading

from zafka.core.messages import FaultRule


class FaultFilter:
    """Thread-safe rule set; ``verdict(dest_address)`` -> (drop?, delay_ms)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rules: tuple[FaultRule, ...] = ()
        self._lock = threading.Lock()
        self._rng = rng or random.Random()
        self.dropped = 0

    def set_rules(self, rules: tuple[FaultRule, ...]) -> None:
        with self._lock:
            self._rules = tuple(rules)

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return self._rules

    def verdict(self, dest_address: str) -> tuple[bool, int]:
        rules = self._rules
        if not rules:
            return False, 0
        delay_ms = 0
        for rule in rules:
            if rule.dest_addresses and dest_address not in rule.dest_addresses:
                continue
            if rule.kind == "drop" and self._rng.random() < rule.probability:
                self.dropped += 1
                return True, 0
            if rule.kind == "delay":
                delay_ms = max(delay_ms, rule.delay_ms)
        return False, delay_ms


__all__ = ["FaultFilter"]
