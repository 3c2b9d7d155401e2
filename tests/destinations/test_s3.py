"""The ``s3`` adapter against moto_server (docs/aws-behaviour.md §4.2; checks 47–48): a failure
record is an object under ``aws/lambda/async/<fn>/YYYY/MM/DD/`` whose content is the record JSON; a
bucket is refused as OnSuccess when the config is put."""

from __future__ import annotations

import json
import re

import pytest
from destinations.harness import RECORD_KEYS, Aws, AwsRunning

from eventinvoke.client.errors import InvalidParameterValueException


async def test_failure_record_is_an_object_with_the_lambda_key_layout(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    bucket = await aws.bucket()
    await aws_suite.deploy_raiser("my-fn")
    await aws_suite.configure("my-fn", on_failure=f"arn:aws:s3:::{bucket}")

    request_id = await aws_suite.event("my-fn", b'{"error": "intentional failure"}')

    [(key, body)] = (await aws.objects(bucket, 1)).items()
    assert re.fullmatch(
        r"aws/lambda/async/my-fn/\d{4}/\d{2}/\d{2}/"
        r"\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}-[0-9a-f-]{36}",
        key,
    )
    record = json.loads(body)
    assert list(record) == RECORD_KEYS
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": aws_suite.function_arn("my-fn"),
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    # The date in the key is the record's (UTC).
    day, moment = record["timestamp"][:10], record["timestamp"][:19].replace(":", ".")
    assert key.split("/")[4:7] == day.split("-")
    assert key.split("/")[7].startswith(moment + "-")


async def test_a_bucket_is_refused_as_on_success(aws_suite: AwsRunning, aws: Aws) -> None:
    """Check 48."""
    bucket = f"arn:aws:s3:::{await aws.bucket()}"
    await aws_suite.deploy_raiser("fn")

    with pytest.raises(InvalidParameterValueException) as raised:
        await aws_suite.configure("fn", on_success=bucket)

    assert raised.value.message == (
        "The provided destination config "
        f"DestinationConfig(onSuccess=OnSuccess(destination={bucket}), "
        "onFailure=null) is invalid."
    )
