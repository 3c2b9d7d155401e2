"""The pool answers "no capacity now" (Throttled) instead of waiting, where AWS throttles."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from pathlib import Path

import pytest

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor.sandbox import Invocation, SandboxPool, SandboxSettings, Throttled

FUNCTIONS = Path(__file__).parent / "functions"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def function(handler: str) -> FunctionConfig:
    return FunctionConfig("fn", ARN, "python3.12", handler, "sha", 1, revision_id="r1")


def invocation(payload: object) -> Invocation:
    return Invocation(str(uuid.uuid4()), json.dumps(payload).encode(), ARN)


async def _with_pool(tmp_path: Path, **settings: int) -> SandboxPool:
    return SandboxPool(SandboxSettings(log_dir=tmp_path / "logs", **settings))  # type: ignore[arg-type]


async def test_reserved_concurrency_caps_running_invocations(tmp_path: Path) -> None:
    pool = await _with_pool(tmp_path)
    try:
        fn = dataclasses.replace(function("handlers.sleep"), reserved_concurrent_executions=1)
        first = asyncio.create_task(pool.run(fn, FUNCTIONS, invocation({"seconds": 1})))
        await asyncio.sleep(0.2)
        for wait in (True, False):  # the reservation throttles both paths
            with pytest.raises(Throttled) as throttled:
                await pool.run(fn, FUNCTIONS, invocation({"seconds": 0}), wait=wait)
            assert throttled.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert (await first).payload == b'"woke"'
        again = await pool.run(fn, FUNCTIONS, invocation({"seconds": 0}))
        assert again.function_error is None
        zero = dataclasses.replace(fn, reserved_concurrent_executions=0)
        with pytest.raises(Throttled):
            await pool.run(zero, FUNCTIONS, invocation({"seconds": 0}))
    finally:
        await pool.close()


async def test_account_limit_throttles_sync_and_queues_async(tmp_path: Path) -> None:
    pool = await _with_pool(tmp_path, max_total=1)
    try:
        fn = function("handlers.sleep")
        first = asyncio.create_task(pool.run(fn, FUNCTIONS, invocation({"seconds": 0.5})))
        await asyncio.sleep(0.2)
        with pytest.raises(Throttled) as throttled:
            await pool.run(fn, FUNCTIONS, invocation({"seconds": 0}), wait=False)
        assert throttled.value.reason == "ConcurrentInvocationLimitExceeded"
        # The async path waits for the sandbox instead (its event stays leased).
        queued = await asyncio.wait_for(
            pool.run(fn, FUNCTIONS, invocation({"seconds": 0})), timeout=10
        )
        assert queued.payload == b'"woke"'
        await first
    finally:
        await pool.close()
