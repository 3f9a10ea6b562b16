"""The process ticker: an actor whose tick work outgrows ``tick_ms`` ticks less often instead
of queueing ticks in front of its requests."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pykka
from zafka.actors.runtime import Ticker
from zafka.core.messages import Tick


class SlowTicker(pykka.ThreadingActor):
    """Takes 50 ms per tick (five tick periods) and answers a ``ping`` between ticks."""

    def __init__(self, ticker: Ticker) -> None:
        super().__init__()
        self.ticker = ticker
        self.ticks: list[int] = []

    def on_receive(self, message: Any) -> Any:
        if type(message) is Tick:
            self.ticker.handled(self.actor_urn)
            self.ticks.append(message.count)
            time.sleep(0.05)
            return None
        return len(self.ticks)


def test_a_slow_subscriber_gets_the_latest_tick_not_a_backlog() -> None:
    ticker = Ticker(tick_ms=10)
    ref = SlowTicker.start(ticker)
    try:
        ticker.subscribe("slow", ref)
        ticker.start()
        time.sleep(1.0)
        taken = ref.ask("ping", timeout=5)
        ticks = ref.proxy().ticks.get(timeout=5)
    finally:
        ticker.stop()
        ref.stop()
    assert taken >= 3
    assert all(b - a >= 2 for a, b in itertools.pairwise(ticks[1:])), \
        "the ticks that came while it was busy were never queued: it took the latest"


def test_an_untaken_tick_holds_the_next_until_the_actor_subscribes_anew() -> None:
    ticker = Ticker(tick_ms=10)
    told: list[int] = []

    class Silent(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            told.append(message.count)  # never reports ``handled``
            return None

    ref = Silent.start()
    try:
        ticker.subscribe("silent", ref)
        ticker.start()
        time.sleep(0.3)
        assert len(told) == 1, "no second tick before the first is reported taken"
        ticker.unsubscribe("silent")
        ticker.subscribe("silent", ref)
        time.sleep(0.3)
        assert len(told) == 2, "a new subscription starts afresh"
    finally:
        ticker.stop()
        ref.stop()


def test_wake_after_tells_a_tick_at_its_deadline_between_ticks() -> None:
    """A client's millisecond timer: the wake-up arrives although the (here 10 s) tick
    period has not passed once."""
    ticker = Ticker(tick_ms=10_000)
    told: list[int] = []
    arrived = threading.Event()

    class Waiting(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            told.append(message.count)
            arrived.set()
            return None

    ref = Waiting.start()
    try:
        ticker.start()
        ticker.wake_after("waiting", ref, 0.002)
        assert arrived.wait(5), "the timer fired"
        assert told == [0], "before the first tick"
    finally:
        ticker.stop()
        ref.stop()
