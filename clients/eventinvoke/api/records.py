"""The execution record as destinations receive it (docs/aws-behaviour.md §4.1), read from its
protobuf message: AWS's own format (camelCase, payloads as JSON), not a model shape."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from google.protobuf import timestamp_pb2

from eventinvoke.v1 import record_pb2


def iso_milliseconds(value: timestamp_pb2.Timestamp) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as records carry their times."""
    moment = value.ToDatetime(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def json_or_text(data: bytes) -> Any:
    # Payloads are kept as bytes on the wire; bytes that are not JSON stay visible as text.
    if not data:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's stack
        return data.decode("utf-8", "replace")


def execution_record_to_dict(record: record_pb2.ExecutionRecord) -> dict[str, Any]:
    """The record exactly as destinations receive it."""
    context = record.request_context
    result: dict[str, Any] = {
        "version": record.version,
        "timestamp": iso_milliseconds(record.timestamp) if record.HasField("timestamp") else "",
        "requestContext": {
            "requestId": context.request_id,
            "functionArn": context.function_arn,
            "condition": context.condition,
            "approximateInvokeCount": context.approximate_invoke_count,
        },
        "requestPayload": json_or_text(record.request_payload),
    }
    if record.HasField("response_context"):
        response: dict[str, Any] = {
            "statusCode": record.response_context.status_code,
            "executedVersion": record.response_context.executed_version,
        }
        if record.response_context.HasField("function_error"):
            response["functionError"] = record.response_context.function_error
        result["responseContext"] = response
    if record.HasField("response_payload"):
        result["responsePayload"] = json_or_text(record.response_payload)
    return result
