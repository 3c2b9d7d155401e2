"""LeaseLoop: never more than its concurrency in flight, never an item twice at once, and stop()
lets the items in flight finish. With prefetch: a freed slot starts a waiting item without a
lease, items that waited too long, or still wait at stop(), are released, and items leased
elsewhere can be offered to it."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from conftest import wait_for

from eventinvoke.core import leasing
from eventinvoke.core.leasing import LeaseLoop, Prefetch


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


async def test_a_short_lease_waits_for_the_doorbell_before_leasing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lease that brought fewer items than asked found the queue drained: the loop leases
    again when the doorbell rings (new work) or the idle poll comes round, not at once."""
    monkeypatch.setattr(leasing, "IDLE_POLL_SECONDS", 30.0)  # only the doorbell, here
    queue = [1, 2]
    asked: list[int] = []
    ran: list[int] = []
    doorbell = asyncio.Event()

    async def lease(limit: int) -> list[int]:
        asked.append(limit)
        taken = queue[:limit]
        del queue[:limit]
        return taken

    async def work(item: int) -> None:
        ran.append(item)

    loop: LeaseLoop[int] = LeaseLoop(
        "test", lease, work, key=lambda item: item, concurrency=8, doorbell=doorbell
    )
    await loop.start()
    await wait_for(lambda: ran == [1, 2])
    await asyncio.sleep(0.1)
    assert len(asked) == 1  # 2 of 8: no second lease yet

    queue.append(3)
    doorbell.set()
    await wait_for(lambda: ran == [1, 2, 3])
    await loop.stop()
    assert len(asked) == 2


class Source:
    """A queue: a lease takes the first items available, a release puts items back in front.
    With ``pending``, every lease after the first waits until ``more`` is set."""

    def __init__(self, *items: int, pending: bool = False) -> None:
        self.available = list(items)
        self.more = asyncio.Event()
        if not pending:
            self.more.set()
        self.leases = 0
        self.leased: Counter[int] = Counter()
        self.released: list[int] = []

    async def lease(self, limit: int) -> list[int]:
        self.leases += 1
        if self.leases > 1:
            await self.more.wait()
        taken, self.available = self.available[:limit], self.available[limit:]
        self.leased.update(taken)
        return taken

    async def release(self, items: list[int]) -> None:
        self.released.extend(items)
        self.available[:0] = items


def prefetching(source: Source, work: Any, hold: float = 60.0) -> LeaseLoop[int]:
    return LeaseLoop(
        "test",
        source.lease,
        work,
        key=lambda item: item,
        concurrency=1,
        doorbell=asyncio.Event(),
        prefetch=Prefetch(count=2, hold=hold, release=source.release),
    )


async def test_a_freed_slot_starts_a_waiting_item_while_the_next_lease_is_pending() -> None:
    source = Source(1, 2, 3, pending=True)
    ran: list[int] = []
    all_ran = asyncio.Event()

    async def work(item: int) -> None:
        ran.append(item)
        if len(ran) == 3:
            all_ran.set()

    loop = prefetching(source, work)
    await loop.start()
    await asyncio.wait_for(all_ran.wait(), 5)

    assert ran == [1, 2, 3]  # one at a time, in lease order
    assert source.leases == 2  # the second is still pending: 2 and 3 started without it
    source.more.set()
    await loop.stop()
    assert source.released == []


async def test_items_held_too_long_go_back_and_are_not_taken_again_while_slots_are_busy() -> None:
    source = Source(1, 2, 3)
    ran: list[int] = []
    finish = asyncio.Event()

    async def work(item: int) -> None:
        ran.append(item)
        if item == 1:
            await finish.wait()

    loop = prefetching(source, work, hold=0.1)
    await loop.start()
    await wait_for(lambda: source.released == [2, 3], timeout=5)
    await asyncio.sleep(0.5)  # many holds: a loop that leased ahead again would take them back

    assert ran == [1]
    assert source.leased == {1: 1, 2: 1, 3: 1}
    assert source.available == [2, 3]  # there for any owner
    finish.set()  # a slot frees: leasing ahead resumes
    await wait_for(lambda: ran == [1, 2, 3], timeout=5)
    await loop.stop()


async def test_stop_releases_the_items_waiting_before_the_ones_in_flight_finish() -> None:
    source = Source(1, 2, 3)
    ran: list[int] = []
    started, finish = asyncio.Event(), asyncio.Event()

    async def work(item: int) -> None:
        ran.append(item)
        started.set()
        await finish.wait()

    loop = prefetching(source, work)
    await loop.start()
    await asyncio.wait_for(started.wait(), 5)
    stopping = asyncio.create_task(loop.stop())
    await wait_for(lambda: source.released == [2, 3], timeout=2)

    assert not stopping.done()  # item 1 is still running
    finish.set()
    await asyncio.wait_for(stopping, 5)
    assert ran == [1]


async def test_an_offered_item_starts_in_a_free_slot_or_waits_ahead_of_the_next_lease() -> None:
    """Items leased elsewhere to this loop's owner (a settle's follow-ups) run as if the loop had
    leased them: at once in a free slot, else waiting beside the slots, before later leases."""
    source = Source(pending=True)  # nothing to lease: only what is offered runs
    ran: list[int] = []
    finish = asyncio.Event()

    async def work(item: int) -> None:
        ran.append(item)
        await finish.wait()

    loop = prefetching(source, work)  # concurrency 1, two leased ahead
    await loop.start()
    await wait_for(lambda: source.leases == 1)
    assert loop.room() == 3

    await loop.offer([10])
    await wait_for(lambda: ran == [10])
    await loop.offer([11, 12])
    assert loop.room() == 0 and ran == [10]  # the slot is busy: they wait
    finish.set()
    await wait_for(lambda: ran == [10, 11, 12])
    assert source.leased == {}  # none of them was leased by the loop
    source.more.set()
    await loop.stop()


async def test_items_offered_while_stopping_go_back_at_once() -> None:
    source = Source()
    loop = prefetching(source, lambda item: asyncio.sleep(0))
    await loop.start()
    await loop.stop()

    assert loop.room() == 0
    await loop.offer([7])
    assert source.released == [7]


def test_prefetch_needs_a_hold() -> None:
    with pytest.raises(ValueError, match="hold > 0"):
        Prefetch(count=4, hold=0, release=Source().release)
