"""The Router's delivery loop against the real suite: a slow delivery that outlives its outbox
lease is still attempted once by this Router, not started a second time beside itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import FUNCTIONS, test_settings, wait_for, zip_dir

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient
from eventinvoke.router.plugin import Delivery, hookimpl

LEASE = 0.3  # the outbox lease follows lease_margin


class SlowQueue:
    name = "slow"

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.done: list[str] = []

    def claims(self, target: str) -> bool:
        return target.endswith(":slow")

    async def deliver(self, delivery: Delivery) -> None:
        self.attempts.append(delivery.delivery_id)
        await asyncio.sleep(LEASE * 4)  # well past the lease
        self.done.append(delivery.delivery_id)

    async def close(self) -> None:
        pass


class Plugin:
    def __init__(self, adapter: SlowQueue) -> None:
        self.adapter = adapter

    @hookimpl
    def register_destinations(self, register):  # type: ignore[no-untyped-def]
        register(self.adapter)


async def test_a_delivery_slower_than_its_lease_is_attempted_once(tmp_path: Path) -> None:
    adapter = SlowQueue()
    suite = Suite(
        test_settings(tmp_path / "data", lease_margin=LEASE), extra_plugins=[Plugin(adapter)]
    )
    await suite.start()
    try:
        async with AsyncClient(suite.address) as client:
            await client.create_function(
                function_name="echo",
                runtime="python3.11",
                handler="index.handler",
                zip_file=zip_dir(FUNCTIONS / "echo"),
                environment={"Variables": {"RUNS_FILE": str(tmp_path / "runs.jsonl")}},
            )
            await client.put_function_event_invoke_config(
                function_name="echo",
                destination_config={
                    "OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:slow"}
                },
            )
            await client.invoke(function_name="echo", invocation_type="Event", payload=b"{}")
            await wait_for(lambda: adapter.done)
            await asyncio.sleep(LEASE * 2)  # time for a wrongly repeated attempt to show
    finally:
        await suite.stop(grace=1)
    assert len(adapter.attempts) == 1
    assert adapter.done == adapter.attempts
