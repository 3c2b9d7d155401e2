"""The sandbox host: the executor's sandboxes run from a child process, behind the pool's
interface. A real host process, real sandboxes, a real socketpair between them."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import wait_for
from processes import gone, sandboxes

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor.host import HostedPool, SandboxHostError, frames
from eventinvoke.executor.sandbox import Invocation, Outcome, SandboxSettings, Throttled

FUNCTIONS = Path(__file__).parent / "functions"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def function(handler: str = "handlers.echo", **kw: Any) -> FunctionConfig:
    return FunctionConfig(
        name="fn",
        arn=ARN,
        runtime="python3.12",
        handler=handler,
        code_sha256="sha",
        code_size=1,
        revision_id="r1",
        **kw,
    )


def invocation(payload: object, **kw: Any) -> Invocation:
    return Invocation(str(uuid.uuid4()), json.dumps(payload).encode(), ARN, **kw)


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[HostedPool]:
    hosted = HostedPool(SandboxSettings(log_dir=tmp_path / "logs"), "json", "warning")
    await hosted.start()
    yield hosted
    await hosted.close()


async def run(pool: HostedPool, fn: FunctionConfig, inv: Invocation, **kw: Any) -> Outcome:
    return await asyncio.wait_for(pool.run(fn, FUNCTIONS, inv, **kw), 20)


async def test_an_invocation_runs_in_a_sandbox_of_the_host(pool: HostedPool) -> None:
    inv = invocation({"n": 1})
    outcome = await run(pool, function(), inv)

    assert outcome.function_error is None
    seen = json.loads(outcome.payload)
    assert seen["event"] == {"n": 1}
    assert seen["request_id"] == inv.request_id
    assert seen["arn"] == ARN
    # The sandbox is the host's child, not this process's.
    assert psutil.Process(seen["pid"]).ppid() == pool.pid
    assert pool.pid != os.getpid()


async def test_outcomes_and_errors_cross_the_wire_intact(pool: HostedPool) -> None:
    """A payload larger than one socket read, a function error, the log tail, and many
    invocations at once (answered by call, in any order)."""
    big = {"blob": "x" * 3_000_000}
    outcome = await run(pool, function(), invocation(big))
    assert json.loads(outcome.payload)["event"] == big

    failed = await run(pool, function("handlers.boom"), invocation({}, tail_log=True))
    assert failed.function_error == "Unhandled"
    assert json.loads(failed.payload)["errorMessage"] == "boom"
    assert b"ValueError" in failed.log_tail

    invocations = [invocation({"i": i}) for i in range(40)]
    outcomes = await asyncio.gather(*(run(pool, function(), inv) for inv in invocations))
    assert [json.loads(o.payload)["request_id"] for o in outcomes] == [
        inv.request_id for inv in invocations
    ]


async def test_throttling_crosses_the_wire(pool: HostedPool) -> None:
    fn = function("handlers.sleep", reserved_concurrent_executions=1)
    first = asyncio.create_task(run(pool, fn, invocation({"seconds": 1})))
    await asyncio.sleep(0.3)
    with pytest.raises(Throttled) as throttled:
        await run(pool, fn, invocation({"seconds": 0}), wait=False)
    assert throttled.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert json.loads((await first).payload) == "woke"


async def test_a_changed_configuration_reaches_the_host(pool: HostedPool) -> None:
    fn = function(memory_size=128)
    assert json.loads((await run(pool, fn, invocation({}))).payload)["memory"] == "128"
    changed = replace(fn, memory_size=256, revision_id="r2")
    assert json.loads((await run(pool, changed, invocation({}))).payload)["memory"] == "256"
    # An equal configuration in a new object (a store re-read) is the same function.
    again = replace(changed)
    assert json.loads((await run(pool, again, invocation({}))).payload)["memory"] == "256"


async def test_a_host_that_dies_fails_its_invocations_and_is_replaced(pool: HostedPool) -> None:
    running = asyncio.create_task(run(pool, function("handlers.sleep"), invocation({"seconds": 2})))
    first_host = pool.pid
    assert first_host is not None
    [sandbox] = await wait_for(lambda: sandboxes(psutil.Process(first_host)), timeout=10)
    os.kill(first_host, signal.SIGKILL)

    with pytest.raises(SandboxHostError, match="the sandbox host exited"):
        await running
    # Killed, the host could not stop its sandbox: it ends its invocation, finds its Runtime
    # API gone and exits.
    await wait_for(lambda: gone(sandbox), timeout=10)

    outcome = await run(pool, function(), invocation({"after": True}))
    assert json.loads(outcome.payload)["event"] == {"after": True}
    assert pool.pid not in (None, first_host)


async def test_a_host_that_stops_answering_is_killed_and_replaced(tmp_path: Path) -> None:
    """Its process lives but its loop no longer turns (SIGSTOP here): within the liveness
    timeout it is killed with its sandboxes, its invocation fails as a system error, and the
    next call gets a new host."""
    pool = HostedPool(SandboxSettings(log_dir=tmp_path / "logs"), "json", "warning", liveness=0.6)
    await pool.start()
    try:
        running = asyncio.create_task(
            run(pool, function("handlers.sleep", timeout=60), invocation({"seconds": 60}))
        )
        stuck = psutil.Process(pool.pid or 0)
        [sandbox] = await wait_for(lambda: sandboxes(stuck), timeout=10)
        stuck.suspend()

        with pytest.raises(SandboxHostError, match="stopped responding for 0.6 s and was killed"):
            await asyncio.wait_for(running, 5)
        await wait_for(lambda: gone(stuck), timeout=5)
        # Its sandbox went with it, mid-invocation, not when its function returned.
        await wait_for(lambda: gone(sandbox), timeout=5)

        outcome = await run(pool, function(), invocation({"after": True}))
        assert json.loads(outcome.payload)["event"] == {"after": True}
        assert pool.pid not in (None, stuck.pid)
    finally:
        await pool.close()


async def test_a_long_invocation_is_not_mistaken_for_a_stuck_host(tmp_path: Path) -> None:
    """The host answers pings while a sandbox runs: an invocation longer than the liveness
    timeout is fine."""
    pool = HostedPool(SandboxSettings(log_dir=tmp_path / "logs"), "json", "warning", liveness=0.3)
    try:
        outcome = await run(pool, function("handlers.sleep"), invocation({"seconds": 1.5}))
        assert outcome.function_error is None
    finally:
        await pool.close()


async def test_closing_stops_the_host_and_its_sandboxes(tmp_path: Path) -> None:
    pool = HostedPool(SandboxSettings(log_dir=tmp_path / "logs"), "json", "warning")
    outcome = await run(pool, function(), invocation({}))
    host = psutil.Process(pool.pid or 0)
    sandbox = psutil.Process(json.loads(outcome.payload)["pid"])

    await pool.close()

    assert not host.is_running()
    await wait_for(lambda: gone(sandbox), timeout=10)
    with pytest.raises(SandboxHostError, match="closed"):
        await pool.run(function(), FUNCTIONS, invocation({}))


async def test_logs_are_written_and_their_index_flushed_through_the_host(
    pool: HostedPool, tmp_path: Path
) -> None:
    await run(pool, function("handlers.nothing"), invocation({}))
    text = "".join(p.read_text() for p in (tmp_path / "logs" / "fn").glob("*.log"))
    assert "returning nothing" in text
    assert "REPORT RequestId:" in text
    [index] = (tmp_path / "logs" / ".index" / "fn").glob("*.idx")
    # The sandbox's start mark is written at once; the invocation's waits in a buffer...
    assert len(index.read_text().splitlines()) == 1
    await pool.flush_log_indexes()
    # ...until the executor asks for it.
    assert len(index.read_text().splitlines()) == 2


async def test_a_cancelled_invocation_is_abandoned_in_the_host(pool: HostedPool) -> None:
    """As in process: the caller gone (a sync invoke's client hung up), the invocation stops,
    its sandbox is not reused, and the function's concurrency is free again."""
    fn = function("handlers.sleep", reserved_concurrent_executions=1, timeout=60)
    running = asyncio.create_task(run(pool, fn, invocation({"seconds": 50})))
    host = pool.pid
    [sandbox] = await wait_for(lambda: sandboxes(psutil.Process(host or 0)), timeout=10)
    await asyncio.sleep(0.3)  # the sandbox has taken the event

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    await wait_for(lambda: gone(sandbox), timeout=10)
    outcome = await run(
        pool, function(reserved_concurrent_executions=1), invocation({}), wait=False
    )
    assert json.loads(outcome.payload)["pid"] != sandbox.pid


async def test_a_host_that_cannot_start_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # a "python" that exits at once
    pool = HostedPool(SandboxSettings(log_dir=tmp_path / "logs"), "json", "warning")
    with pytest.raises(SandboxHostError, match=r"the sandbox host did not start \(exit code 1\)"):
        await pool.start()
    await pool.close()


def _frames(*batches: list[tuple[Any, ...]]) -> bytes:
    out = b""
    for batch in batches:
        data = pickle.dumps(batch)
        out += frames.HEADER.pack(len(data)) + data
    return out


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_the_wire_reads_frames_however_they_are_split(chunk: int) -> None:
    received: list[tuple[Any, ...]] = []

    def on_message(message: tuple[Any, ...]) -> None:
        if message[0] == "bad":
            raise ValueError("a handler's bug")
        received.append(message)

    link = frames.Link(on_message, lambda exc: None)
    stream = _frames([("a", 1, b"x" * 5000)], [("bad", 2), ("b", 3)], [("c", 4, "\u00e9")])
    for start in range(0, len(stream), chunk):
        link.data_received(stream[start : start + chunk])

    # In order, each once; a handler that raised loses only its own message.
    assert received == [("a", 1, b"x" * 5000), ("b", 3), ("c", 4, "\u00e9")]
