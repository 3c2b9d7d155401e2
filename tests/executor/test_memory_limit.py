"""MemorySize is a limit: a sandbox whose processes hold more resident memory is killed and the
invocation fails with AWS's Runtime.OutOfMemory; the next invocation gets a fresh sandbox."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor.sandbox import Invocation, Outcome, SandboxPool, SandboxSettings

FUNCTIONS = Path(__file__).parent / "functions"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def function(handler: str, *, timeout: int = 3, **kw: Any) -> FunctionConfig:
    return FunctionConfig(
        name="fn",
        arn=ARN,
        runtime="python3.12",
        handler=handler,
        code_sha256="sha",
        code_size=1,
        timeout=timeout,
        revision_id="r1",
        **kw,
    )


def invocation(payload: object) -> Invocation:
    return Invocation(str(uuid.uuid4()), json.dumps(payload).encode(), ARN)


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[SandboxPool]:
    sandbox_pool = SandboxPool(SandboxSettings(log_dir=tmp_path / "logs"))
    yield sandbox_pool
    await sandbox_pool.close()


async def run(pool: SandboxPool, fn: FunctionConfig, inv: Invocation) -> Outcome:
    return await asyncio.wait_for(pool.run(fn, FUNCTIONS, inv), 20)


def _log_text(tmp_path: Path) -> str:
    return "".join(p.read_text() for p in (tmp_path / "logs" / "fn").glob("*.log"))


async def test_exceeding_memory_size_is_out_of_memory_and_next_invocation_works(
    pool: SandboxPool, tmp_path: Path
) -> None:
    fn = function("memory.hog", memory_size=128)
    inv = invocation({"mb": 300})

    outcome = await run(pool, fn, inv)

    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": (
            f"RequestId: {inv.request_id} Error: Runtime exited with error: signal: killed"
        ),
    }
    log = _log_text(tmp_path)
    assert (
        f"RequestId: {inv.request_id} Error: Runtime exited with error: signal: killed\n"
        "Runtime.OutOfMemory\n" in log
    )
    assert re.search(
        rf"REPORT RequestId: {inv.request_id}\t.*\tMemory Size: 128 MB\tMax Memory Used: 128 MB"
        r".*\tStatus: error\tError Type: Runtime.OutOfMemory\n",
        log,
    )
    # The next invocation runs, in a new sandbox (the killed one is gone).
    small = await run(pool, fn, invocation({"mb": 1}))
    assert small.function_error is None
    first_pid = json.loads(small.payload)["pid"]
    again = await run(pool, fn, invocation({"mb": 10}))
    assert again.function_error is None
    assert json.loads(again.payload)["pid"] == first_pid  # and stays warm while within limits


async def test_within_memory_size_runs(pool: SandboxPool) -> None:
    outcome = await run(pool, function("memory.hog", memory_size=512), invocation({"mb": 300}))
    assert outcome.function_error is None
    assert json.loads(outcome.payload)["allocated"] == 300 * 1024 * 1024


async def test_memory_of_child_processes_counts(pool: SandboxPool) -> None:
    fn = function("memory.child_hog", memory_size=128, timeout=10)
    outcome = await run(pool, fn, invocation({"mb": 300}))
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload)["errorType"] == "Runtime.OutOfMemory"
