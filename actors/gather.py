"""Fan-out / fan-in of one request over the replica actors of a broker.

Owns: the table of calls in flight from the broker to its replicas.  A ``Gather`` collects
one response per partition of a request (some answered at once by the broker itself), and
answers the request when every partition has answered.  Late responses to an answered
gather are dropped.

Must never: wait; a gather completes only from the responses it is handed.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

from zafka.core.messages import Envelope

CALLS_IN_FLIGHT_MAX = 100_000


@dataclasses.dataclass(slots=True)
class Gather:
    """One request being answered partition by partition."""

    envelope: Envelope
    results: list[Any]
    remaining: int
    finish: Callable[[Gather], None]
    finished: bool = False


class CallTable:
    """call id -> (gather, slot)."""

    def __init__(self) -> None:
        self._calls: dict[int, tuple[Gather, int]] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._calls)

    def full(self) -> bool:
        return len(self._calls) >= CALLS_IN_FLIGHT_MAX

    def open(self, gather: Gather, slot: int) -> int:
        call_id = next(self._ids)
        self._calls[call_id] = (gather, slot)
        return call_id

    def answer(self, call_id: int, response: Any) -> None:
        entry = self._calls.pop(call_id, None)
        if entry is None:
            return
        gather, slot = entry
        if gather.finished:
            return
        gather.results[slot] = response
        gather.remaining -= 1
        if gather.remaining <= 0:
            gather.finished = True
            gather.finish(gather)


__all__ = ["CallTable", "Gather"]
