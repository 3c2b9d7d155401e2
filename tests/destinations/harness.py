"""The AWS side of the destination tests: moto_server as its own process, boto3 clients to make
queues, topics, buses and buckets and to read what arrived, and the suite pointed at it.

Imported by ``tests/destinations/conftest.py`` and the tests as ``destinations.harness``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from conftest import Running, zip_dir
from processes import free_port

from eventinvoke.server.metrics import DEAD_LETTER_ERRORS, DESTINATION_FAILURES
from eventinvoke.testing import metric_value

REGION = "us-east-1"
# moto answers every request as this account (MOTO_ACCOUNT_ID), the suite's own partition
# account: ARNs the tests build for moto's resources and the suite's functions line up.
ACCOUNT = "000000000000"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
FUNCTIONS = Path(__file__).parent / "functions"
RECORD_KEYS = [
    "version",
    "timestamp",
    "requestContext",
    "requestPayload",
    "responseContext",
    "responsePayload",
]


class MotoServer:
    """``moto_server -p PORT -H 127.0.0.1`` in its own process, its log (the access log) kept."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> MotoServer:
        executable = Path(sys.executable).with_name("moto_server")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(executable), "-p", str(self.port), "-H", "127.0.0.1"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "MOTO_ACCOUNT_ID": ACCOUNT},
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        # Lambda without Docker: an Invoke is answered (Event: 202) without running anything.
        self.post("/moto-api/config", {"lambda": {"use_docker": False}})
        return self

    def post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.endpoint + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5):
            pass

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass(frozen=True)
class Queue:
    name: str
    url: str
    arn: str


class Aws:
    """boto3 clients on moto_server; every call runs on a thread so the suite's loop runs on."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        make = partial(session.client, endpoint_url=endpoint)
        self.sqs = make("sqs")
        self.sns = make("sns")
        self.events = make("events")
        self.s3 = make("s3")
        self.lambda_ = make("lambda")
        self.lambda_west = make("lambda", region_name="us-west-2")
        self.iam = make("iam")

    @staticmethod
    def unique(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    async def call(self, method: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(method, **kwargs)

    # --- SQS ---

    async def queue(self, prefix: str = "q", fifo: bool = False) -> Queue:
        name = self.unique(prefix) + (".fifo" if fifo else "")
        attributes = {"FifoQueue": "true"} if fifo else {}
        created = await self.call(self.sqs.create_queue, QueueName=name, Attributes=attributes)
        return Queue(name, created["QueueUrl"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")

    async def messages(
        self, queue: Queue, count: int, timeout: float = 15.0, settle: float = 0.5
    ) -> list[dict[str, Any]]:
        """Wait for ``count`` messages, then ``settle`` seconds for any surplus; return all."""
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} messages expected on {queue.name}, got {received}")
            received += await self._receive(queue)
            if len(received) < count:
                await asyncio.sleep(0.05)
        settled = time.monotonic() + settle
        while time.monotonic() < settled:
            received += await self._receive(queue)
            await asyncio.sleep(0.05)
        return received

    async def _receive(self, queue: Queue) -> list[dict[str, Any]]:
        response = await self.call(
            self.sqs.receive_message,
            QueueUrl=queue.url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return list(response.get("Messages", []))

    # --- SNS: a topic observed through an SQS subscription (raw delivery off) ---

    async def topic_to_queue(self) -> tuple[str, Queue]:
        topic = await self.call(self.sns.create_topic, Name=self.unique("topic"))
        queue = await self.queue("topic-sub")
        await self.call(
            self.sns.subscribe, TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=queue.arn
        )
        return topic["TopicArn"], queue

    # --- EventBridge: a bus observed through a rule with an SQS target ---

    async def bus_to_queue(self) -> tuple[str, Queue]:
        name = self.unique("bus")
        bus = await self.call(self.events.create_event_bus, Name=name)
        queue = await self.queue("bus-target")
        rule = self.unique("rule")
        await self.call(
            self.events.put_rule,
            Name=rule,
            EventBusName=name,
            EventPattern=json.dumps({"source": ["lambda"]}),
        )
        await self.call(
            self.events.put_targets,
            Rule=rule,
            EventBusName=name,
            Targets=[{"Id": "queue", "Arn": queue.arn}],
        )
        return bus["EventBusArn"], queue

    # --- S3 ---

    async def bucket(self) -> str:
        name = self.unique("bucket")
        await self.call(self.s3.create_bucket, Bucket=name)
        return name

    async def objects(self, bucket: str, count: int, timeout: float = 15.0) -> dict[str, bytes]:
        deadline = time.monotonic() + timeout
        while True:
            listed = await self.call(self.s3.list_objects_v2, Bucket=bucket)
            keys = [o["Key"] for o in listed.get("Contents", [])]
            if len(keys) >= count:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} objects expected in {bucket}, got {keys}")
            await asyncio.sleep(0.05)
        bodies = {}
        for key in keys:
            got = await self.call(self.s3.get_object, Bucket=bucket, Key=key)
            bodies[key] = await asyncio.to_thread(got["Body"].read)
        return bodies


class AwsRunning(Running):
    """A started suite whose Router reaches moto_server, with a few helpers of its own."""

    async def deploy_raiser(
        self, name: str, dead_letter_target: str | None = None, runs: Path | None = None
    ) -> dict[str, Any]:
        """The raiser: fails with the event's ``error`` text, else returns ``{"ok": true}``."""
        return await self.client.create_function(
            function_name=name,
            runtime="python3.11",
            handler="index.handler",
            zip_file=zip_dir(FUNCTIONS / "raiser"),
            environment={"Variables": {"RUNS_FILE": str(runs)}} if runs else None,
            dead_letter_config={"TargetArn": dead_letter_target} if dead_letter_target else None,
        )

    async def configure(
        self,
        name: str,
        on_success: str | None = None,
        on_failure: str | None = None,
        retries: int = 0,
    ) -> None:
        destinations = {}
        if on_success:
            destinations["OnSuccess"] = {"Destination": on_success}
        if on_failure:
            destinations["OnFailure"] = {"Destination": on_failure}
        await self.client.put_function_event_invoke_config(
            function_name=name, maximum_retry_attempts=retries, destination_config=destinations
        )

    async def event(self, name: str, payload: bytes) -> str:
        """An Event invoke; returns its request id."""
        response = await self.client.invoke(
            function_name=name, invocation_type="Event", payload=payload
        )
        assert response["StatusCode"] == 202
        return str(response["ResponseMetadata"]["RequestId"])

    async def failed_deliveries(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Wait for ``count`` entries in the failed-delivery store; fail on more or fewer."""
        deadline = time.monotonic() + timeout
        while True:
            found = (await self.client.list_failed_deliveries())["FailedDeliveries"]
            if len(found) >= count:
                await asyncio.sleep(0.3)
                found = (await self.client.list_failed_deliveries())["FailedDeliveries"]
                assert len(found) == count, found
                return list(found)
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} failed deliveries expected, got {found}")
            await asyncio.sleep(0.05)

    @property
    def metrics(self) -> dict[str, float]:
        """The Router's counts by AWS's metric names, those above 0 (all functions summed)."""
        counts = {
            spec.aws: metric_value(self.suite, spec.name)
            for spec in (DESTINATION_FAILURES, DEAD_LETTER_ERRORS)
        }
        return {name: count for name, count in counts.items() if count}

    def function_arn(self, name: str, qualifier: str = "$LATEST") -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:{qualifier}"


# ``start_suite(**overrides)``: a started suite with ``test_settings`` overrides.
StartSuite = Callable[..., Awaitable[AwsRunning]]
