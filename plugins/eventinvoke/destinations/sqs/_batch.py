"""Coalescing one-by-one deliveries into batches, per key (for SQS: per queue).

The Router hands each delivery to ``deliver()`` on its own task. ``Coalescer.submit`` parks the
entry on its key's queue and awaits that entry's own result. Up to ``max_senders`` sender tasks
per key drain the queue, each taking up to ``max_entries`` entries within ``max_bytes`` per
request. There is no timer: at low load an entry goes out at once, alone; under load, entries
that arrive while a request is in flight (or in the same loop turn) go out together. So batching
costs no latency and never waits for a batch to fill.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
E = TypeVar("E")

# Sends one batch; returns, per entry and in order, None for delivered or the entry's exception.
SendBatch = Callable[[K, Sequence[E]], Awaitable[Sequence[BaseException | None]]]


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


@dataclass
class _Pending(Generic[E]):
    entry: E
    size: int
    future: asyncio.Future[None] = field(default_factory=_future)


class Coalescer(Generic[K, E]):
    def __init__(
        self,
        send: SendBatch[K, E],
        max_entries: int = 10,
        max_bytes: int = 262_144,
        max_senders: int = 4,
    ) -> None:
        self._send = send
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_senders = max_senders
        self._waiting: dict[K, deque[_Pending[E]]] = {}
        self._senders: dict[K, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: K, entry: E, size: int) -> None:
        """Send ``entry`` with whatever else is waiting for ``key``; raise its own failure."""
        pending: _Pending[E] = _Pending(entry, size)
        self._waiting.setdefault(key, deque()).append(pending)
        if self._senders.get(key, 0) < self.max_senders:
            self._senders[key] = self._senders.get(key, 0) + 1
            task = asyncio.create_task(self._drain(key), name=f"batch-sender-{key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await pending.future

    def _take(self, waiting: deque[_Pending[E]]) -> list[_Pending[E]]:
        """The next batch: at least one entry, then more while they fit."""
        batch = [waiting.popleft()]
        size = batch[0].size
        while len(batch) < self.max_entries and waiting:
            if size + waiting[0].size > self.max_bytes:
                break
            size += waiting[0].size
            batch.append(waiting.popleft())
        return batch

    async def _drain(self, key: K) -> None:
        batch: list[_Pending[E]] = []
        try:
            await asyncio.sleep(0)  # deliveries handed over in this loop turn join the batch
            waiting = self._waiting[key]
            while waiting:
                batch = self._take(waiting)
                try:
                    results: Sequence[BaseException | None] = await self._send(
                        key, [p.entry for p in batch]
                    )
                except Exception as error:  # the sender should classify; never strand callers
                    results = [error] * len(batch)
                for pending, result in zip(batch, results, strict=True):
                    if pending.future.done():
                        continue
                    if result is None:
                        pending.future.set_result(None)
                    else:
                        pending.future.set_exception(result)
                batch = []
        finally:
            for pending in batch:  # cancelled mid-request
                if not pending.future.done():
                    pending.future.cancel()
            self._senders[key] -= 1
            if not self._senders[key]:
                del self._senders[key]
                if not self._waiting.get(key):
                    self._waiting.pop(key, None)

    async def close(self) -> None:
        """Stop the senders; callers still waiting are cancelled (their records stay leased)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for waiting in self._waiting.values():
            for pending in waiting:
                pending.future.cancel()
        self._waiting.clear()
