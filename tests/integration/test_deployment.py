"""Deployments as real processes: one service per process (the service-mesh shape), health and
reflection on every server, and SIGTERM draining in-flight work before the process exits."""

from __future__ import annotations

import collections
from pathlib import Path

import grpc
from conftest import FUNCTIONS, read_lines, wait_for, zip_dir
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from processes import SuiteProcess, free_port

from eventinvoke.client import AsyncClient

ENV = {
    "EVENTINVOKE_TIME_SCALE": "0.01",
    "EVENTINVOKE_LEASE_MARGIN": "2",
    "EVENTINVOKE_LOG_FORMAT": "json",
}
COLLECTOR_ARN = "arn:aws:lambda:us-east-1:000000000000:function:collector"


async def _deploy(client: AsyncClient, tmp_path: Path) -> tuple[Path, Path]:
    records, runs = tmp_path / "records.jsonl", tmp_path / "runs.jsonl"
    records.touch()
    runs.touch()
    await client.create_function(
        function_name="collector",
        runtime="python3.11",
        handler="index.handler",
        zip_file=zip_dir(FUNCTIONS / "collector"),
        environment={"Variables": {"COLLECT_FILE": str(records)}},
    )
    await client.create_function(
        function_name="flaky",
        runtime="python3.11",
        handler="index.handler",
        zip_file=zip_dir(FUNCTIONS / "flaky"),
        environment={"Variables": {"RUNS_FILE": str(runs)}},
    )
    await client.put_function_event_invoke_config(
        function_name="flaky",
        destination_config={
            "OnSuccess": {"Destination": COLLECTOR_ARN},
            "OnFailure": {"Destination": COLLECTOR_ARN},
        },
    )
    return records, runs


def _services(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        return set(ProtoReflectionDescriptorDatabase(channel).get_services())


async def test_one_service_per_process(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    invoker, executor, router = (f"127.0.0.1:{free_port()}" for _ in range(3))
    peers = ["--invoker-endpoint", invoker, "--executor-endpoint", executor]
    processes = [
        SuiteProcess(["serve", "router", *data, *peers], tmp_path / "router.log", ENV),
        SuiteProcess(["serve", "executor", *data, *peers], tmp_path / "executor.log", ENV),
        SuiteProcess(["serve", "invoker", *data, *peers], tmp_path / "invoker.log", ENV),
    ]
    try:
        for process, address in zip(processes, (router, executor, invoker), strict=True):
            process.start(address)
        assert "eventinvoke.v1.Invoker" in _services(invoker)
        assert "eventinvoke.v1.Invoker" not in _services(executor)
        assert {"eventinvoke.v1.Router", "grpc.health.v1.Health"} <= _services(router)

        async with AsyncClient(invoker) as client:
            records, _ = await _deploy(client, tmp_path)
            sync = await client.invoke(function_name="flaky", payload=b'{"mode": "ok"}')
            assert sync["StatusCode"] == 200 and b'"ok": true' in sync["Payload"]

            ok = await client.invoke(
                function_name="flaky", invocation_type="Event", payload=b'{"mode": "ok"}'
            )
            failing = await client.invoke(
                function_name="flaky", invocation_type="Event", payload=b'{"mode": "fail"}'
            )
            await wait_for(lambda: len(read_lines(records)) >= 2, timeout=30)
        conditions = {
            r["event"]["requestContext"]["requestId"]: r["event"]["requestContext"]["condition"]
            for r in read_lines(records)
        }
        assert conditions == {
            ok["ResponseMetadata"]["RequestId"]: "Success",
            failing["ResponseMetadata"]["RequestId"]: "RetriesExhausted",
        }
    finally:
        for process in processes:
            process.cleanup()


async def test_sigterm_drains_in_flight_events_then_exits(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    args = ["up", "--data-dir", str(tmp_path / "data"), "--http-listen", "127.0.0.1:0"]
    first = SuiteProcess(args, tmp_path / "first.log", ENV).start(listen)
    second = SuiteProcess(args, tmp_path / "second.log", ENV)
    try:
        async with AsyncClient(listen) as client:
            records, runs = await _deploy(client, tmp_path)
            accepted = []
            for _ in range(3):
                response = await client.invoke(
                    function_name="flaky",
                    invocation_type="Event",
                    payload=b'{"mode": "sleep", "seconds": 1}',
                )
                accepted.append(response["ResponseMetadata"]["RequestId"])
            await wait_for(lambda: len(read_lines(runs)) >= 3, timeout=20)

        assert first.terminate(timeout=30) == 0
        assert '"shutdown_requested"' in first.log()

        # Started again: the drained events were acked, so none runs a second time.
        second.start(listen)
        await wait_for(lambda: len(read_lines(records)) >= 3, timeout=30)
    finally:
        first.cleanup()
        second.cleanup()
    runs_per_request = collections.Counter(r["request_id"] for r in read_lines(runs))
    assert runs_per_request == {request_id: 1 for request_id in accepted}
