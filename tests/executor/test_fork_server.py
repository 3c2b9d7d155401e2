"""Python sandboxes forked from a template (executor/forkserver.py): a function sees what it
would in an exec'd sandbox, nothing of the template's, and falls back to exec where the
interpreter's start-up would have differed."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor import isolation
from eventinvoke.executor.forkserver import EXEC, FORK, FORK_SERVER
from eventinvoke.executor.sandbox import Invocation, SandboxPool, SandboxSettings

FUNCTIONS = Path(__file__).parent / "functions"


def function(handler: str, *, name: str = "fn", **kw: Any) -> FunctionConfig:
    return FunctionConfig(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        runtime="python3.12",
        handler=handler,
        code_sha256="sha",
        code_size=1,
        timeout=10,
        revision_id="r1",
        **kw,
    )


def invocation(payload: object = None) -> Invocation:
    body = json.dumps({} if payload is None else payload).encode()
    return Invocation(str(uuid.uuid4()), body, function("x").arn)


# The machine's interpreter, which sandbox users may read (as isolation.prepare picks it).
SYSTEM_PYTHON = "/usr/bin/python3.11"
isolated = pytest.mark.skipif(
    not isolation.is_root() or not os.access(SYSTEM_PYTHON, os.X_OK),
    reason="needs root and the machine's Python",
)


def settings(tmp_path: Path, start: str, uids: tuple[int, int] | None) -> SandboxSettings:
    return SandboxSettings(
        log_dir=tmp_path / start / "logs",
        start=start,
        uids=uids,
        python=SYSTEM_PYTHON if uids else SandboxSettings.python,
    )


async def self_view(pool: SandboxPool, **kw: Any) -> dict[str, Any]:
    fn = function("handlers.self_view", environment={"OWN": "mine"}, **kw)
    outcome = await asyncio.wait_for(pool.run(fn, FUNCTIONS, invocation()), 20)
    assert outcome.function_error is None, outcome.payload
    return json.loads(outcome.payload)


# What differs between any two sandboxes, forked or not.
PER_SANDBOX = ("TMPDIR", "HOME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API")


def comparable(view: dict[str, Any]) -> dict[str, Any]:
    view = dict(view)
    uids, gids, groups = view["ids"]  # which user it got from the range differs
    view["ids"] = [len(set(uids)), len(set(gids)), groups]
    for name in ("pid", "ppid", "fds"):
        view.pop(name)
    view["environ"] = {k: v for k, v in view["environ"].items() if k not in PER_SANDBOX}
    view["proc_environ"] = sorted(
        item
        for item in view["proc_environ"].split("\0")
        if item.partition("=")[0] not in PER_SANDBOX
    )
    view["status"] = [
        line
        for line in view["status"].splitlines()
        if line.split(":")[0] in ("Name", "Umask", "Groups", "CapEff", "NoNewPrivs")
    ]
    return view


@pytest.fixture
async def pools(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[dict[str, SandboxPool]]:
    uids = request.param
    made = {mode: SandboxPool(settings(tmp_path, mode, uids)) for mode in (FORK, EXEC)}
    yield made
    for pool in made.values():
        await pool.close()


@pytest.mark.parametrize(
    "pools",
    [None, pytest.param((60950, 60999), marks=isolated)],
    indirect=True,
    ids=["same-user", "isolated"],
)
async def test_a_forked_sandbox_looks_like_an_exec_d_one(pools: dict[str, SandboxPool]) -> None:
    forked = await self_view(pools[FORK])
    executed = await self_view(pools[EXEC])
    assert [t.pid for t in pools[FORK]._starter.templates] != []  # it was forked
    assert pools[EXEC]._starter.templates == []

    # Its variables, /proc/self/environ, argv, sys.path, flags, ids, umask, cwd, session.
    assert comparable(forked) == comparable(executed)
    assert forked["environ"]["OWN"] == "mine"
    assert FORK_SERVER not in json.dumps(forked)
    # Its parent is the pool's process, as an exec'd sandbox's is (not the template).
    assert forked["ppid"] == executed["ppid"] == os.getpid()
    # Open: stdin, the log twice, its Runtime API connection (and the listing's own
    # descriptor, closed by the time it is read); nothing of the template's.
    assert sorted(forked["fds"]) == sorted(executed["fds"]) == ["0", "1", "2", "3", "4"]
    assert forked["fds"]["0"] == "/dev/null"
    assert forked["fds"]["3"].startswith("socket:")


@isolated
@pytest.mark.parametrize("pools", [(60950, 60999)], indirect=True, ids=["isolated"])
async def test_a_forked_sandbox_cannot_read_its_template(pools: dict[str, SandboxPool]) -> None:
    pool = pools[FORK]
    await self_view(pool)
    [template] = pool._starter.templates
    assert template.pid is not None
    report = await asyncio.wait_for(
        pool.run(
            function("handlers.reader"),
            FUNCTIONS,
            invocation(
                {"paths": [f"/proc/{template.pid}/{name}" for name in ("environ", "mem", "maps")]}
            ),
        ),
        20,
    )
    read = json.loads(report.payload)
    assert set(read.values()) == {"PermissionError"}, read
    assert os.listdir(f"/proc/{template.pid}/fd") == ["0", "1", "2", str(template_fd(template.pid))]


def template_fd(pid: int) -> int:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return int(
        next(item for item in environ if item.startswith(FORK_SERVER.encode()))[
            len(FORK_SERVER) + 1 :
        ]
    )


@pytest.mark.parametrize("pools", [None], indirect=True)
async def test_a_function_that_changes_the_interpreter_s_start_up_is_exec_d(
    pools: dict[str, SandboxPool],
) -> None:
    pool = pools[FORK]
    fn = function("handlers.self_view", environment={"PYTHONDONTWRITEBYTECODE": "1", "LANG": "C"})
    view = json.loads((await asyncio.wait_for(pool.run(fn, FUNCTIONS, invocation()), 20)).payload)
    assert "dont_write_bytecode=1" in view["flags"]  # read at start-up: so it was exec'd
    assert pool._starter.templates == []


@pytest.mark.parametrize("pools", [None], indirect=True)
async def test_a_lost_template_is_replaced(pools: dict[str, SandboxPool]) -> None:
    pool = pools[FORK]
    first = await self_view(pool, name="one")
    [template] = pool._starter.templates
    os.kill(template.pid or 0, 9)
    second = await self_view(pool, name="two")  # exec'd, or forked from a new template
    assert second["environ"]["AWS_LAMBDA_FUNCTION_NAME"] == "two"
    third = await self_view(pool, name="three")
    [replacement] = pool._starter.templates
    assert replacement.pid not in (None, template.pid)
    assert third["ppid"] == first["ppid"] == os.getpid()


@pytest.mark.parametrize("pools", [None], indirect=True)
async def test_cold_starts(
    pools: dict[str, SandboxPool], capsys: pytest.CaptureFixture[str]
) -> None:
    """Measured, not asserted: the figure is for the record (pytest -s shows it)."""
    figures = {}
    for mode, pool in pools.items():
        await self_view(pool, name=f"warm-{mode}")  # the template is up
        started = time.perf_counter()
        for n in range(5):
            await self_view(pool, name=f"cold-{mode}-{n}")
        figures[mode] = (time.perf_counter() - started) / 5 * 1000
    with capsys.disabled():
        print(f"\ncold start + one invocation, ms: {figures}")


@pytest.mark.parametrize("pools", [None], indirect=True)
async def test_what_a_forked_sandbox_has_imported_beyond_an_exec_d_one(
    pools: dict[str, SandboxPool],
) -> None:
    """The template's own imports (SECURITY.md says so): nothing of eventinvoke's."""
    found = {}
    for mode, pool in pools.items():
        outcome = await asyncio.wait_for(
            pool.run(function("handlers.modules"), FUNCTIONS, invocation()), 20
        )
        found[mode] = set(json.loads(outcome.payload))
    assert found[FORK] - found[EXEC] <= {
        "_ctypes",
        "_struct",
        "ctypes",
        "ctypes._endian",
        "gc",
        "struct",
    }
    assert found[EXEC] <= found[FORK]
