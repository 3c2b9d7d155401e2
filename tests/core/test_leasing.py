"""LeaseLoop: never more than its concurrency in flight, never an item twice at once, and stop()
lets the items in flight finish."""

from __future__ import annotations

import asyncio

from eventinvoke.core.leasing import LeaseLoop


async def test_bounded_deduplicated_and_drained_on_stop() -> None:
    pending = list(range(10))
    running: set[int] = set()
    peak = 0
    finished: list[int] = []
    all_done = asyncio.Event()

    async def lease(limit: int) -> list[int]:
        # A lease that also hands back items already in flight (as an expired lease would).
        return (sorted(running) + pending[:limit])[: limit + len(running)]

    async def work(item: int) -> None:
        nonlocal peak
        pending.remove(item)
        running.add(item)
        peak = max(peak, len(running))
        await asyncio.sleep(0.05)
        running.discard(item)
        finished.append(item)
        if len(finished) == 10:
            all_done.set()

    loop: LeaseLoop[int] = LeaseLoop(
        "test", lease, work, key=lambda item: item, concurrency=3, doorbell=asyncio.Event()
    )
    await loop.start()
    await asyncio.wait_for(all_done.wait(), 10)
    await loop.stop()

    assert sorted(finished) == list(range(10))  # each once
    assert peak <= 3
    assert not loop.inflight


async def test_stop_waits_for_work_in_flight() -> None:
    started = asyncio.Event()
    done: list[str] = []

    async def lease(limit: int) -> list[str]:
        return [] if done or started.is_set() else ["only"]

    async def work(item: str) -> None:
        started.set()
        await asyncio.sleep(0.1)
        done.append(item)

    loop: LeaseLoop[str] = LeaseLoop(
        "test", lease, work, key=str, concurrency=2, doorbell=asyncio.Event()
    )
    await loop.start()
    await started.wait()
    await loop.stop()
    assert done == ["only"]
