"""Recursive loop detection (issue #16 §5, docs/aws-behaviour.md §7): a chain of invocations
through function destinations is stopped at its 17th invocation, unless the function allows
loops, also when the Router carries the records to the Invoker over gRPC (where only the suite's
services may say where an event stands in its chain); the setting through gRPC, the gateway and
deploy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import read_lines, test_settings, wait_for
from gateway.harness import GatewaySuite, gateway, http

from eventinvoke.app import Suite
from eventinvoke.client import (
    AccessDeniedException,
    AsyncClient,
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)
from eventinvoke.core.auth import Credential
from eventinvoke.core.model import LINEAGE_METADATA, MAX_CHAIN_INVOCATIONS, Lineage
from eventinvoke.deploy import TemplateError, deploy
from eventinvoke.router.plugin import DEAD_LETTER, ON_FAILURE, Delivery, hookimpl
from eventinvoke.server.config import Auth
from eventinvoke.server.metrics import RECURSIVE_DROPPED
from eventinvoke.testing import RunningSuite, metric_value, running_suite

__all__ = ["gateway"]  # the fixture, for the gateway tests below

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"
FAILURES = "arn:aws:sqs:us-east-1:000000000000:failures-memo"
DEAD_LETTERS = "arn:aws:sqs:us-east-1:000000000000:dead-letters-memo"
# One line per run, small: the event (the previous record, nested) is not written.
COUNTING = (
    "import json, os\n"
    "def handler(event, context):\n"
    "    with open(os.environ['RUNS_FILE'], 'a') as f:\n"
    "        f.write(json.dumps({'request_id': context.aws_request_id}) + '\\n')\n"
)
BAD_VALUE = (
    "1 validation error detected: Value 'Sometimes' at 'recursiveLoop' failed to satisfy "
    "constraint: Member must satisfy enum value set: [Allow, Terminate]"
)


class MemoPlugin:
    """Keeps what reaches the ``*-memo`` queues, in memory: the test's OnFailure and DLQ."""

    def __init__(self) -> None:
        self.received: list[Delivery] = []

    @hookimpl
    def register_destinations(self, register: Any, context: Any) -> None:
        plugin = self

        class Memo:
            name = "memo"

            def claims(self, target: str) -> bool:
                return target.startswith("arn:aws:sqs:") and target.endswith("-memo")

            async def deliver(self, delivery: Delivery) -> None:
                plugin.received.append(delivery)

            async def close(self) -> None:
                pass

        register(Memo())

    def of_kind(self, kind: str) -> list[Delivery]:
        return [d for d in self.received if d.kind == kind]


@dataclass
class Loop:
    """A suite, the memo plugin, and two functions F and G, each the other's OnSuccess."""

    suite: RunningSuite
    memo: MemoPlugin
    runs: dict[str, Path]

    def total_runs(self) -> int:
        return sum(len(read_lines(path)) for path in self.runs.values())

    @property
    def dropped(self) -> float:
        """Invocations stopped by loop detection (AWS's RecursiveInvocationsDropped)."""
        return metric_value(self.suite.suite, RECURSIVE_DROPPED.name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    metrics = {"metrics_listen": "127.0.0.1:0"}  # to read RecursiveInvocationsDropped
    if request.param == "sqlite":
        return metrics
    return {"backend": request.getfixturevalue("postgres_url"), **metrics}


@pytest.fixture
async def loop(tmp_path: Path, backend_settings: dict[str, Any]) -> AsyncIterator[Loop]:
    memo = MemoPlugin()
    async with running_suite(tmp_path / "data", [memo], **backend_settings) as suite:
        runs = {name: tmp_path / f"{name}-runs.jsonl" for name in ("f", "g")}
        await deploy_counting(suite, runs)
        for name, other in (("f", "g"), ("g", "f")):
            await suite.set_destinations(
                name, on_success=f"{ACCOUNT_ARN}:{other}", on_failure=FAILURES
            )
        yield Loop(suite, memo, runs)


async def deploy_counting(suite: RunningSuite, runs: dict[str, Path]) -> None:
    """Each function counts its runs in its file, and has the memo DLQ."""
    for name, path in runs.items():
        path.touch()
        await suite.deploy(name, COUNTING, environment={"RUNS_FILE": str(path)})
        await suite.client.update_function_configuration(
            name, dead_letter_config={"TargetArn": DEAD_LETTERS}
        )


async def test_a_loop_is_stopped_at_its_17th_invocation_and_sent_to_on_failure_and_the_dlq(
    loop: Loop,
) -> None:
    request_id = await loop.suite.invoke_event("f", {"start": True})

    await wait_for(lambda: loop.memo.of_kind(ON_FAILURE) and loop.memo.of_kind(DEAD_LETTER))
    await asyncio.sleep(0.5)  # nothing runs after the stop

    # F ran 1st, 3rd ... 15th, G 2nd ... 16th: the 17th, F's, was stopped.
    assert len(read_lines(loop.runs["f"])) == len(read_lines(loop.runs["g"])) == 8
    assert loop.total_runs() == MAX_CHAIN_INVOCATIONS
    [failure] = loop.memo.of_kind(ON_FAILURE)
    record = failure.record.to_dict()
    assert failure.target == FAILURES
    assert record["requestContext"] == {
        "requestId": record["requestContext"]["requestId"],
        "functionArn": f"{ACCOUNT_ARN}:f:$LATEST",
        "condition": "RecursiveInvocationException",
        "approximateInvokeCount": 0,
    }
    assert "responseContext" not in record  # it never ran
    # Its event was G's success record, from the 16th invocation.
    assert record["requestPayload"]["requestContext"]["functionArn"] == f"{ACCOUNT_ARN}:g:$LATEST"
    assert failure.record.lineage is not None
    assert failure.record.lineage.chain_id == request_id
    assert failure.record.lineage.depth == MAX_CHAIN_INVOCATIONS + 1
    [dead_letter] = loop.memo.of_kind(DEAD_LETTER)
    assert dead_letter.target == DEAD_LETTERS
    assert dead_letter.record.request_payload == failure.record.request_payload
    assert loop.dropped == 1
    assert len(loop.memo.received) == 2


async def test_with_allow_the_loop_goes_on_past_16(loop: Loop) -> None:
    for name in ("f", "g"):
        answer = await loop.suite.client.put_function_recursion_config(name, "Allow")
        assert answer["RecursiveLoop"] == "Allow"

    await loop.suite.invoke_event("f", {"start": True})

    await wait_for(lambda: loop.total_runs() >= MAX_CHAIN_INVOCATIONS + 4, timeout=30)
    assert loop.dropped == 0
    assert loop.memo.received == []
    # The only way out of a loop allowed. (An event under way meanwhile may be stopped: its
    # function's setting goes with the function.)
    for name in ("f", "g"):
        await loop.suite.client.delete_function(name)


async def test_a_chain_started_again_by_a_client_starts_from_one(loop: Loop) -> None:
    """The count is per chain: two invokes of F are two chains, each stopped at its own 17th."""
    await loop.suite.invoke_event("f", {"first": True})
    await loop.suite.invoke_event("f", {"second": True})

    await wait_for(lambda: len(loop.memo.of_kind(ON_FAILURE)) == 2, timeout=30)
    await asyncio.sleep(0.5)

    assert loop.total_runs() == 2 * MAX_CHAIN_INVOCATIONS
    chains = {d.record.lineage.chain_id for d in loop.memo.of_kind(ON_FAILURE) if d.record.lineage}
    assert len(chains) == 2
    assert loop.dropped == 2


async def test_a_stopped_record_is_not_passed_to_a_function(
    tmp_path: Path, backend_settings: dict[str, Any]
) -> None:
    """F and G are each other's OnSuccess and OnFailure: passing the stopped record on to G
    would be the chain's next invocation, stopped in turn, and so on without end."""
    memo = MemoPlugin()
    async with running_suite(tmp_path / "data", [memo], **backend_settings) as suite:
        runs = {name: tmp_path / f"{name}-runs.jsonl" for name in ("f", "g")}
        await deploy_counting(suite, runs)
        for name, other in (("f", "g"), ("g", "f")):
            await suite.set_destinations(
                name, on_success=f"{ACCOUNT_ARN}:{other}", on_failure=f"{ACCOUNT_ARN}:{other}"
            )

        await suite.invoke_event("f")

        await wait_for(lambda: memo.of_kind(DEAD_LETTER))
        await asyncio.sleep(0.5)
        assert sum(len(read_lines(path)) for path in runs.values()) == MAX_CHAIN_INVOCATIONS
        assert len(memo.received) == 1
        assert metric_value(suite.suite, RECURSIVE_DROPPED.name, function_name="f") == 1


async def test_the_setting_over_grpc(loop: Loop) -> None:
    client = loop.suite.client

    assert (await client.get_function_recursion_config("f"))["RecursiveLoop"] == "Terminate"
    await client.put_function_recursion_config(f"{ACCOUNT_ARN}:f", "Allow")
    assert (await client.get_function_recursion_config("f"))["RecursiveLoop"] == "Allow"
    await client.put_function_recursion_config("f", "Terminate")
    assert (await client.get_function_recursion_config("f"))["RecursiveLoop"] == "Terminate"

    with pytest.raises(ValidationException) as bad:
        await client.put_function_recursion_config("f", "Sometimes")
    assert bad.value.message == BAD_VALUE
    with pytest.raises(ResourceNotFoundException) as missing:
        await client.get_function_recursion_config("nope")
    assert missing.value.message == f"Function not found: {ACCOUNT_ARN}:nope"

    # Deleting the function deletes its setting: a function created again has the default.
    await client.put_function_recursion_config("g", "Allow")
    await client.delete_function("g")
    await loop.suite.deploy("g")
    assert (await client.get_function_recursion_config("g"))["RecursiveLoop"] == "Terminate"


# --- the Router in a process of its own: records reach functions over gRPC ----------------------

ADMIN = ("AKIDLOOPADMIN", "loop-admin-secret")
SERVICE = ("AKIDLOOPSERVICE", "loop-service-secret")
CALLER = ("AKIDLOOPCALLER", "loop-caller-secret")
AUTH = Auth(
    (
        Credential(*ADMIN, "admin"),
        Credential(*SERVICE, "service"),
        Credential(*CALLER, "invoke"),
    )
)


@asynccontextmanager
async def split_deployment(
    data: Path, backend_settings: dict[str, Any], memo: MemoPlugin
) -> AsyncIterator[RunningSuite]:
    """The Invoker and an executor in one suite, the Router in another, on one backend, with
    credentials configured. The Router delivers records to functions through the lambda adapter,
    which invokes them on the Invoker over gRPC, signed with the ``service`` credential. The
    executor's suite does not load the lambda adapter, so that every record bound for a function
    takes that path (one takes it when queueing it as the function's event at settle time
    failed); the Router's suite has the memo plugin, the OnFailure and DLQ."""
    settings = {"auth": AUTH, **backend_settings}
    front = Suite(
        test_settings(data, disabled_destinations=("lambda",), **settings),
        roles=("invoker", "executor"),
    )
    await front.start()
    router = Suite(
        test_settings(data, invoker_endpoint=front.address, **settings),
        roles=("router",),
        extra_plugins=[memo],
    )
    try:
        await router.start()
        async with AsyncClient(front.address, credentials=ADMIN) as client:
            yield RunningSuite(front, client)
    finally:
        await router.stop(grace=1)
        await front.stop(grace=1)


async def test_a_loop_through_the_routers_grpc_hop_is_stopped_at_its_17th_invocation(
    tmp_path: Path, backend_settings: dict[str, Any]
) -> None:
    memo = MemoPlugin()
    async with split_deployment(tmp_path / "data", backend_settings, memo) as suite:
        runs = {name: tmp_path / f"{name}-runs.jsonl" for name in ("f", "g")}
        await deploy_counting(suite, runs)
        for name, other in (("f", "g"), ("g", "f")):
            await suite.set_destinations(
                name, on_success=f"{ACCOUNT_ARN}:{other}", on_failure=FAILURES
            )

        request_id = await suite.invoke_event("f", {"start": True})

        await wait_for(lambda: memo.of_kind(ON_FAILURE) and memo.of_kind(DEAD_LETTER), timeout=30)
        await asyncio.sleep(0.5)  # nothing runs after the stop
        dropped = metric_value(suite.suite, RECURSIVE_DROPPED.name)

    assert len(read_lines(runs["f"])) == len(read_lines(runs["g"])) == 8
    [failure] = memo.of_kind(ON_FAILURE)
    record = failure.record.to_dict()
    assert record["requestContext"]["condition"] == "RecursiveInvocationException"
    assert record["requestContext"]["functionArn"] == f"{ACCOUNT_ARN}:f:$LATEST"
    assert failure.record.lineage == Lineage(request_id, MAX_CHAIN_INVOCATIONS + 1)
    [dead_letter] = memo.of_kind(DEAD_LETTER)
    assert dead_letter.target == DEAD_LETTERS
    assert dropped == 1


async def test_only_the_suites_services_may_carry_a_chains_lineage(tmp_path: Path) -> None:
    """A caller with the ``invoke`` role cannot continue, reset or end a chain: an Invoke with
    the lineage metadata is refused, and the same Invoke without it is accepted. From the
    ``service`` and ``admin`` roles it is honoured: a lineage past the limit is stopped."""
    memo = MemoPlugin()
    async with split_deployment(tmp_path / "data", {}, memo) as suite:
        runs = {"f": tmp_path / "f-runs.jsonl"}
        await deploy_counting(suite, runs)
        await suite.set_destinations("f", on_failure=FAILURES)
        params = {"FunctionName": "f", "InvocationType": "Event", "Payload": b"{}"}
        forged = [(LINEAGE_METADATA, Lineage("a-chain-of-mine", 1).encode())]

        async with AsyncClient(suite.address, credentials=CALLER) as caller:
            with pytest.raises(AccessDeniedException) as refused:
                await caller.call("Invoke", params, forged)
            plain = await caller.call("Invoke", params)
        async with AsyncClient(suite.address, credentials=SERVICE) as service:
            with pytest.raises(InvalidParameterValueException) as malformed:
                await service.call("Invoke", params, [(LINEAGE_METADATA, "no-depth")])
            past_limit = Lineage("a-long-chain", MAX_CHAIN_INVOCATIONS + 1)
            await service.call("Invoke", params, [(LINEAGE_METADATA, past_limit.encode())])
            await wait_for(lambda: memo.of_kind(ON_FAILURE) and read_lines(runs["f"]))

    assert refused.value.message == (
        f"User: {CALLER[0]} is not authorized to perform: lambda:Invoke with "
        f"{LINEAGE_METADATA} (its role is invoke; the operation needs service)"
    )
    assert plain["StatusCode"] == 202
    assert malformed.value.message == (
        f"The {LINEAGE_METADATA} metadata is not <chain id>:<depth>."
    )
    assert len(read_lines(runs["f"])) == 1  # the caller's own invoke ran; the forged one never
    [stopped] = memo.of_kind(ON_FAILURE)
    assert stopped.record.lineage == past_limit
    assert stopped.record.condition == "RecursiveInvocationException"


# --- the gateway: AWS's REST route, the same answers as over gRPC ---------------------------------


def test_the_setting_over_http_and_grpc_alike(gateway: GatewaySuite) -> None:
    gateway.deploy("recursion-http", "echo")
    lambda_ = gateway.boto3_lambda()

    assert lambda_.get_function_recursion_config(FunctionName="recursion-http")[
        "RecursiveLoop"
    ] == ("Terminate")
    put = lambda_.put_function_recursion_config(
        FunctionName="recursion-http", RecursiveLoop="Allow"
    )
    assert put["RecursiveLoop"] == "Allow"
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert gateway.client.get_function_recursion_config("recursion-http")["RecursiveLoop"] == (
        "Allow"
    )

    with pytest.raises(ClientError) as over_http:
        lambda_.put_function_recursion_config(
            FunctionName="recursion-http", RecursiveLoop="Sometimes"
        )
    with pytest.raises(ValidationException) as over_grpc:
        gateway.client.put_function_recursion_config("recursion-http", "Sometimes")
    error = over_http.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationException", BAD_VALUE)
    assert over_http.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert over_grpc.value.message == BAD_VALUE

    with pytest.raises(ClientError) as missing:
        lambda_.get_function_recursion_config(FunctionName="recursion-nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


async def test_the_gateway_passes_no_lineage_header_on(gateway: GatewaySuite) -> None:
    """The gateway calls the Invoker as the suite's service: a lineage among an HTTP request's
    headers must not ride along, or any HTTP caller could end (or reset) a chain."""
    collected = gateway.collector("lineage-over-http")
    past_limit = Lineage("a-forged-chain", MAX_CHAIN_INVOCATIONS + 1).encode()

    answer = await http(
        gateway.url,
        "POST",
        "/2015-03-31/functions/lineage-over-http/invocations",
        b'{"forged": true}',
        {"X-Amz-Invocation-Type": "Event", LINEAGE_METADATA: past_limit},
    )

    assert answer.status == 202
    [ran] = await wait_for(lambda: read_lines(collected))  # run, not stopped
    assert ran["event"] == {"forged": True}


# --- deploy: a template's RecursiveLoop ----------------------------------------------------------

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: loop-plain
      Runtime: python3.11
      Handler: index.handler
      Code:
        ZipFile: "def handler(event, context):\\n    return event\\n"
      RecursiveLoop: {plain}
  Serverless:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: loop-serverless
      Runtime: python3.11
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return event\\n"
      RecursiveLoop: Allow
"""


async def test_deploy_applies_a_templates_recursive_loop(loop: Loop, tmp_path: Path) -> None:
    client = loop.suite.client
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(plain="Allow"))

    await deploy(client, template, stack_name="loops")

    for name in ("loop-plain", "loop-serverless"):
        assert (await client.get_function_recursion_config(name))["RecursiveLoop"] == "Allow"

    template.write_text(TEMPLATE.format(plain="Terminate"))
    changed = await deploy(client, template, stack_name="loops")

    assert {r.logical_id: r.action for r in changed.resources}["Plain"] == "Modify"
    plain = await client.get_function_recursion_config("loop-plain")
    assert plain["RecursiveLoop"] == "Terminate"


async def test_deploy_refuses_a_recursive_loop_not_in_the_enum(loop: Loop, tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(plain="Sometimes"))

    with pytest.raises(TemplateError) as refused:
        await deploy(loop.suite.client, template, stack_name="loops")

    assert "#/RecursiveLoop: Sometimes is not one of [Allow, Terminate]" in str(refused.value)
    with pytest.raises(ResourceNotFoundException):
        await loop.suite.client.get_function("loop-plain")
