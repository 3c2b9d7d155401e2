"""Prometheus metrics (issue #17 §4, docs/deploy.md §5): real suites with ``metrics_listen``
do known work, then ``/metrics`` is scraped over HTTP and every counter is checked per function.

``TIME_SCALE = 0.01``: a retry comes 0.6 s after a failure, a maximum age of 60 s is 0.6 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import test_settings
from prometheus_client.parser import text_string_to_metric_families

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient, TooManyRequestsException
from eventinvoke.executor.host import HostedPool
from eventinvoke.executor.sandbox import SandboxPool
from eventinvoke.router.plugin import Delivery, PermanentDeliveryError, hookimpl
from eventinvoke.server import metrics
from eventinvoke.server.metrics import METRICS
from eventinvoke.testing import FAIL, RunningSuite, running_suite

METRICS_ON = {"metrics_listen": "127.0.0.1:0"}
BROKEN = "arn:aws:sqs:us-east-1:000000000000:broken"  # every delivery fails for good
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"
# Returns nothing: a loop's records nest only their request payloads, not the responses too.
NOTHING = "def handler(event, context):\n    return None\n"
SLEEP = (
    "import time\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('seconds', 0))\n"
    "    return event\n"
)


class BrokenQueuePlugin:
    """Claims the ``broken`` queue and refuses every delivery to it, permanently."""

    @hookimpl
    def register_destinations(self, register: Any, context: Any) -> None:
        class Broken:
            name = "broken"

            def claims(self, target: str) -> bool:
                return target == BROKEN

            async def deliver(self, delivery: Delivery) -> None:
                raise PermanentDeliveryError("the queue is gone")

            async def close(self) -> None:
                pass

        register(Broken())


class Scrape:
    """One scrape of ``/metrics`` over HTTP, parsed by prometheus-client's own parser."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def __call__(self, name: str, **labels: str) -> float | None:
        """The sample's value, summed over the labels not given; None when there is none."""
        found = [
            s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()
        ]
        return sum(found) if found else None


async def scrape(suite: Suite) -> Scrape:
    assert suite.metrics_server is not None
    url = f"http://{suite.metrics_server.address}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        return Scrape(await response.text())


async def scraped(suite: Suite, check: Callable[[Scrape], Any], within: float = 20.0) -> Scrape:
    """Scrape until ``check`` holds (work finishes in the background); fail after ``within``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await scrape(suite)
        if check(result):
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"not met within {within}s:\n" + "\n".join(map(str, result.samples))
            )
        await asyncio.sleep(0.1)


@pytest.fixture
async def suite(tmp_path: Path) -> AsyncIterator[RunningSuite]:
    async with running_suite(
        tmp_path / "data", [BrokenQueuePlugin()], delivery_max_attempts=1, **METRICS_ON
    ) as running:
        yield running


async def test_each_counter_counts_known_work_per_function(suite: RunningSuite) -> None:
    client = suite.client

    # Two synchronous and two asynchronous successes.
    await suite.deploy("ok")
    for n in range(2):
        assert (await client.invoke("ok", json.dumps({"n": n})))["StatusCode"] == 200
        await suite.invoke_event("ok", {"n": n})
    # A failing function with one retry: two runs, then given up.
    await suite.deploy("failing", FAIL)
    await suite.set_destinations("failing", maximum_retry_attempts=1)
    await suite.invoke_event("failing")
    # Retries left, but a maximum age of 60 s (0.6 s) that the first retry (60 s) would pass.
    await suite.deploy("aged", FAIL)
    await client.put_function_event_invoke_config(
        "aged", maximum_retry_attempts=2, maximum_event_age_in_seconds=60
    )
    await suite.invoke_event("aged")
    # A record whose destination refuses it, and a dead letter whose queue does.
    await suite.deploy("delivers")
    await suite.set_destinations("delivers", on_success=BROKEN)
    await suite.invoke_event("delivers")
    await suite.deploy("dead-lettered", FAIL)
    await suite.set_destinations("dead-lettered")
    await client.update_function_configuration(
        "dead-lettered", dead_letter_config={"TargetArn": BROKEN}
    )
    await suite.invoke_event("dead-lettered")
    # A loop: each is the other's OnSuccess; the 17th invocation, loop-f's 9th, is stopped.
    for name in ("loop-f", "loop-g"):
        await suite.deploy(name, NOTHING)
    for name, other in (("loop-f", "loop-g"), ("loop-g", "loop-f")):
        await suite.set_destinations(name, on_success=f"{ACCOUNT_ARN}:{other}")
    await suite.invoke_event("loop-f")

    done = await scraped(
        suite.suite,
        lambda m: (
            m("eventinvoke_async_events_dropped_total") == 4
            and m("eventinvoke_dead_letter_errors_total") == 1
            and m("eventinvoke_destination_delivery_failures_total") == 1
            and m("eventinvoke_invocations_total", function_name="ok") == 4
        ),
    )

    def each(name: str) -> dict[str, float]:
        """A counter's value per function (0 where a function has none)."""
        return {
            fn: done(name, function_name=fn) or 0
            for fn in ("ok", "failing", "aged", "delivers", "dead-lettered", "loop-f", "loop-g")
        }

    assert each("eventinvoke_invocations_total") == {
        "ok": 4, "failing": 2, "aged": 1, "delivers": 1, "dead-lettered": 1, "loop-f": 8,
        "loop-g": 8,
    }  # fmt: skip
    assert each("eventinvoke_errors_total") == {
        "ok": 0, "failing": 2, "aged": 1, "delivers": 0, "dead-lettered": 1, "loop-f": 0,
        "loop-g": 0,
    }  # fmt: skip
    # Every run's duration, and every asynchronous run's wait in the queue.
    assert each("eventinvoke_duration_seconds_count") == each("eventinvoke_invocations_total")
    assert each("eventinvoke_async_event_age_seconds_count") == {
        **each("eventinvoke_invocations_total"), "ok": 2,
    }  # fmt: skip
    # The retry of `failing` waited 0.6 s (60 s scaled) in the queue.
    assert (done("eventinvoke_async_event_age_seconds_sum", function_name="failing") or 0) >= 0.55
    # Event invokes, and the loop's records queued for the next function (loop-f's 9th).
    assert each("eventinvoke_async_events_received_total") == {
        "ok": 2, "failing": 1, "aged": 1, "delivers": 1, "dead-lettered": 1, "loop-f": 9,
        "loop-g": 8,
    }  # fmt: skip
    dropped = {
        (s.labels["function_name"], s.labels["reason"]): s.value
        for s in done.samples
        if s.name == "eventinvoke_async_events_dropped_total"
    }
    assert dropped == {
        ("failing", "RetriesExhausted"): 1,
        ("aged", "EventAgeExceeded"): 1,
        ("dead-lettered", "RetriesExhausted"): 1,
        ("loop-f", "RecursiveInvocationException"): 1,
    }
    assert each("eventinvoke_recursive_invocations_dropped_total") == {
        **dict.fromkeys(each("eventinvoke_invocations_total"), 0), "loop-f": 1,
    }  # fmt: skip
    assert done("eventinvoke_destination_delivery_failures_total") == done(
        "eventinvoke_destination_delivery_failures_total", function_name="delivers"
    ) == 1  # fmt: skip
    assert done("eventinvoke_dead_letter_errors_total") == done(
        "eventinvoke_dead_letter_errors_total", function_name="dead-lettered"
    ) == 1  # fmt: skip
    assert done("eventinvoke_throttles_total") is None  # nothing was throttled
    assert done("eventinvoke_concurrent_executions") == 0

    # The backend's figures: both failures kept, nothing left queued or to deliver.
    settled = await scraped(suite.suite, lambda m: not m("eventinvoke_queue_depth"))
    assert settled("eventinvoke_failed_deliveries") == 2
    assert settled("eventinvoke_outbox_pending") == 0
    assert settled("eventinvoke_queue_oldest_age_seconds") == 0
    # Functions seen queued stay at 0, not a gap.
    assert settled("eventinvoke_queue_depth", function_name="ok") in (0, None)
    # And the process's own.
    assert settled("eventinvoke_info", roles="invoker,executor,router") == 1
    assert (settled("process_resident_memory_bytes") or 0) > 0


async def test_a_function_at_its_reserved_concurrency_throttles_and_counts_what_runs(
    suite: RunningSuite,
) -> None:
    client = suite.client
    await suite.deploy("reserved", SLEEP)
    await client.put_function_concurrency("reserved", 1)

    first = asyncio.ensure_future(client.invoke("reserved", json.dumps({"seconds": 1.5})))
    running = await scraped(
        suite.suite, lambda m: m("eventinvoke_concurrent_executions", function_name="reserved")
    )
    assert running("eventinvoke_concurrent_executions", function_name="reserved") == 1
    with pytest.raises(TooManyRequestsException):
        await client.invoke("reserved", json.dumps({"seconds": 0}))
    assert (await first)["StatusCode"] == 200
    # Reserved concurrency 0: every synchronous invoke is refused at once.
    await suite.deploy("stopped")
    await client.put_function_concurrency("stopped", 0)
    for _ in range(3):
        with pytest.raises(TooManyRequestsException):
            await client.invoke("stopped", "{}")

    after = await scrape(suite.suite)
    assert after("eventinvoke_throttles_total", function_name="reserved") == 1
    assert after("eventinvoke_throttles_total", function_name="stopped") == 3
    assert after("eventinvoke_invocations_total", function_name="reserved") == 1
    assert after("eventinvoke_invocations_total", function_name="stopped") is None
    assert after("eventinvoke_concurrent_executions", function_name="reserved") == 0
    assert after("eventinvoke_duration_seconds_sum", function_name="reserved") >= 1.4  # type: ignore[operator]
    # 1.5 s falls in the 2.5 s bucket, not the 1 s one.
    assert after("eventinvoke_duration_seconds_bucket", function_name="reserved", le="1.0") == 0
    assert after("eventinvoke_duration_seconds_bucket", function_name="reserved", le="2.5") == 1


async def test_queued_events_held_back_by_reserved_concurrency_are_throttled_tries(
    suite: RunningSuite,
) -> None:
    """Asynchronous throttles count each try that found no slot; every event still runs once."""
    await suite.deploy("one-at-a-time", SLEEP)
    await suite.client.put_function_concurrency("one-at-a-time", 1)
    for _ in range(3):
        await suite.invoke_event("one-at-a-time", {"seconds": 0.3})

    done = await scraped(
        suite.suite,
        lambda m: (
            m("eventinvoke_invocations_total", function_name="one-at-a-time") == 3
            and not m("eventinvoke_queue_depth", function_name="one-at-a-time")
        ),
    )
    assert (done("eventinvoke_throttles_total", function_name="one-at-a-time") or 0) >= 2
    assert done("eventinvoke_async_events_dropped_total") is None


async def test_the_scrape_is_prometheus_text_and_every_declared_metric_is_there(
    suite: RunningSuite,
) -> None:
    await suite.deploy("fn")
    await suite.client.invoke("fn", "{}")
    await suite.invoke_event("fn")
    await scraped(suite.suite, lambda m: m("eventinvoke_invocations_total") == 2)

    found = await scrape(suite.suite)
    for spec in METRICS:
        family = spec.name.removesuffix("_total")
        assert family in found.families, spec.name
        assert found.families[family].type == spec.kind
        assert found.families[family].documentation == spec.help
    # Other paths are not served.
    assert suite.suite.metrics_server is not None
    url = f"http://{suite.suite.metrics_server.address}/"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 404


async def test_with_metrics_off_nothing_is_served_counted_or_wrapped(tmp_path: Path) -> None:
    async with running_suite(tmp_path / "data") as suite:
        await suite.deploy("fn")
        await suite.client.invoke("fn", "{}")
        running = suite.suite
        assert running.metrics is None and running.metrics_server is None
        assert running.worker is not None and running.delivery is not None
        assert running.worker.metrics is None and running.delivery.metrics is None
        assert isinstance(running.worker.pool, SandboxPool | HostedPool)  # the pool itself


def test_a_server_without_metrics_does_not_load_prometheus_client() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, eventinvoke.cli, eventinvoke.app.suite; "
         "print('prometheus_client' in sys.modules)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert loaded.stdout.strip() == "False"


# --- several processes on one backend: who reports what --------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sqlite":
        return {}
    return {"backend": request.getfixturevalue("postgres_url")}


@contextlib.asynccontextmanager
async def started(tmp_path: Path, roles: tuple[str, ...], **settings: Any) -> AsyncIterator[Suite]:
    suite = Suite(
        test_settings(tmp_path / "data", **METRICS_ON, **settings),
        roles=roles,
        extra_plugins=[BrokenQueuePlugin()],
    )
    try:
        await suite.start()
        yield suite
    finally:
        await suite.stop(grace=1)


async def test_each_role_reports_its_own_counts_and_the_invoker_the_shared_figures(
    tmp_path: Path, shared: dict[str, Any], dead_endpoint: str
) -> None:
    """Cluster mode: an invoker, an executor and a router, each its own /metrics. What each
    counts is its own (sum them across replicas); the backend's figures come from the invoker
    alone, the same from every invoker replica (take their max)."""
    settings = {**shared, "delivery_max_attempts": 1}
    # Its executor comes later: no synchronous invoke is made meanwhile.
    async with started(tmp_path, ("invoker",), executor_endpoint=dead_endpoint, **settings) as (
        invoker
    ):
        peers = {**settings, "invoker_endpoint": invoker.address}
        async with AsyncClient(invoker.address) as client:
            api = RunningSuite(invoker, client)
            await api.deploy("fn")
            await api.set_destinations("fn", on_success=BROKEN)
            for n in range(3):
                await api.invoke_event("fn", {"n": n})

        # No executor yet: the events wait, and the invoker sees them.
        waiting = await scrape(invoker)
        assert waiting("eventinvoke_async_events_received_total", function_name="fn") == 3
        assert waiting("eventinvoke_queue_depth", function_name="fn") == 3
        assert (waiting("eventinvoke_queue_oldest_age_seconds") or 0) > 0
        assert waiting("eventinvoke_invocations_total") is None

        async with (
            started(tmp_path, ("executor",), **peers) as executor,
            started(tmp_path, ("router",), **peers) as router,
        ):
            await scraped(invoker, lambda m: m("eventinvoke_failed_deliveries") == 3)
            ran = await scrape(executor)
            delivered = await scrape(router)

    assert ran("eventinvoke_invocations_total", function_name="fn") == 3
    assert ran("eventinvoke_async_event_age_seconds_count", function_name="fn") == 3
    assert delivered("eventinvoke_destination_delivery_failures_total", function_name="fn") == 3
    # The shared figures once, from the invoker: not from the executor or the router.
    for other in (ran, delivered):
        for name in ("eventinvoke_queue_depth", "eventinvoke_failed_deliveries"):
            assert other(name) is None, name
        assert other("eventinvoke_async_events_received_total") is None
    assert ran("eventinvoke_info", roles="executor") == 1


async def test_a_scrape_goes_on_without_the_backends_figures_when_the_database_fails(
    tmp_path: Path, dead_endpoint: str
) -> None:
    async with started(tmp_path, ("invoker",), executor_endpoint=dead_endpoint) as invoker:
        assert (await scrape(invoker))("eventinvoke_failed_deliveries") == 0
        assert invoker.backend is not None
        await invoker.backend.close()
        await asyncio.sleep(metrics.FIGURES_MAX_AGE)  # the last reading is too old to serve

        without = await scrape(invoker)

    assert "eventinvoke_failed_deliveries" not in without.families  # a gap, not an old value
    assert without("eventinvoke_info", roles="invoker") == 1  # the rest is served
