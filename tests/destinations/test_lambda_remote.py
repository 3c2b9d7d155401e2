"""A Lambda destination outside this suite (docs/aws-behaviour.md §4.2): when the function's ARN is
not ours (here another region) and a remote Lambda is configured, the ``lambda`` adapter sends the
record with AWS Lambda's ``Invoke`` (``InvocationType=Event``), here to moto_server's Lambda.

The Invoker accepts such a destination at configuration time only when an adapter delivers there
(a remote Lambda is configured); otherwise it is check 22's "The destination ARN ... is invalid."
moto runs without Docker
(``use_docker: false``): it answers an Event invoke with 202 without running code, so the call
is observed on moto's access log; a function moto does not know is a permanent
``ResourceNotFoundException``.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import wait_for
from destinations.harness import ACCOUNT, Aws, MotoServer

from eventinvoke.client.errors import InvalidParameterValueException
from eventinvoke.core.arn import Partition
from eventinvoke.destinations.lambda_ import LambdaDestination
from eventinvoke.router.plugin import (
    ON_SUCCESS,
    Delivery,
    ExecutionRecord,
    PermanentDeliveryError,
    RouterContext,
)

REMOTE_REGION = "us-west-2"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


async def _remote_function(aws: Aws) -> str:
    name = aws.unique("remote")
    role = await aws.call(
        aws.iam.create_role,
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    created = await aws.call(
        aws.lambda_west.create_function,
        FunctionName=name,
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": _zip()},
    )
    return str(created["FunctionArn"])


def _event_invokes(moto: MotoServer, name: str) -> list[str]:
    """moto's access-log lines for Invoke calls on ``name`` answered 202."""
    return [
        line
        for line in moto.log().splitlines()
        if "/2015-03-31/functions/" in line
        and name in line
        and "/invocations" in line
        and '" 202 ' in line
    ]


def _delivery(target: str) -> Delivery:
    record = ExecutionRecord(
        request_id=str(uuid.uuid4()),
        function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST",
        condition="Success",
        approximate_invoke_count=1,
        request_payload=b'{"hello": "world"}',
        timestamp=datetime.now(UTC),
        executed_version="$LATEST",
        response_payload=b'{"ok": true}',
    )
    return Delivery(str(uuid.uuid4()), target, ON_SUCCESS, record)


def _adapter(settings: dict[str, Any]) -> LambdaDestination:
    # No Invoker: a call to the suite's own Invoker would fail the test.
    context = RouterContext(
        Partition(),
        invoker=None,  # type: ignore[arg-type]
        settings={"lambda": settings},
    )
    return LambdaDestination(context)


@pytest.mark.parametrize("configured_by", ["settings", "sdk_variable"])
async def test_a_foreign_function_is_invoked_on_the_remote_lambda(
    aws_environment: dict[str, str],
    aws: Aws,
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    configured_by: str,
) -> None:
    """The adapter as the Router calls it: one Event Invoke reaches moto's Lambda (202)."""
    remote = await _remote_function(aws)
    if configured_by == "settings":
        adapter = _adapter({"remote_endpoint_url": moto.endpoint})
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", moto.endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # not used for Lambda
        adapter = _adapter({})
    try:
        await adapter.deliver(_delivery(remote))
    finally:
        await adapter.close()

    name = remote.rsplit(":", 1)[-1]
    assert len(_event_invokes(moto, name)) == 1, moto.log()[-3000:]


async def test_a_missing_remote_function_is_a_permanent_failure(
    aws_environment: dict[str, str], aws: Aws, moto: MotoServer
) -> None:
    missing = f"arn:aws:lambda:{REMOTE_REGION}:{ACCOUNT}:function:{aws.unique('missing')}"
    adapter = _adapter({"remote_endpoint_url": moto.endpoint})
    # moto's Docker-less Lambda answers 202 for any name; its full one looks the function up
    # (and would need Docker only to run one that exists).
    moto.post("/moto-api/config", {"lambda": {"use_docker": True}})
    try:
        with pytest.raises(PermanentDeliveryError) as raised:
            await adapter.deliver(_delivery(missing))
    finally:
        moto.post("/moto-api/config", {"lambda": {"use_docker": False}})
        await adapter.close()
    assert str(raised.value).startswith(f"{missing}: ResourceNotFoundException")


async def test_without_a_remote_lambda_a_foreign_function_is_not_invoked_remotely(
    aws_environment: dict[str, str], aws: Aws, moto: MotoServer
) -> None:
    """No remote configured (AWS_ENDPOINT_URL alone does not count): the suite's Invoker is
    asked, and here there is none, so the call fails before reaching moto."""
    remote = await _remote_function(aws)
    adapter = _adapter({})
    try:
        with pytest.raises(AttributeError):
            await adapter.deliver(_delivery(remote))
    finally:
        await adapter.close()
    assert _event_invokes(moto, remote.rsplit(":", 1)[-1]) == []


async def test_a_configured_suite_accepts_and_delivers_to_a_foreign_function(
    start_suite: Any, aws: Aws, moto: MotoServer
) -> None:
    """End to end: with a remote Lambda set up, OnSuccess may name another region's function,
    and the record reaches it as an Event invoke."""
    remote = await _remote_function(aws)
    suite = await start_suite(destinations={"lambda": {"remote_endpoint_url": moto.endpoint}})
    await suite.deploy_raiser("local")
    await suite.configure("local", on_success=remote)

    await suite.event("local", b"{}")

    name = remote.rsplit(":", 1)[-1]
    await wait_for(lambda: len(_event_invokes(moto, name)) == 1)
    assert suite.metrics == {}


async def test_without_a_remote_lambda_a_foreign_destination_is_refused(
    start_suite: Any, aws: Aws
) -> None:
    remote = await _remote_function(aws)
    suite = await start_suite()
    await suite.deploy_raiser("local")
    with pytest.raises(InvalidParameterValueException) as raised:
        await suite.configure("local", on_success=remote)
    assert raised.value.message == f"The destination ARN {remote} is invalid."
