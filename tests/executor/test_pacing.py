"""How many sandboxes an async backlog gets (executor/pacing.py): short invocations queue for
the function's busy sandboxes, slow ones each get their own, sync ones never queue."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor.sandbox import Invocation, SandboxPool, SandboxSettings

FUNCTIONS = Path(__file__).parent / "functions"
QUEUE_AFTER = 2


def function(handler: str, **kw: Any) -> FunctionConfig:
    return FunctionConfig(
        name="fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
        runtime="python3.12",
        handler=handler,
        code_sha256="sha",
        code_size=1,
        timeout=30,
        revision_id="r1",
        **kw,
    )


def invocation(payload: object) -> Invocation:
    return Invocation(str(uuid.uuid4()), json.dumps(payload).encode(), function("x").arn)


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[SandboxPool]:
    made = SandboxPool(SandboxSettings(log_dir=tmp_path / "logs", queue_after=QUEUE_AFTER))
    yield made
    await made.close()


async def backlog(pool: SandboxPool, fn: FunctionConfig, payloads: list[Any], wait: bool) -> list:
    runs = [pool.run(fn, FUNCTIONS, invocation(p), wait=wait) for p in payloads]
    return await asyncio.wait_for(asyncio.gather(*runs), 60)


async def test_a_backlog_of_short_invocations_queues_for_busy_sandboxes(pool) -> None:
    # Its sandboxes take 0.4 s to start: patience stays far above the backlog's wait even on a
    # loaded machine, where a plain echo's 20 ms start made the count depend on the load.
    fn = function("slow_start.echo")
    await backlog(pool, fn, [{"warm": 1}], wait=True)  # its durations and start are known
    outcomes = await backlog(pool, fn, [{"n": n} for n in range(200)], wait=True)
    assert [json.loads(o.payload)["event"]["n"] for o in outcomes] == list(range(200))
    # Well short of the 8 the function may have (each start costs more than a queue's wait).
    assert QUEUE_AFTER <= len(pool.sandboxes) < 8


async def test_short_functions_share_the_cores_each_keeping_a_sandbox(pool) -> None:
    """Past ``queue_after`` busy sandboxes another one adds work, not speed, whichever function
    it would be for: two short functions' backlogs together get about as many sandboxes as one
    function's would, and each still has its own."""
    one, other = function("slow_start.echo"), replace(function("slow_start.echo"), name="other")
    for fn in (one, other):  # durations and starts known
        await backlog(pool, fn, [{"warm": 1}], wait=True)
    outcomes = await asyncio.gather(
        backlog(pool, one, [{"n": n} for n in range(100)], wait=True),
        backlog(pool, other, [{"n": n} for n in range(100)], wait=True),
    )
    for runs in outcomes:
        assert [json.loads(o.payload)["event"]["n"] for o in runs] == list(range(100))
    names = [sandbox.function.name for sandbox in pool.sandboxes]
    assert set(names) == {"fn", "other"}
    # Per function, as before this rule, it would be QUEUE_AFTER each: 4.
    assert len(names) <= QUEUE_AFTER + 1


async def test_slow_invocations_each_get_a_sandbox(pool) -> None:
    fn = function("handlers.sleep")
    await backlog(pool, fn, [{"seconds": 0.5}], wait=True)
    started = time.monotonic()
    outcomes = await backlog(pool, fn, [{"seconds": 0.5}] * 6, wait=True)
    assert all(o.payload == b'"woke"' for o in outcomes)
    assert len(pool.sandboxes) == 6
    assert time.monotonic() - started < 1.5  # side by side, not two at a time


async def test_sync_invocations_never_queue(pool) -> None:
    fn = function("handlers.echo")
    await backlog(pool, fn, [{"warm": 1}], wait=False)
    await backlog(pool, fn, [{"n": n} for n in range(6)], wait=False)
    assert len(pool.sandboxes) == 6
