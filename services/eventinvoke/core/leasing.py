"""The loop the executor and the Router share: lease work into free slots, run each item as a
task, wake at once on a doorbell or look again after a short poll."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger("eventinvoke.leasing")

T = TypeVar("T")

IDLE_POLL_SECONDS = 0.1  # how often an idle loop looks for work that became due (retries, peers)


class LeaseLoop(Generic[T]):
    """Runs leased items with at most ``concurrency`` in flight.

    An item already being worked on here is never started a second time, even when its lease
    ran out and the lease call hands it back: the first attempt's outcome settles it.
    """

    def __init__(
        self,
        name: str,
        lease: Callable[[int], Awaitable[list[T]]],
        work: Callable[[T], Awaitable[None]],
        key: Callable[[T], Hashable],
        concurrency: int,
        doorbell: asyncio.Event,
        batch: int | None = None,
    ) -> None:
        self.name = name
        self._lease = lease
        self._work = work
        self._key = key
        self.concurrency = concurrency
        self.batch = batch or concurrency
        self.doorbell = doorbell
        self.inflight: dict[Hashable, asyncio.Task[None]] = {}
        self._slot_freed = asyncio.Event()  # set when an item finishes
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop leasing and let the items in flight finish (their leases cover a crash)."""
        self._stopping = True
        self.doorbell.set()
        if self._task:
            await self._task
        if self.inflight:
            await asyncio.gather(*self.inflight.values(), return_exceptions=True)

    async def _run_one(self, key: Hashable, item: T) -> None:
        try:
            await self._work(item)
        finally:
            self.inflight.pop(key, None)
            self._slot_freed.set()

    async def _run(self) -> None:
        while not self._stopping:
            free = min(self.batch, self.concurrency - len(self.inflight))
            if free <= 0:
                # O(1) per finished item (asyncio.wait on every task in flight was O(n)); one
                # more turn of the loop lets items finishing together share the next lease.
                self._slot_freed.clear()
                await self._slot_freed.wait()
                await asyncio.sleep(0)
                continue
            self.doorbell.clear()
            try:
                items = await self._lease(free)
            except Exception:
                log.exception("lease_failed", loop=self.name)
                items = []
            started = 0
            for item in items:
                key = self._key(item)
                if key not in self.inflight:
                    self.inflight[key] = asyncio.create_task(self._run_one(key, item))
                    started += 1
            if not started:  # nothing new: wait for the doorbell or the next poll
                try:
                    await asyncio.wait_for(self.doorbell.wait(), IDLE_POLL_SECONDS)
                except TimeoutError:
                    pass
