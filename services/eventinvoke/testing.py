"""Pytest fixtures for destination adapter authors: a real suite to drive records through.

Opt in from your tests' top-level ``conftest.py`` (or a test module); needs pytest-asyncio::

    pytest_plugins = ["eventinvoke.testing"]

    async def test_a_record_reaches_my_target(eventinvoke_suite):
        await eventinvoke_suite.deploy("fn")  # returns its event
        await eventinvoke_suite.set_destinations("fn", on_success="memo://inbox")
        request_id = await eventinvoke_suite.invoke_event("fn", {"hello": "world"})
        ...  # wait until your target holds the record with this request id

``eventinvoke_suite`` is the whole suite (Invoker, Executor, Router) in the test's process: gRPC
on a free port, SQLite in a temporary directory, real sandboxes, AWS's retry policy at
``TIME_SCALE``. Installed plugins load through their entry points, as in production; override
``eventinvoke_plugins`` to register plugin objects that are not installed, and
``eventinvoke_settings`` to change settings (``destinations``, ``disabled_destinations``...),
per module or per test with ``@pytest.mark.parametrize("eventinvoke_settings", [{...}])``.

It starts the whole suite, so it sits beside the composition root (``eventinvoke.app``), as the
CLI does, not inside a service package: nothing under ``router/`` imports ``app``.
``eventinvoke.router.testing``, its former place, re-exports it with a DeprecationWarning.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient
from eventinvoke.client import type_defs as t
from eventinvoke.server.config import Settings

# AWS's retry and backoff policy, 100 times faster (Retry-After hints are not scaled).
TIME_SCALE = 0.01

# Handlers for ``deploy``: the event comes back as the record's responsePayload, or the invocation
# fails (the record goes to OnFailure once the function's retries are spent).
ECHO = "def handler(event, context):\n    return event\n"
FAIL = "def handler(event, context):\n    raise RuntimeError('failed on purpose')\n"


class RunningSuite:
    """A started suite, a client to it, and the steps that send a record to a destination."""

    def __init__(self, suite: Suite, client: AsyncClient) -> None:
        self.suite = suite
        self.client = client

    @property
    def address(self) -> str:
        return self.suite.address

    async def deploy(
        self, name: str, source: str = ECHO, environment: dict[str, str] | None = None
    ) -> t.FunctionConfiguration:
        """Create a Python function whose ``index.py`` is ``source`` (handler ``index.handler``)."""
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("index.py", source)
        return await self.client.create_function(
            function_name=name,
            runtime="python3.11",
            handler="index.handler",
            zip_file=archive.getvalue(),
            timeout=3,
            environment={"Variables": environment} if environment else None,
        )

    async def set_destinations(
        self,
        name: str,
        on_success: str | None = None,
        on_failure: str | None = None,
        maximum_retry_attempts: int = 0,
    ) -> t.FunctionEventInvokeConfig:
        """Point the function's records at destinations; no retries by default, so a failing
        function's record is sent at once."""
        config: t.DestinationConfig = {}
        if on_success:
            config["OnSuccess"] = {"Destination": on_success}
        if on_failure:
            config["OnFailure"] = {"Destination": on_failure}
        return await self.client.put_function_event_invoke_config(
            name, maximum_retry_attempts=maximum_retry_attempts, destination_config=config
        )

    async def invoke_event(self, name: str, event: Any = None) -> str:
        """Invoke asynchronously with ``event`` (JSON-encoded); returns the request id."""
        response = await self.client.invoke(
            name, json.dumps(event if event is not None else {}), invocation_type="Event"
        )
        return response["ResponseMetadata"]["RequestId"]

    async def failed_deliveries(
        self, count: int = 1, within: float = 15.0
    ) -> list[t.FailedDelivery]:
        """Wait until the failed-delivery store holds ``count`` entries; return them all."""
        deadline = time.monotonic() + within
        while True:
            found = (await self.client.list_failed_deliveries())["FailedDeliveries"]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} failed deliveries after {within}s: {found}")
            await asyncio.sleep(0.05)


async def wait_for(predicate: Callable[[], Any], within: float = 15.0) -> Any:
    """Poll ``predicate()`` until it is truthy and return its value; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {within}s (last value: {value!r})")
        await asyncio.sleep(0.05)
    return value


def metric_value(suite: Suite, name: str, **labels: str) -> float:
    """A metric of a suite started with ``metrics_listen``, summed over the labels not given:
    ``metric_value(suite, "eventinvoke_dead_letter_errors_total", function_name="fn")``."""
    assert suite.metrics is not None, "start the suite with metrics_listen='127.0.0.1:0'"
    return sum(
        sample.value
        for family in suite.metrics.registry.collect()
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def suite_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test suite: a free port, ``TIME_SCALE``, nothing read from the environment."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "listen": "127.0.0.1:0",
        "time_scale": TIME_SCALE,
        "lease_margin": 2.0,
        "log_format": "json",
        # Test functions write their records into the test's own directory, which a sandbox
        # user may not reach: they run as the server's user (tests/security isolates them).
        "sandbox_uids": "none",
    }
    values.update(overrides)
    return Settings.load(values, environ={})


@asynccontextmanager
async def running_suite(
    data_dir: Path, plugins: Iterable[object] = (), **settings: Any
) -> AsyncIterator[RunningSuite]:
    """Start a suite (``settings`` override ``suite_settings``), yield it, stop it."""
    suite = Suite(suite_settings(data_dir, **settings), extra_plugins=plugins)
    await suite.start()
    client = AsyncClient(suite.address)
    try:
        yield RunningSuite(suite, client)
    finally:
        await client.close()
        await suite.stop(grace=1)


@pytest.fixture
def eventinvoke_plugins() -> list[object]:
    """Plugin objects to register besides the installed ones (override it); none by default."""
    return []


@pytest.fixture
def eventinvoke_settings() -> dict[str, Any]:
    """Settings overrides for ``eventinvoke_suite`` (override it); none by default."""
    return {}


@pytest_asyncio.fixture
async def eventinvoke_suite(
    tmp_path: Path, eventinvoke_plugins: list[object], eventinvoke_settings: dict[str, Any]
) -> AsyncIterator[RunningSuite]:
    """A running suite with the installed plugins and ``eventinvoke_plugins`` loaded."""
    async with running_suite(
        tmp_path / "eventinvoke", eventinvoke_plugins, **eventinvoke_settings
    ) as suite:
        yield suite
