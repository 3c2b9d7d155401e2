"""Destination adapters load from the entry point group, can be disabled by name, and a plugin
registered like a third-party one receives records from the real suite."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from conftest import FUNCTIONS, read_lines, test_settings, wait_for, zip_dir

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient
from eventinvoke.core.arn import Partition
from eventinvoke.router.plugin import Delivery, PermanentDeliveryError, RouterContext, hookimpl
from eventinvoke.router.registry import Destinations

CONTEXT = RouterContext(Partition(), invoker=None)  # type: ignore[arg-type]
LAMBDA_ARN = "arn:aws:lambda:us-east-1:000000000000:function:target"


def test_builtin_lambda_adapter_comes_from_the_entry_point_group() -> None:
    destinations = Destinations.load(CONTEXT)
    adapter = destinations.adapter_for(LAMBDA_ARN)
    assert adapter is not None and adapter.name == "lambda"
    assert destinations.adapter_for("arn:aws:iam::000000000000:role/x") is None
    assert "eventinvoke" in {
        dist.project_name for _, dist in destinations.manager.list_plugin_distinfo()
    }


def test_a_disabled_adapter_is_not_loaded() -> None:
    destinations = Destinations.load(CONTEXT, disabled=["lambda"])
    assert destinations.adapter_for(LAMBDA_ARN) is None
    assert destinations.manager.is_blocked("lambda")


class RecordingPlugin:
    """A plugin as a third party writes it: claims memo:// targets and keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[Delivery] = []

    @hookimpl
    def register_destinations(self, register):  # type: ignore[no-untyped-def]
        plugin = self

        class Memo:
            name = "memo"

            def claims(self, target: str) -> bool:
                return target.startswith("arn:aws:sqs:") and target.endswith("memo")

            async def deliver(self, delivery: Delivery) -> None:
                if target_is_refused(delivery.target):
                    raise PermanentDeliveryError("queue refuses records")
                plugin.received.append(delivery)

            async def close(self) -> None:
                pass

        register(Memo())


def target_is_refused(target: str) -> bool:
    return ":refused-" in target


async def test_a_registered_plugin_receives_records_and_permanent_failures_are_kept(
    tmp_path: Path,
) -> None:
    plugin = RecordingPlugin()
    suite = Suite(test_settings(tmp_path / "data"), extra_plugins=[plugin])
    await suite.start()
    runs = tmp_path / "runs.jsonl"
    runs.touch()
    try:
        async with AsyncClient(suite.address) as client:
            await client.create_function(
                function_name="flaky",
                runtime="python3.11",
                handler="index.handler",
                zip_file=zip_dir(FUNCTIONS / "flaky"),
                environment={"Variables": {"RUNS_FILE": str(runs)}},
            )
            await client.put_function_event_invoke_config(
                function_name="flaky",
                maximum_retry_attempts=0,
                destination_config={
                    "OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:memo"},
                    "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:refused-memo"},
                },
            )
            ok = await client.invoke(
                function_name="flaky", invocation_type="Event", payload=b'{"mode": "ok"}'
            )
            await wait_for(lambda: plugin.received)
            [delivery] = plugin.received
            assert delivery.kind == "OnSuccess"
            assert delivery.record.request_id == ok["ResponseMetadata"]["RequestId"]
            assert json.loads(delivery.record.to_json())["requestContext"]["condition"] == "Success"

            failed = await client.invoke(
                function_name="flaky", invocation_type="Event", payload=b'{"mode": "fail"}'
            )

            for _ in range(200):
                found = (await client.list_failed_deliveries())["FailedDeliveries"]
                if found:
                    break
                await asyncio.sleep(0.05)
            [entry] = found
            assert entry["Reason"] == "memo: queue refuses records"
            assert (
                entry["Record"]["requestContext"]["requestId"]
                == failed["ResponseMetadata"]["RequestId"]
            )
            assert entry["Record"]["requestContext"]["condition"] == "RetriesExhausted"
            assert len(read_lines(runs)) == 2
    finally:
        await suite.stop(grace=1)
