"""How many warm sandboxes a function's backlog gets: an async invocation whose function's
sandboxes are all busy waits for one of them, rather than starting another, when another
would only add work for the same cores (and hold memory while warm).

It waits once ``queue_after`` sandboxes (default: the machine's CPUs) are busy, of any function
not known to be slow, while its own invocations hold a sandbox for less time than a new one
takes to start (both remembered per function as moving averages): past the cores, another
sandbox of any short function adds work, not speed. A function always gets one sandbox. A slow
or waiting function (I/O, sleeps) still gets a sandbox per invocation, up to
``max_per_function``; one queued longer than twice its expected wait starts its own. Sync
invocations never queue here (a caller is waiting on them), and reserved concurrency and the
maximums keep their meaning: this only ever starts fewer.

A sandbox released while invocations of its key wait is handed to the longest waiting.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import Generic, TypeVar

WEIGHT = 0.2  # of the newest figure in a moving average
# Seconds a queued invocation waits at most before it starts a sandbox of its own, while its
# function's sandbox start is not known yet (then: that start's time).
FIRST_PATIENCE = 0.25

S = TypeVar("S")


class Pacer(Generic[S]):
    def __init__(self, queue_after: int = 0) -> None:
        self.queue_after = queue_after or os.cpu_count() or 1
        self._duration_ms: dict[str, float] = {}  # function name -> moving average
        self._cold_ms: dict[str, float] = {}
        self._waiting: dict[tuple[str, ...], deque[asyncio.Future[S | None]]] = {}

    def note(self, name: str, duration_ms: float, cold_ms: float | None) -> None:
        """An invocation's duration; its sandbox's start, when it started one."""
        _average(self._duration_ms, name, duration_ms)
        if cold_ms is not None:
            _average(self._cold_ms, name, cold_ms)

    def should_wait(self, name: str, key: tuple[str, ...], busy: int, running: int) -> bool:
        """Whether an async invocation should queue for one of ``busy`` sandboxes of ``key``:
        once ``running`` (the pool's busy sandboxes of functions not known to be slow, these
        included) reaches ``queue_after``, if its function's invocations end sooner than a
        sandbox starts (a new one would add CPU work, not finish it sooner). The cores are as
        busy whichever function's sandboxes keep them so; every function keeps one of its own."""
        if busy == 0 or running < self.queue_after:
            return False
        return self.short(name) is not False

    def short(self, name: str) -> bool | None:
        """Whether the function's invocations end sooner than its sandbox starts (None: not
        known yet, until its first invocation ends; then ``recheck`` frees its queue)."""
        duration, cold = self._duration_ms.get(name), self._cold_ms.get(name)
        if duration is None or cold is None:
            return None
        return duration < cold

    def patience(self, name: str, key: tuple[str, ...], busy: int) -> float:
        """Seconds a queued invocation waits before it starts a sandbox after all: twice its
        expected wait and a start (the busy ones may be slower than they were, or stuck)."""
        duration, cold = self._duration_ms.get(name), self._cold_ms.get(name)
        if duration is None or cold is None:
            return FIRST_PATIENCE
        expected = duration * self.queued(key) / max(busy, 1)
        return 2 * (cold + expected) / 1000 + 0.01

    def queued(self, key: tuple[str, ...]) -> int:
        return len(self._waiting.get(key, ()))

    def recheck(self, name: str, key: tuple[str, ...]) -> None:
        """With the figures of an invocation that ended: if they show the function is not
        short after all, those queued look again (and start sandboxes of their own)."""
        if self.queued(key) and self.short(name) is False:
            self.wake(key, every=True)

    def queue(self, key: tuple[str, ...]) -> asyncio.Future[S | None]:
        """A place in the key's queue: its future gets a sandbox, or None to look again."""
        future: asyncio.Future[S | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(future)
        return future

    def hand_over(self, key: tuple[str, ...], sandbox: S) -> bool:
        """Give a released sandbox to the longest waiting invocation of its key, if any."""
        waiting = self._waiting.get(key)
        while waiting:
            future = waiting.popleft()
            if not future.done():
                future.set_result(sandbox)
                self._forget_if_empty(key)
                return True
        self._forget_if_empty(key)
        return False

    def wake(self, key: tuple[str, ...] | None = None, every: bool = False) -> None:
        """Let one waiter of ``key`` look again (a sandbox went); or all (of every key)."""
        keys = list(self._waiting) if key is None else [key]
        for each in keys:
            waiting = self._waiting.get(each)
            while waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(None)
                    if key is not None and not every:
                        break
            self._forget_if_empty(each)

    def _forget_if_empty(self, key: tuple[str, ...]) -> None:
        if not self._waiting.get(key, True):
            del self._waiting[key]


def _average(averages: dict[str, float], name: str, value: float) -> None:
    old = averages.get(name)
    averages[name] = value if old is None else old + WEIGHT * (value - old)
