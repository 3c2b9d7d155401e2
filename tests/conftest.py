"""Fixtures that start the real suite: gRPC on a free port, SQLite in a temp dir, real sandboxes."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient
from eventinvoke.core.packaging import zip_directory
from eventinvoke.server.config import Settings
from eventinvoke.testing import TIME_SCALE as TIME_SCALE  # re-exported for the tests
from eventinvoke.testing import suite_settings

FUNCTIONS = Path(__file__).parent / "functions"

# Test functions write their records into the test's own directory, which a sandbox's user may
# not reach: servers the tests start, in this process (suite_settings) or as processes that
# inherit this variable, run them as their own user. tests/security isolates them.
os.environ.setdefault("EVENTINVOKE_SANDBOX_UIDS", "none")
# Tests run AWS's real retry policy 100x faster: delays of 0.6 s and 1.2 s, ages / 100.
zip_dir = zip_directory


def test_settings(data_dir: Path, **overrides: Any) -> Settings:
    """The settings adapter authors' tests get too (eventinvoke.testing)."""
    return suite_settings(data_dir, **overrides)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


class Running:
    """A started suite, a client to it, and helpers to deploy test functions and read records."""

    def __init__(self, suite: Suite, client: AsyncClient, tmp_path: Path) -> None:
        self.suite = suite
        self.client = client
        self.tmp_path = tmp_path

    @property
    def address(self) -> str:
        return self.suite.address

    async def deploy(self, name: str, source: str, timeout: int = 3, **env: str) -> dict[str, Any]:
        return await self.client.create_function(
            function_name=name,
            runtime="python3.11",
            handler="index.handler",
            zip_file=zip_dir(FUNCTIONS / source),
            timeout=timeout,
            environment={"Variables": env} if env else None,
        )

    async def collector(self, name: str = "collector") -> Path:
        """Deploy a collector function; returns the file its records land in."""
        path = self.tmp_path / f"{name}.jsonl"
        path.touch()
        await self.deploy(name, "collector", COLLECT_FILE=str(path))
        return path

    async def flaky(self, name: str = "flaky", timeout: int = 3) -> Path:
        path = self.tmp_path / f"{name}-runs.jsonl"
        path.touch()
        await self.deploy(name, "flaky", timeout=timeout, RUNS_FILE=str(path))
        return path

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{name}"


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def wait_for(
    predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll until ``predicate()`` is truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        await asyncio.sleep(interval)


async def records_in(path: Path, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait until the collector file holds ``count`` records; return the events."""
    await wait_for(lambda: len(read_lines(path)) >= count, timeout)
    return [line["event"] for line in read_lines(path)]


@pytest.fixture
async def suite(tmp_path: Path) -> AsyncIterator[Running]:
    async with started_suite(tmp_path) as running:
        yield running


@pytest.fixture
async def suite_without_webhook(tmp_path: Path) -> AsyncIterator[Running]:
    """A suite whose server does not load the webhook plugin (installed with the tests): what a
    user who never installed it runs."""
    async with started_suite(tmp_path, disabled_destinations=("webhook",)) as running:
        yield running


# --- a suite for blocking callers (appended; imports kept here so the header stays untouched) ---

import contextlib  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import structlog  # noqa: E402


@contextlib.asynccontextmanager
async def started_suite(tmp_path: Path, **overrides: Any) -> AsyncIterator[Running]:
    """A started suite with settings ``overrides`` and a client to it; stopped after."""
    running_suite = Suite(test_settings(tmp_path / "data", **overrides))
    await running_suite.start()
    client = AsyncClient(running_suite.address)
    try:
        yield Running(running_suite, client, tmp_path)
    finally:
        await client.close()
        await running_suite.stop(grace=1)


@pytest.fixture
def suite_in_thread(tmp_path: Path) -> Iterator[str]:
    """A real suite on its own event loop in a background thread; yields its address.

    For blocking callers that must not run on a test's event loop: the ``Client`` and the CLI.
    Its data lives in ``tmp_path / "data"`` (function logs under ``data/logs``).
    """
    with serving_in_thread(Suite(test_settings(tmp_path / "data")), tmp_path) as address:
        yield address


@contextlib.contextmanager
def serving_in_thread(running_suite: Suite, tmp_path: Path) -> Iterator[str]:
    """Start ``running_suite`` (any roles) on its own event loop in a background thread; yield
    its address; stop it after.

    The suite's own log goes to ``tmp_path / "suite.log"``, not to ``sys.stdout``: an in-process
    CLI runner (click's ``CliRunner``) swaps ``sys.stdout`` for the whole process, and server log
    lines would otherwise land in the command's output.
    """
    saved_logging = structlog.get_config() if structlog.is_configured() else None
    suite_log = (tmp_path / "suite.log").open("a", buffering=1)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(suite_log))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="suite-in-thread", daemon=True)
    thread.start()

    def run(coroutine: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    async def cancel_leftovers() -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await loop.shutdown_asyncgens()

    try:
        run(running_suite.start())
        yield running_suite.address
    finally:
        try:
            run(running_suite.stop(grace=1))
            run(cancel_leftovers(), timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            if not thread.is_alive():
                loop.close()
            if saved_logging is None:
                structlog.reset_defaults()
            else:
                structlog.configure(**saved_logging)
            suite_log.close()


@pytest.fixture
def dead_endpoint() -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """``wait_for`` for blocking tests (their suite runs on its own thread): poll, then fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)


# --- PostgreSQL: a real server and databases of the tests' own (tests/postgres.py) ---


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One moto_server process for the session's AWS endpoints (destinations.harness)."""
    from destinations.harness import MotoServer  # it imports this module

    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


from postgres import postgres_server, postgres_session_url, postgres_url  # noqa: E402, F401
